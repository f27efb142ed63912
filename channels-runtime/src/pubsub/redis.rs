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

mod envelope;

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use tokio::sync::{Notify, oneshot};

use self::envelope::{Envelope, MAX_NODE_NAME, Route};
use super::{Adapter, Broadcast, LocalNode, PubSub};
use crate::queue::{PushError, Queue, recycle};

/// The Redis channel nodes meet on unless configured otherwise.
const DEFAULT_CHANNEL: &str = "channels:pubsub";
/// Broadcasts waiting to be published, by default.
const DEFAULT_PUBLISH_QUEUE: usize = 4096;
/// Reconnection delays: the first, and the cap (Phoenix's Redis adapter retries every 5 s).
const DEFAULT_BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));
/// How long a TCP connection to Redis may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long Redis may take to answer a command (a publish pipeline, a subscribe, a ping).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the subscriber thread wakes while no message comes, to notice that its node is gone.
const POLL: Duration = Duration::from_millis(250);
/// Silence after which the subscriber connection is pinged.
const PING_AFTER: Duration = Duration::from_secs(15);

/// How to reach Redis and how this node appears there; [`PubSub::redis`] starts it.
///
/// ```
/// use std::time::Duration;
/// use channels_runtime::RedisConfig;
///
/// let config = RedisConfig::new("redis://127.0.0.1:6379")
///     .node_name("web-1")
///     .channel("myapp:pubsub")
///     .publish_queue(10_000)
///     .reconnect_backoff(Duration::from_millis(200), Duration::from_secs(10))
///     .retry_on_start(true);
/// assert_eq!(config.get_node_name(), Some("web-1"));
/// ```
#[derive(Clone)]
pub struct RedisConfig {
    url: String,
    node_name: Option<String>,
    channel: String,
    publish_queue: usize,
    backoff: (Duration, Duration),
    retry_on_start: bool,
}

