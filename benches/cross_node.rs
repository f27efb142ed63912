//! Cross-node broadcast throughput: two nodes in this process, each with its own Redis-backed PubSub and
//! Redis connections; node A broadcasts, N subscribers on node B receive. Reports broadcasts/s and
//! deliveries/s (broadcasts × subscribers) at node B.
//!
//! ```text
//! cargo bench --bench cross_node                       # the default set, about 20 s
//! cargo bench --bench cross_node -- --subscribers 5000 --seconds 10 --websocket
//! REDIS_URL=redis://10.0.0.5:6379 cargo bench --bench cross_node
//! ```
//!
//! Two kinds of subscribers:
//! - `queues`: [`PubSub::subscribe`] queues, each drained by a task: the cross-node path and the receiving
//!   node's dispatch;
//! - `websocket`: V2 WebSocket clients joined to a channel on node B, reading over TCP in this process: the
//!   whole path, frame encoding and socket writes included (the clients compete for the same 2 cores).
//!
//! The publisher keeps at most a window of broadcasts ahead of the slowest subscriber, so the figures are
//! sustained throughput with nothing dropped (a run that drops anything says so), not the speed of filling
//! queues.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use channels::channel::{Channel, ChannelSocket, HandleResult, JoinResult};
use channels::endpoint::Endpoint;
use channels::payload::Payload;
use channels::pubsub::{PubSub, RedisConfig};
use channels::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket, SocketConfig};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// Broadcasts the publisher may be ahead of the slowest subscriber.
const WINDOW: u64 = 256;
/// Measured runs are preceded by this much unmeasured traffic.
const WARM_UP: Duration = Duration::from_millis(500);
const TOPIC: &str = "bench:room";

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Queues,
    WebSocket,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Queues => "queues",
            Kind::WebSocket => "websocket",
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)?.parse::<u64>().ok());
    let seconds = Duration::from_secs(value("--seconds").unwrap_or(3));
    let runs: Vec<(Kind, u64)> = match value("--subscribers") {
        Some(n) if args.iter().any(|a| a == "--websocket") => vec![(Kind::WebSocket, n)],
        Some(n) => vec![(Kind::Queues, n)],
        None => vec![(Kind::Queues, 1), (Kind::Queues, 100), (Kind::Queues, 1000), (Kind::WebSocket, 100)],
    };
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        println!("cross-node broadcast over Redis at {url}: node A broadcasts, node B's subscribers receive");
        println!(
            "{:<10} {:>12} {:>14} {:>16} {:>10}",
            "kind", "subscribers", "broadcasts/s", "deliveries/s", "dropped"
        );
        for (kind, subscribers) in runs {
            let r = run(&url, kind, subscribers as usize, seconds).await;
            println!(
                "{:<10} {:>12} {:>14.0} {:>16.0} {:>10}",
                kind.name(),
                subscribers,
                r.broadcasts as f64 / r.elapsed.as_secs_f64(),
                (r.broadcasts * subscribers) as f64 / r.elapsed.as_secs_f64(),
                r.dropped
            );
        }
    });
}

struct Outcome {
    broadcasts: u64,
    elapsed: Duration,
    /// Broadcasts node A could not publish, plus deliveries node B's subscribers never saw.
    dropped: u64,
}

/// One subscriber's count of received broadcasts, on a cache line of its own so that counting does not make
/// the cores fight over lines.
#[repr(align(64))]
#[derive(Default)]
struct Counter(AtomicU64);

