//! PubSub over Redis: several server processes behind a load balancer share their broadcasts, as Phoenix.PubSub
//! does with its Redis adapter.
//!
//! - Every node SUBSCRIBEs to one Redis channel and PUBLISHes there, once, each broadcast that must leave it,
//!   in the [`envelope`] format. Receivers skip their own broadcasts and direct messages meant for another node,
//!   and hand the rest to their local registry, which encodes them once per serializer for its subscribers.
//! - Publishing never waits on Redis: a broadcast is encoded on the caller's task and put in a bounded queue;
//!   one task drains it and sends each batch as one pipeline over a multiplexed connection. A full queue, or a
//!   publisher connection that is down, drops the broadcast and counts it: delivery between nodes is at most
//!   once, as in Phoenix, so a channel never blocks on Redis and an outage never grows memory.
//! - Receiving runs on a thread of its own that reads a blocking connection one message at a time. Why not
//!   the redis crate's async PubSub: it reads the socket eagerly into an unbounded channel, so a node that
//!   dispatches more slowly than the others publish would buffer without limit. Reading only as fast as we
//!   dispatch leaves the excess in Redis, whose `client-output-buffer-limit pubsub` then cuts the slow node
//!   off; it reconnects like after any outage, and memory stays bounded on both sides. Dispatching never waits
//!   (every subscriber queue is bounded and drops), so the thread only ever waits on the network.
//! - An outage (a lost connection, or Redis unreachable at startup with [`RedisConfig::retry_on_start`]) is
//!   logged once when it begins and once when it ends, with its length and the broadcasts it dropped. Both
//!   connections reconnect with capped exponential backoff, jittered so that a restarted Redis is not hit by
//!   every node at the same instant; the subscriber subscribes again. Local clients and local broadcasts never
//!   depend on Redis.
//! - An idle subscriber connection is pinged every 15 s, which notices a Redis host that vanished without
//!   closing the TCP connection.
//!
//! The pieces: [`config`] (what [`PubSub::redis`] is given), [`link`] (the connections' state and backoff),
//! [`publisher`] (the queue and the publishing task), [`receiver`] (the subscribing thread) and [`envelope`].

mod config;
mod envelope;
mod link;
mod publisher;
mod receiver;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use self::config::redact;
pub use self::config::{RedisConfig, RedisStartError};
use self::envelope::{MAX_NODE_NAME, Route};
use self::link::{Link, Side};
use self::receiver::Receiver;
use super::{Adapter, Broadcast, PubSub};
use crate::queue::Queue;

impl PubSub {
    /// A PubSub whose broadcasts reach every node subscribed to the same Redis channel.
    ///
    /// It connects and subscribes before returning (unless [`RedisConfig::retry_on_start`] says otherwise), so
    /// a wrong URL or a Redis that is down is reported here, and starts a publishing task and a receiving thread
    /// that live as long as the PubSub. Call it inside a tokio runtime.
    ///
    /// ```no_run
    /// use channels_runtime::endpoint::Endpoint;
    /// use channels_runtime::pubsub::{PubSub, RedisConfig};
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pubsub = PubSub::redis(RedisConfig::new("redis://127.0.0.1:6379").node_name("web-1")).await?;
    /// let endpoint = Endpoint::builder().pubsub(pubsub).build();
    /// # Ok(()) }
    /// ```
    pub async fn redis(config: RedisConfig) -> Result<PubSub, RedisStartError> {
        let node = config.node_name.clone().unwrap_or_else(random_node_name);
        if node.is_empty() || node.len() > MAX_NODE_NAME {
            return Err(RedisStartError(format!("the node name must be 1 to {MAX_NODE_NAME} bytes, got {node:?}")));
        }
        if config.channel.is_empty() {
            return Err(RedisStartError("the Redis channel name must not be empty".into()));
        }
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| RedisStartError(format!("invalid Redis URL {}: {e}", redact(&config.url))))?;
        let addr = client.get_connection_info().addr.to_string();
        let publisher = if config.retry_on_start {
            // The publishing task connects, and logs the outage if Redis is not there.
            None
        } else {
            Some(publisher::connect(&client).await.map_err(|e| RedisStartError::unreachable(&addr, &e))?)
        };