impl RedisConfig {
    /// Redis at `url` (`redis://[[user]:password@]host[:port][/db]`), with the defaults: a random unique node
    /// name, channel `channels:pubsub`, a publish queue of 4096 broadcasts, reconnection after 100 ms doubling
    /// up to 5 s, and startup failing when Redis cannot be reached.
    ///
    /// ```
    /// let config = channels_runtime::RedisConfig::new("redis://127.0.0.1:6379");
    /// assert_eq!(config.get_node_name(), None);
    /// ```
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            node_name: None,
            channel: DEFAULT_CHANNEL.to_owned(),
            publish_queue: DEFAULT_PUBLISH_QUEUE,
            backoff: DEFAULT_BACKOFF,
            retry_on_start: false,
        }
    }

    /// The configuration the environment asks for: `None` unless `REDIS_URL` is set (and not empty), so an
    /// app runs alone by default. `NODE_NAME` sets the node name and `REDIS_CHANNEL` the channel, when set.
    ///
    /// ```
    /// use channels_runtime::{PubSub, RedisConfig};
    ///
    /// # async fn run() -> Result<(), channels_runtime::RedisStartError> {
    /// let pubsub = match RedisConfig::from_env() {
    ///     Some(config) => PubSub::redis(config).await?,
    ///     None => PubSub::new(),
    /// };
    /// # Ok(()) }
    /// ```
    pub fn from_env() -> Option<Self> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let var = |name| var(name).filter(|v| !v.is_empty());
        let mut config = RedisConfig::new(var("REDIS_URL")?);
        config.node_name = var("NODE_NAME");
        if let Some(channel) = var("REDIS_CHANNEL") {
            config.channel = channel;
        }
        Some(config)
    }

    /// This node's name, unique among the nodes (1 to 255 bytes). Direct broadcasts address it; logs show it.
    /// Without one, a random name is made at startup.
    ///
    /// ```
    /// let config = channels_runtime::RedisConfig::new("redis://127.0.0.1").node_name("web-1");
    /// assert_eq!(config.get_node_name(), Some("web-1"));
    /// ```
    pub fn node_name(mut self, name: impl Into<String>) -> Self {
        self.node_name = Some(name.into());
        self
    }

    /// The node name set by [`node_name`](Self::node_name) or `NODE_NAME`, if any.
    ///
    /// ```
    /// assert_eq!(channels_runtime::RedisConfig::new("redis://127.0.0.1").get_node_name(), None);
    /// ```
    pub fn get_node_name(&self) -> Option<&str> {
        self.node_name.as_deref()
    }

    /// The Redis channel the nodes share. Nodes on different channels do not see each other, so apps (or test
    /// runs) can share one Redis.
    ///
    /// ```
    /// let config = channels_runtime::RedisConfig::new("redis://127.0.0.1").channel("myapp:pubsub");
    /// ```
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = channel.into();
        self
    }

    /// How many broadcasts may wait to be published (at least 1). When Redis cannot keep up and the queue is
    /// full, further broadcasts are dropped (and counted in [`PubSub::dropped`]) until it drains.
    ///
    /// ```
    /// let config = channels_runtime::RedisConfig::new("redis://127.0.0.1").publish_queue(10_000);
    /// ```
    pub fn publish_queue(mut self, capacity: usize) -> Self {
        self.publish_queue = capacity.max(1);
        self
    }

    /// Delays between reconnection attempts: `first`, doubling each time up to `max` (each delay is
    /// shortened by up to half at random, so that nodes spread their attempts).
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = channels_runtime::RedisConfig::new("redis://127.0.0.1")
    ///     .reconnect_backoff(Duration::from_millis(50), Duration::from_secs(1));
    /// ```
    pub fn reconnect_backoff(mut self, first: Duration, max: Duration) -> Self {
        let first = first.max(Duration::from_millis(1));
        self.backoff = (first, max.max(first));
        self
    }

    /// What [`PubSub::redis`] does when Redis cannot be reached: `false` (the default) fails with a
    /// [`RedisStartError`], so a misconfigured node does not run half-connected; `true` starts at once, serving
    /// local clients, and connects in the background, retrying as after an outage (broadcasts made before
    /// the connection is up are dropped and counted, as during an outage).
    ///
    /// ```
    /// let config = channels_runtime::RedisConfig::new("redis://127.0.0.1").retry_on_start(true);
    /// ```
    pub fn retry_on_start(mut self, retry: bool) -> Self {
        self.retry_on_start = retry;
        self
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact(&self.url))
            .field("node_name", &self.node_name)
            .field("channel", &self.channel)
            .field("publish_queue", &self.publish_queue)
            .field("backoff", &self.backoff)
            .field("retry_on_start", &self.retry_on_start)
            .finish()
    }
}

/// `url` without its password, for logs and errors.
fn redact(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else { return url.to_owned() };
    let authority_end = url[start..].find('/').map_or(url.len(), |i| start + i);
    match url[start..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..start], &url[start + at..]),
        None => url.to_owned(),
    }
}

/// Why [`PubSub::redis`] could not start.
///
/// ```no_run
/// use channels_runtime::{PubSub, RedisConfig};
///
/// # #[tokio::main] async fn main() {
/// match PubSub::redis(RedisConfig::new("redis://127.0.0.1:1")).await {
///     Ok(_) => println!("connected"),
///     Err(e) => eprintln!("{e}"), // cannot reach Redis at 127.0.0.1:1: ...
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct RedisStartError(String);

impl fmt::Display for RedisStartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedisStartError {}

impl RedisStartError {
    fn unreachable(addr: &str, reason: &dyn fmt::Display) -> Self {
        RedisStartError(format!(
            "cannot reach Redis at {addr}: {reason} (start Redis, fix the URL, or use `retry_on_start` to start \
             without it)"
        ))
    }
}

