//! What [`PubSub::redis`](crate::pubsub::PubSub::redis) is given: how to reach Redis and how this node appears there;
//! and the error it fails with.

use std::fmt;
use std::time::Duration;

/// The Redis channel nodes meet on unless configured otherwise.
const DEFAULT_CHANNEL: &str = "channels:pubsub";
/// Broadcasts waiting to be published, by default.
const DEFAULT_PUBLISH_QUEUE: usize = 4096;
/// Reconnection delays: the first, and the cap (Phoenix's Redis adapter retries every 5 s).
const DEFAULT_BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

/// How to reach Redis and how this node appears there; [`PubSub::redis`](crate::pubsub::PubSub::redis) starts it.
///
/// ```
/// use std::time::Duration;
/// use channels_runtime::pubsub::RedisConfig;
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
    pub(super) url: String,
    pub(super) node_name: Option<String>,
    pub(super) channel: String,
    pub(super) publish_queue: usize,
    pub(super) backoff: (Duration, Duration),
    pub(super) retry_on_start: bool,
}

impl RedisConfig {
    /// Redis at `url` (`redis://[[user]:password@]host[:port][/db]`), with the defaults: a random unique node
    /// name, channel `channels:pubsub`, a publish queue of 4096 broadcasts, reconnection after 100 ms doubling
    /// up to 5 s, and startup failing when Redis cannot be reached.
    ///
    /// ```
    /// let config = channels_runtime::pubsub::RedisConfig::new("redis://127.0.0.1:6379");
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
    /// use channels_runtime::pubsub::{PubSub, RedisConfig};
    ///
    /// # async fn run() -> Result<(), channels_runtime::pubsub::RedisStartError> {
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
    /// let config = channels_runtime::pubsub::RedisConfig::new("redis://127.0.0.1").node_name("web-1");
    /// assert_eq!(config.get_node_name(), Some("web-1"));
    /// ```
    pub fn node_name(mut self, name: impl Into<String>) -> Self {
        self.node_name = Some(name.into());
        self
    }

    /// The node name set by [`node_name`](Self::node_name) or `NODE_NAME`, if any.
    ///
    /// ```
    /// assert_eq!(channels_runtime::pubsub::RedisConfig::new("redis://127.0.0.1").get_node_name(), None);
    /// ```
    pub fn get_node_name(&self) -> Option<&str> {
        self.node_name.as_deref()
    }

    /// The Redis channel the nodes share. Nodes on different channels do not see each other, so apps (or test
    /// runs) can share one Redis.
    ///
    /// ```
    /// let config = channels_runtime::pubsub::RedisConfig::new("redis://127.0.0.1").channel("myapp:pubsub");
    /// ```
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = channel.into();
        self
    }

    /// How many broadcasts may wait to be published (at least 1). When Redis cannot keep up and the queue is
    /// full, further broadcasts are dropped (and counted in [`PubSub::dropped`](crate::pubsub::PubSub::dropped)) until it
    /// drains.
    ///
    /// ```
    /// let config = channels_runtime::pubsub::RedisConfig::new("redis://127.0.0.1").publish_queue(10_000);
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
    /// let config = channels_runtime::pubsub::RedisConfig::new("redis://127.0.0.1")
    ///     .reconnect_backoff(Duration::from_millis(50), Duration::from_secs(1));
    /// ```
    pub fn reconnect_backoff(mut self, first: Duration, max: Duration) -> Self {
        let first = first.max(Duration::from_millis(1));
        self.backoff = (first, max.max(first));
        self
    }

    /// What [`PubSub::redis`](crate::pubsub::PubSub::redis) does when Redis cannot be reached: `false` (the default) fails
    /// with a [`RedisStartError`], so a misconfigured node does not run half-connected; `true` starts at once,
    /// serving local clients, and connects in the background, retrying as after an outage (broadcasts made before
    /// the connection is up are dropped and counted, as during an outage).
    ///
    /// ```
    /// let config = channels_runtime::pubsub::RedisConfig::new("redis://127.0.0.1").retry_on_start(true);
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
pub(super) fn redact(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else { return url.to_owned() };
    let authority_end = url[start..].find('/').map_or(url.len(), |i| start + i);
    match url[start..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..start], &url[start + at..]),
        None => url.to_owned(),
    }
}

/// Why [`PubSub::redis`](crate::pubsub::PubSub::redis) could not start.
///
/// ```no_run
/// use channels_runtime::pubsub::{PubSub, RedisConfig};
///
/// # #[tokio::main] async fn main() {
/// match PubSub::redis(RedisConfig::new("redis://127.0.0.1:1")).await {
///     Ok(_) => println!("connected"),
///     Err(e) => eprintln!("{e}"), // cannot reach Redis at 127.0.0.1:1: ...
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct RedisStartError(pub(super) String);

impl fmt::Display for RedisStartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedisStartError {}

/// So `PubSub::redis(..).await?` works in a `main` that returns `std::io::Result<()>`, as `Endpoint::serve` does.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use channels_runtime::pubsub::{PubSub, RedisConfig};
///
/// async fn start() -> std::io::Result<PubSub> {
///     Ok(PubSub::redis(RedisConfig::new("redis://127.0.0.1:1")).await?)
/// }
/// let error = start().await.unwrap_err();
/// assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
/// assert!(error.to_string().contains("cannot reach Redis at 127.0.0.1:1"));
/// # }
/// ```
impl From<RedisStartError> for std::io::Error {
    fn from(error: RedisStartError) -> Self {
        std::io::Error::new(std::io::ErrorKind::ConnectionRefused, error)
    }
}

impl RedisStartError {
    pub(super) fn unreachable(addr: &str, reason: &dyn fmt::Display) -> Self {
        RedisStartError(format!(
            "cannot reach Redis at {addr}: {reason} (start Redis, fix the URL, or use `retry_on_start` to start \
             without it)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
