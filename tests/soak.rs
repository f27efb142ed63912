//! Churn soak: 2,000 clients connect, join, chat, leave and disconnect, round after round, against the
//! `conformance` example. Every delivery must arrive, and the server's memory must stay flat after warm-up.
//!
//! `SOAK_SECS` sets the duration (default 60; BENCHMARKS.md records a 10-minute run).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Barrier, Semaphore};

use support::process::ServerProcess;
use support::ws::{Client, Frame};

const CLIENTS: usize = 2000;
const GROUP: usize = 10;
const CONNECT_CONCURRENCY: usize = 200;

/// One client's life: connect, join its group's topic, wait for the group, broadcast once, receive the
/// group's broadcasts, leave, disconnect. Returns how many broadcasts it received.
async fn client_life(url: String, round: usize, id: usize, gate: Arc<Semaphore>, joined: Arc<Barrier>) -> usize {
    let topic = format!("test:soak-{round}-{}", id / GROUP);
    // Bounds how many handshakes are in flight, not how many clients live.
    let permit = gate.acquire_owned().await.unwrap();
    let mut c = Client::connect(&url).await;
    c.join("1", &topic, "{}", &format!(r#"{{"topic":"{topic}"}}"#)).await;
    drop(permit);
    joined.wait().await;
    c.send_text(&format!(r#"["1","2","{topic}","broadcast",{{"from":{id}}}]"#)).await;
    let mut received = 0;
    while received < GROUP {
        match c.recv_timeout(Duration::from_secs(10)).await {
            Frame::Text(t) if t.contains("broadcasted") => received += 1,
            Frame::Text(_) => {}
            other => panic!("client {id} of round {round}: {}", other.describe()),
        }
    }
    c.send_text(&format!(r#"["1","3","{topic}","phx_leave",{{}}]"#)).await;
    c.close().await;
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_keeps_every_delivery_and_flat_memory() {
    let secs: u64 = std::env::var("SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    // Connection logs would cost more than the connections; keep the line that says the server is ready.
    let server = ServerProcess::start_with_env("conformance", &[("RUST_LOG", "warn,channels_runtime::endpoint=info")]);
    let url = server.ws_url("vsn=2.0.0");
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut samples = Vec::new();
    let mut round = 0;
    let (mut expected, mut delivered) = (0usize, 0usize);
    while round < 3 || Instant::now() < deadline {
        let joined = Arc::new(Barrier::new(CLIENTS));
        let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for id in 0..CLIENTS {
            tasks.spawn(client_life(url.clone(), round, id, gate.clone(), joined.clone()));
        }
        while let Some(received) = tasks.join_next().await {
            delivered += received.expect("a client task panicked");
            expected += GROUP;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        samples.push(server.rss_kib());
        round += 1;
    }
    assert_eq!(delivered, expected, "lost deliveries");
    // Warm-up: the first rounds grow the allocator's pools; after that, memory must not keep growing.
    let warm = samples[1];
    let last = *samples.last().unwrap();
    println!("{round} rounds of {CLIENTS} clients, {delivered} deliveries; RSS KiB per round: {samples:?}");
    assert!(last <= warm + warm / 5 + 4096, "RSS grew from {warm} KiB after warm-up to {last} KiB: {samples:?}");
}