impl PubSub {
    /// A PubSub whose broadcasts reach every node subscribed to the same Redis channel.
    ///
    /// It connects and subscribes before returning (unless [`RedisConfig::retry_on_start`] says otherwise), so
    /// a wrong URL or a Redis that is down is reported here, and starts a publishing task and a receiving thread
    /// that live as long as the PubSub. Call it inside a tokio runtime.
    ///
    /// ```no_run
    /// use channels_runtime::{Endpoint, PubSub, RedisConfig};
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
            Some(connect_publisher(&client).await.map_err(|e| RedisStartError::unreachable(&addr, &e))?)
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
            link: Mutex::new(Link { up: [false; 2], outage: None, announced: false }),
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
        tokio::spawn(publish(shared.clone(), client, publisher));

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

/// The state of both connections, for logging each outage once.
struct Link {
    /// Publisher, subscriber.
    up: [bool; 2],
    /// Since when, and the drop count then, while an outage is on.
    outage: Option<(Instant, u64)>,
    /// Whether the first connection was logged.
    announced: bool,
}

#[derive(Debug, Clone, Copy)]
enum Side {
    Publisher = 0,
    Subscriber = 1,
}

impl Shared {
    /// Queues `broadcast` for the other nodes, or drops and counts it.
    fn publish(&self, route: Route<'_>, broadcast: &Broadcast) {
        if !self.publishing.load(Ordering::Relaxed) {
            self.count_dropped(1);
            return;
        }
        let Some(message) = envelope::encode(&self.node, route, broadcast) else {
            tracing::warn!(topic = %broadcast.topic, ?route, "broadcast not sent to other nodes: a name is too long");
            self.count_dropped(1);
            return;
        };
        if self.queue.try_push(message).is_err_and(|e| matches!(e, PushError::Full(_))) {
            self.count_dropped(1);
            if !self.queue_full.swap(true, Ordering::Relaxed) {
                tracing::warn!(redis = %self.addr, capacity = self.queue_capacity,
                    "Redis publish queue full: cross-node broadcasts are dropped until it drains");
            }
        }
        // A closed queue means the node is going away: nothing to count.
    }

    fn count_dropped(&self, n: usize) {
        self.dropped.fetch_add(n as u64, Ordering::Relaxed);
        crate::metrics::metrics().pubsub_dropped.increment(n as u64);
    }

    fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn link_up(&self, side: Side) {
        if let Side::Publisher = side {
            self.publishing.store(true, Ordering::Relaxed);
        }
        let mut link = self.link.lock().unwrap_or_else(|e| e.into_inner());
        link.up[side as usize] = true;
        if !link.up.iter().all(|up| *up) {
            return;
        }
        if let Some((since, dropped_then)) = link.outage.take() {
            tracing::info!(redis = %self.addr, node = %self.node, down_for = ?since.elapsed(),
                dropped = self.dropped() - dropped_then, "Redis is back: cross-node broadcasts resume");
        } else if !link.announced {
            tracing::info!(redis = %self.addr, node = %self.node, channel = %self.channel,
                "PubSub connected to Redis: broadcasts reach every node");
        }
        link.announced = true;
    }

    fn link_down(&self, side: Side, error: &dyn fmt::Display) {
        if let Side::Publisher = side {
            self.publishing.store(false, Ordering::Relaxed);
        }
        let mut link = self.link.lock().unwrap_or_else(|e| e.into_inner());
        link.up[side as usize] = false;
        if link.outage.is_none() {
            link.outage = Some((Instant::now(), self.dropped()));
            tracing::warn!(redis = %self.addr, node = %self.node, %error,
                "Redis unreachable: serving local clients only, cross-node broadcasts are dropped until it is back");
        } else {
            tracing::debug!(redis = %self.addr, ?side, %error, "Redis still unreachable");
        }
    }

    /// Hands one message from Redis to this node's subscribers. `false` once the node is gone.
    fn receive(&self, message: &[u8], local: &LocalNode) -> bool {
        let envelope = match Envelope::decode(message) {
            Ok(envelope) => envelope,
            Err(e) => {
                tracing::warn!(channel = %self.channel, "ignored a malformed message from Redis: {e}");
                return true;
            }
        };
        if !envelope.is_for(&self.node) {
            return true;
        }
        let (origin, topic) = (envelope.origin, envelope.topic);
        match envelope.into_broadcast() {
            Ok(broadcast) => local.deliver(Arc::new(broadcast)),
            Err(e) => {
                tracing::warn!(%origin, %topic, "ignored a malformed message from Redis: {e}");
                true
            }
        }
    }

