//! Per-socket settings, with Phoenix's defaults.

use std::time::Duration;

use crate::origin::CheckOrigin;

/// Writes the builder-style setters of a config type: each `name(mut self, name: T) -> Self` sets the field of that
/// name, with the docs written above it.
macro_rules! setters {
    ($config:ty { $($(#[$doc:meta])* $name:ident: $value:ty;)* }) => {
        impl $config {
            $(
                $(#[$doc])*
                pub fn $name(mut self, $name: $value) -> Self {
                    self.$name = $name;
                    self
                }
            )*
        }
    };
}
pub(crate) use setters;

/// Settings of one mounted socket handler.
///
/// ```
/// use std::time::Duration;
/// use channels_runtime::socket::SocketConfig;
///
/// let config = SocketConfig::default().idle_timeout(Duration::from_secs(90)).max_channels(20);
/// # drop(config);
/// ```
#[derive(Debug, Clone)]
pub struct SocketConfig {
    pub(crate) idle_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) max_channels: usize,
    pub(crate) outbox_capacity: usize,
    pub(crate) max_outbox_bytes: usize,
    pub(crate) mailbox_capacity: usize,
    pub(crate) max_frame_size: usize,
    pub(crate) read_buffer_size: usize,
    pub(crate) longpoll: bool,
    pub(crate) longpoll_window: Duration,
    pub(crate) longpoll_max_body: usize,
    pub(crate) longpoll_max_sessions: usize,
    pub(crate) longpoll_max_sessions_per_address: usize,
    pub(crate) check_origin: CheckOrigin,
    pub(crate) max_topic_length: usize,
    pub(crate) max_event_length: usize,
    pub(crate) max_payload_depth: usize,
    pub(crate) join_rate: (u32, Duration),
}

impl Default for SocketConfig {
    fn default() -> Self {
        SocketConfig {
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            max_channels: 100,
            outbox_capacity: 1024,
            max_outbox_bytes: 32 << 20,
            mailbox_capacity: 1024,
            max_frame_size: 10 << 20,
            read_buffer_size: 1 << 10,
            longpoll: false,
            longpoll_window: Duration::from_secs(10),
            longpoll_max_body: 8_000_000,
            longpoll_max_sessions: 10_000,
            longpoll_max_sessions_per_address: 1_000,
            check_origin: CheckOrigin::default(),
            max_topic_length: 1024,
            max_event_length: 255,
            max_payload_depth: 64,
            join_rate: (200, Duration::from_secs(10)),
        }
    }
}

setters! {
    SocketConfig {
        /// Closes a connection that sends nothing (not even a heartbeat) for this long. Default 60 s; clients
        /// heartbeat every 30 s.
        idle_timeout: Duration;
        /// Closes a connection whose client does not take a write within this long: it stopped reading, and what
        /// waits for it would otherwise hold memory and its place in a shutdown. Default 30 s.
        write_timeout: Duration;
        /// The most channels one connection may join; more joins get `too many channels joined`. Default 100.
        max_channels: usize;
        /// Frames that may wait for one slow client before it is disconnected. Default 1024.
        outbox_capacity: usize;
        /// Bytes that may wait for one slow client (queued and being written) before it is disconnected; a single
        /// larger frame still goes alone. Default 32 MiB.
        max_outbox_bytes: usize;
        /// Messages that may wait for one channel task; a client sending faster is read more slowly. Default 1024.
        mailbox_capacity: usize;
        /// The largest frame or message a client may send; a larger one closes the connection (1009). Default
        /// 10 MiB, as Phoenix.
        max_frame_size: usize;
        /// Also serves the LongPoll transport at `{path}/longpoll`, for clients whose network blocks WebSockets.
        /// Default off, as in Phoenix.
        longpoll: bool;
        /// How long a LongPoll GET waits for messages before answering 204 (Phoenix's `window_ms`). A session not
        /// polled for 1.5 windows ends. Default 10 s.
        longpoll_window: Duration;
        /// Which web pages may connect (their `Origin` header). Default [`CheckOrigin::RequestHost`].
        check_origin: CheckOrigin;
        /// The deepest nesting of arrays and objects accepted in a payload; a deeper one gets an error reply
        /// `{"reason":"payload too deep"}`, before any handler parses it. Default 64.
        max_payload_depth: usize;
        /// The WebSocket read buffer per connection, and the most one read takes from the socket. Default 1 KiB:
        /// most sockets are idle and most client messages small; a larger message is read in several reads.
        read_buffer_size: usize;
    }
}

impl SocketConfig {
    /// The largest LongPoll POST body, in bytes; each frame in it is also held to `max_frame_size` (a base64
    /// binary line by its decoded size). Past either the body is no longer read: `{"status":413}`, and the
    /// session ends once the frames before are dispatched. Default 8,000,000, as Plug's `read_body` in Phoenix.
    pub fn longpoll_max_body(mut self, bytes: usize) -> Self {
        self.longpoll_max_body = bytes;
        self
    }

    /// The most LongPoll sessions open at once, in all and per client address (IPv4 address, or IPv6 /64);
    /// past either a new session gets `{"status":403}` and the client retries after its backoff. Defaults
    /// 10,000 (a polling client holds one of the HTTP connections, 10,000 by default) and 1,000 per address
    /// (room for a network of users behind one NAT address). Behind a reverse proxy every client has the
    /// proxy's address: raise the second cap to the first.
    pub fn longpoll_max_sessions(mut self, total: usize, per_address: usize) -> Self {
        self.longpoll_max_sessions = total;
        self.longpoll_max_sessions_per_address = per_address;
        self
    }

    /// The longest topic and event names accepted, in bytes; a longer one gets an error reply
    /// (`{"reason":"topic too long"}` or `{"reason":"event too long"}`). Defaults 1024 and 255.
    pub fn max_name_lengths(mut self, topic: usize, event: usize) -> Self {
        self.max_topic_length = topic;
        self.max_event_length = event;
        self
    }

    /// At most `joins` joins per connection within `per`; more get `{"reason":"join rate exceeded"}`. Default
    /// 200 per 10 s: a reconnecting client rejoins all its channels (at most 100) at once.
    pub fn join_rate(mut self, joins: u32, per: Duration) -> Self {
        self.join_rate = (joins, per);
        self
    }
}