async fn run(url: &str, kind: Kind, subscribers: usize, seconds: Duration) -> Outcome {
    let channel = format!("channels-bench:{}:{}:{subscribers}", std::process::id(), kind.name());
    let node = |name: &str| {
        let config = RedisConfig::new(url).node_name(name).channel(&channel);
        async move { PubSub::redis(config).await.unwrap_or_else(|e| panic!("the benchmark needs Redis: {e}")) }
    };
    let a = node("a").await;
    let b = node("b").await;
    let counters: Arc<Vec<Counter>> = Arc::new((0..subscribers).map(|_| Counter::default()).collect());

    // Stopped after the run: the queue readers (their subscriptions keep node B alive) or the endpoint
    // serving node B's clients.
    let mut readers = Vec::new();
    let mut endpoint = None;
    match kind {
        Kind::Queues => {
            for (i, mut sub) in (0..subscribers).map(|_| b.subscribe(TOPIC, 4 * WINDOW as usize)).enumerate() {
                let counters = counters.clone();
                readers.push(tokio::spawn(async move {
                    while sub.recv().await.is_some() {
                        counters[i].0.fetch_add(1, Ordering::Relaxed);
                    }
                }));
            }
        }
        Kind::WebSocket => {
            let ep =
                Endpoint::builder().pubsub(b.clone()).socket::<BenchSocket>("/socket", SocketConfig::default()).build();
            let server = ep.bind("127.0.0.1:0").await.unwrap();
            let addr = server.local_addr().unwrap();
            tokio::spawn(server.run());
            for i in 0..subscribers {
                join_client(&format!("ws://{addr}/socket/websocket?vsn=2.0.0"), counters.clone(), i).await;
            }
            endpoint = Some(ep);
        }
    }

    let payload = Payload::json(&serde_json::json!({"body": "x".repeat(64)}));
    let mut sent = 0;
    // Until node B hears node A (its subscription is live once `PubSub::redis` returns, but the first
    // broadcasts may race it), then warm up, then measure.
    let deadline = Instant::now() + Duration::from_secs(10);
    while slowest(&counters) == 0 {
        assert!(Instant::now() < deadline, "node B never received node A's broadcasts");
        a.broadcast(TOPIC, "msg", payload.clone());
        sent += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sent = publish_for(&a, &payload, &counters, sent, WARM_UP).await;
    let (start_count, start) = (slowest(&counters), Instant::now());
    sent = publish_for(&a, &payload, &counters, sent, seconds).await;
    let (end_count, elapsed) = (slowest(&counters), start.elapsed());

    // Let the last window drain, then count what never arrived.
    let deadline = Instant::now() + Duration::from_secs(5);
    while total(&counters) < sent * subscribers as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let missing = (sent * subscribers as u64).saturating_sub(total(&counters));
    readers.iter().for_each(tokio::task::JoinHandle::abort);
    if let Some(endpoint) = endpoint {
        endpoint.shutdown();
    }
    Outcome { broadcasts: end_count - start_count, elapsed, dropped: a.dropped() + missing }
}

/// Broadcasts from node A for `duration`, never more than [`WINDOW`] ahead of the slowest subscriber.
async fn publish_for(a: &PubSub, payload: &Payload, counters: &[Counter], mut sent: u64, duration: Duration) -> u64 {
    let end = Instant::now() + duration;
    while Instant::now() < end {
        while sent - slowest(counters) >= WINDOW {
            tokio::task::yield_now().await;
            if Instant::now() >= end {
                return sent;
            }
        }
        a.broadcast(TOPIC, "msg", payload.clone());
        sent += 1;
    }
    sent
}

fn slowest(counters: &[Counter]) -> u64 {
    counters.iter().map(|c| c.0.load(Ordering::Relaxed)).min().unwrap_or(0)
}

fn total(counters: &[Counter]) -> u64 {
    counters.iter().map(|c| c.0.load(Ordering::Relaxed)).sum()
}

/// Connects a V2 client, joins [`TOPIC`], and counts every frame after the join's reply on `counters[i]`.
async fn join_client(url: &str, counters: Arc<Vec<Counter>>, i: usize) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("connect to node B");
    ws.send(Message::text(format!(r#"["1","1","{TOPIC}","phx_join",{{}}]"#))).await.unwrap();
    match ws.next().await {
        Some(Ok(Message::Text(reply))) if reply.contains(r#""status":"ok""#) => {}
        other => panic!("join failed: {other:?}"),
    }
    tokio::spawn(async move {
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Text(_) = message {
                counters[i].0.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
}

struct BenchSocket;

impl Socket for BenchSocket {
    async fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> {
        Ok(BenchSocket)
    }

    fn channels() -> Router<Self> {
        Router::new().channel::<Room>("bench:*")
    }
}

struct Room;

impl Channel for Room {
    type Socket = BenchSocket;
    type Info = ();

    async fn join(_: &str, _: Payload, _: &mut ChannelSocket<Self>) -> JoinResult<Self> {
        JoinResult::ok(Room)
    }

    async fn handle_in(&mut self, _: &str, _: Payload, _: &mut ChannelSocket<Self>) -> HandleResult {
        HandleResult::NoReply
    }
}