    /// Waits `delay` while the publisher is down, dropping whatever is queued meanwhile. `false` once the
    /// adapter is gone.
    async fn wait_down(&self, delay: Duration, batch: &mut VecDeque<Vec<u8>>) -> bool {
        let sleep = tokio::time::sleep(delay);
        let mut sleep = std::pin::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return true,
                open = self.queue.recv_all(batch) => {
                    self.count_dropped(batch.len());
                    batch.clear();
                    recycle(batch);
                    if !open {
                        return false;
                    }
                }
            }
        }
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

async fn connect_publisher(client: &redis::Client) -> redis::RedisResult<MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(RESPONSE_TIMEOUT);
    client.get_multiplexed_async_connection_with_config(&config).await
}

/// The publishing task: sends everything queued as one pipeline, reconnects after a failure.
async fn publish(shared: Arc<Shared>, client: redis::Client, mut connection: Option<MultiplexedConnection>) {
    let mut batch = VecDeque::new();
    let mut backoff = Backoff::new(shared.backoff);
    loop {
        let mut conn = match connection.take() {
            Some(conn) => conn,
            None => match connect_publisher(&client).await {
                Ok(conn) => conn,
                Err(e) => {
                    shared.link_down(Side::Publisher, &e);
                    if !shared.wait_down(backoff.next(), &mut batch).await {
                        return;
                    }
                    continue;
                }
            },
        };
        shared.link_up(Side::Publisher);
        let error = loop {
            tokio::select! {
                open = shared.queue.recv_all(&mut batch) => if !open {
                    return;
                },
                () = shared.subscriber_lost.notified() => {
                    // Reconnect at once: if Redis is down the attempt fails and broadcasts are dropped without
                    // queueing; if it is up (only the subscriber was cut off) it is a cheap new connection.
                    break None;
                }
            }
            let count = batch.len();
            let mut pipe = redis::pipe();
            for message in batch.drain(..) {
                pipe.cmd("PUBLISH").arg(&*shared.channel).arg(message).ignore();
            }
            recycle(&mut batch);
            if let Err(e) = pipe.exec_async(&mut conn).await {
                shared.count_dropped(count);
                break Some(e);
            }
            // Reset only once Redis accepted a publish, so a server that takes connections but refuses
            // commands is retried with backoff rather than in a loop.
            backoff.reset();
            if shared.queue_full.swap(false, Ordering::Relaxed) {
                tracing::info!(redis = %shared.addr, dropped = shared.dropped(), "Redis publish queue drained");
            }
        };
        if let Some(error) = error {
            shared.link_down(Side::Publisher, &error);
            if !shared.wait_down(backoff.next(), &mut batch).await {
                return;
            }
        }
    }
}

/// The receiving thread's state.
struct Receiver {
    shared: Arc<Shared>,
    client: redis::Client,
    local: LocalNode,
    /// Disconnects when the adapter drops.
    stopped: mpsc::Receiver<()>,
}