        let shared = Arc::new(Shared {
            node: node.into(),
            channel: config.channel.into(),
            addr,
            queue: Queue::new(config.publish_queue),
            queue_capacity: config.publish_queue,
            publishing: AtomicBool::new(false),
            queue_full: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            link: Mutex::new(Link::default()),
            subscriber_lost: Notify::new(),
            backoff: config.backoff,
        });
        if publisher.is_some() {
            // Now, not when the task first runs, so that a broadcast right after startup is not dropped.
            shared.link_up(Side::Publisher);
        }
        let (stop, stopped) = mpsc::channel();
        let pubsub = PubSub::with_adapter(RedisAdapter { shared: shared.clone(), _stop: stop });

        let (ready_tx, ready) = oneshot::channel();
        let ready_tx = (!config.retry_on_start).then_some(ready_tx);
        let receiver = Receiver { shared: shared.clone(), client: client.clone(), local: pubsub.local_node(), stopped };
        std::thread::Builder::new()
            .name("redis-subscriber".into())
            .spawn(move || receiver.run(ready_tx))
            .map_err(|e| RedisStartError(format!("cannot start the Redis subscriber thread: {e}")))?;
        tokio::spawn(publisher::run(shared.clone(), client, publisher));

        if !config.retry_on_start {
            match ready.await {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => return Err(RedisStartError::unreachable(&shared.addr, &reason)),
                Err(_) => return Err(RedisStartError("the Redis subscriber thread ended at startup".into())),
            }
        }
        Ok(pubsub)
    }
}

/// `node-<pid>-<random>`: unique without configuration, and recognisable in logs.
fn random_node_name() -> String {
    let random = getrandom::u32()
        .unwrap_or_else(|_| std::time::SystemTime::UNIX_EPOCH.elapsed().map_or(0, |since| since.subsec_nanos()));
    format!("node-{}-{random:08x}", std::process::id())
}

/// What the adapter, the publishing task and the receiving thread share.
struct Shared {
    node: Box<str>,
    channel: Box<str>,
    /// Redis's address, without credentials, for logs.
    addr: String,
    /// Encoded broadcasts waiting for the publishing task.
    queue: Queue<Vec<u8>>,
    queue_capacity: usize,
    /// Whether the publisher connection is up: broadcasts are dropped at once while it is not.
    publishing: AtomicBool,
    /// Whether a full queue was logged and has not drained since.
    queue_full: AtomicBool,
    dropped: AtomicU64,
    link: Mutex<Link>,
    /// Told when the subscriber connection is lost: the publisher's connection most likely went with it but
    /// an idle one would only find out by failing a publish, so it reconnects now.
    subscriber_lost: Notify,
    backoff: (Duration, Duration),
}

impl Shared {
    fn count_dropped(&self, n: usize) {
        self.dropped.fetch_add(n as u64, Ordering::Relaxed);
        crate::metrics::metrics().pubsub_dropped.increment(n as u64);
    }

    fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The adapter a Redis-backed [`PubSub`] holds; dropping it stops the publishing task and the receiving thread.
struct RedisAdapter {
    shared: Arc<Shared>,
    /// Never sent on: the receiving thread sees the channel disconnect when this drops.
    _stop: mpsc::Sender<()>,
}

impl Adapter for RedisAdapter {
    fn node_name(&self) -> &str {
        &self.shared.node
    }

    fn broadcast(&self, broadcast: &Arc<Broadcast>) {
        self.shared.publish(Route::Others, broadcast);
    }

    fn direct_broadcast(&self, node: &str, broadcast: &Arc<Broadcast>) {
        self.shared.publish(Route::Only(node), broadcast);
    }

    fn dropped(&self) -> u64 {
        self.shared.dropped()
    }
}

impl Drop for RedisAdapter {
    fn drop(&mut self) {
        // Ends the publishing task once it has sent what is queued.
        self.shared.queue.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bad_configuration_is_a_clear_error() {
        let err = |config| async { PubSub::redis(config).await.unwrap_err().to_string() };
        let long = "n".repeat(256);
        assert!(err(RedisConfig::new("redis://127.0.0.1:1").node_name(long)).await.starts_with("the node name"));
        assert!(err(RedisConfig::new("redis://127.0.0.1:1").node_name("")).await.starts_with("the node name"));
        assert!(err(RedisConfig::new("redis://127.0.0.1:1").channel("")).await.contains("channel"));
        assert!(err(RedisConfig::new("http://:pw@x")).await.starts_with("invalid Redis URL http://***@x"));
        let unreachable = err(RedisConfig::new("redis://127.0.0.1:1")).await;
        assert!(unreachable.starts_with("cannot reach Redis at 127.0.0.1:1: "), "{unreachable}");
    }
}