impl Receiver {
    /// Subscribes, delivers, and subscribes again after each loss, until the node is gone. `ready` (at a
    /// startup that must fail when Redis is unreachable) learns how the first attempt went; after a failed
    /// first attempt the thread ends, as the PubSub is not started.
    fn run(self, mut ready: Option<oneshot::Sender<Result<(), String>>>) {
        let mut backoff = Backoff::new(self.shared.backoff);
        loop {
            let ended = self.session(|| {
                self.shared.link_up(Side::Subscriber);
                backoff.reset();
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Ok(()));
                }
            });
            match ended {
                Ok(()) => return,
                Err(e) => {
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(Err(e.to_string()));
                        return;
                    }
                    if self.is_stopped() {
                        return;
                    }
                    self.shared.link_down(Side::Subscriber, &e);
                    self.shared.subscriber_lost.notify_one();
                }
            }
            if matches!(self.stopped.recv_timeout(backoff.next()), Err(RecvTimeoutError::Disconnected)) {
                return;
            }
        }
    }

    fn is_stopped(&self) -> bool {
        matches!(self.stopped.try_recv(), Err(TryRecvError::Disconnected))
    }

    /// One connection: subscribe, then deliver until it fails (an error) or the node is gone (`Ok`).
    fn session(&self, on_subscribed: impl FnOnce()) -> redis::RedisResult<()> {
        let mut connection = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
        connection.set_write_timeout(Some(RESPONSE_TIMEOUT))?;
        connection.set_read_timeout(Some(RESPONSE_TIMEOUT))?;
        let mut pubsub = connection.as_pubsub();
        pubsub.subscribe(&*self.shared.channel)?;
        on_subscribed();
        pubsub.set_read_timeout(Some(POLL))?;
        let mut last_heard = Instant::now();
        loop {
            match pubsub.get_message() {
                Ok(message) => {
                    last_heard = Instant::now();
                    if !self.shared.receive(message.get_payload_bytes(), &self.local) {
                        return Ok(());
                    }
                }
                Err(e) if e.is_timeout() => {
                    if self.is_stopped() {
                        return Ok(());
                    }
                    if last_heard.elapsed() >= PING_AFTER {
                        pubsub.set_read_timeout(Some(RESPONSE_TIMEOUT))?;
                        pubsub.ping::<redis::Value>()?;
                        pubsub.set_read_timeout(Some(POLL))?;
                        last_heard = Instant::now();
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Capped exponential backoff with jitter.
struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new((first, max): (Duration, Duration)) -> Self {
        Backoff { first, max, next: first }
    }

    /// The delay before the next attempt: between half and all of the current step, which then doubles.
    fn next(&mut self) -> Duration {
        let step = self.next;
        self.next = (step * 2).min(self.max);
        let fraction = f64::from(getrandom::u32().unwrap_or(0)) / f64::from(u32::MAX);
        step.mul_f64(1.0 - fraction / 2.0)
    }

    fn reset(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter() {
        let mut backoff = Backoff::new((Duration::from_millis(100), Duration::from_millis(700)));
        let steps: Vec<u64> = [100, 200, 400, 700, 700].to_vec();
        for step in steps {
            let delay = backoff.next().as_millis() as u64;
            assert!((step / 2..=step).contains(&delay), "{delay} ms for a step of {step} ms");
        }
        backoff.reset();
        assert!(backoff.next() <= Duration::from_millis(100));
    }

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(redact("redis://:secret@host:6379/0"), "redis://***@host:6379/0");
        assert_eq!(redact("redis://user:secret@host"), "redis://***@host");
        assert_eq!(redact("redis://host:6379/a@b"), "redis://host:6379/a@b");
        assert_eq!(redact("not a url"), "not a url");
        let debug = format!("{:?}", RedisConfig::new("redis://:pw@h"));
        assert!(debug.contains("redis://***@h") && !debug.contains("pw"), "{debug}");
    }

    #[test]
    fn the_environment_needs_redis_url() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
        };
        assert!(RedisConfig::from_vars(env(&[("NODE_NAME", "n1")])).is_none());
        assert!(RedisConfig::from_vars(env(&[("REDIS_URL", "")])).is_none());
        let config =
            RedisConfig::from_vars(env(&[("REDIS_URL", "redis://h"), ("NODE_NAME", "n1"), ("REDIS_CHANNEL", "c")]));
        let config = config.unwrap();
        assert_eq!(
            (config.url.as_str(), config.get_node_name(), config.channel.as_str()),
            ("redis://h", Some("n1"), "c")
        );
        let config = RedisConfig::from_vars(env(&[("REDIS_URL", "redis://h"), ("NODE_NAME", "")])).unwrap();
        assert_eq!((config.get_node_name(), config.channel.as_str()), (None, DEFAULT_CHANNEL));
    }

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
