//! Testing channels without a network, like Phoenix's `Phoenix.ChannelTest`.
//!
//! A [`TestClient`] is a real connection of your socket handler: `connect` runs, joins spawn the real channel
//! tasks, every frame is encoded by the real V2 serializer and decoded again here. Only the transport is
//! replaced by an in-memory queue, so a channel that passes here behaves the same over WebSocket.
//!
//! ```
//! use channels_runtime::testing::TestEndpoint;
//! # use channels_runtime::channel::{Channel, ChannelSocket, HandleResult, JoinResult};
//! # use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
//! # use channels_runtime::payload::Payload;
//! # struct UserSocket;
//! # impl Socket for UserSocket {
//! #     async fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> { Ok(UserSocket) }
//! #     fn channels() -> Router<Self> { Router::new().channel::<RoomChannel>("rooms:*") }
//! # }
//! # struct RoomChannel;
//! # impl Channel for RoomChannel {
//! #     type Socket = UserSocket;
//! #     type Info = ();
//! #     async fn join(_: &str, _: Payload, _: &mut ChannelSocket<Self>) -> JoinResult<Self> { JoinResult::ok(RoomChannel) }
//! #     async fn handle_in(&mut self, _: &str, p: Payload, s: &mut ChannelSocket<Self>) -> HandleResult {
//! #         s.broadcast("new_msg", p);
//! #         HandleResult::ok(Payload::empty())
//! #     }
//! # }
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let endpoint = TestEndpoint::<UserSocket>::new();
//! let mut client = endpoint.connect(&[]).await.unwrap();
//! let lobby = client.subscribe_and_join("rooms:lobby", json!({})).await.unwrap();
//! let r = client.push(&lobby, "new_msg", json!({"body": "hi"})).await;
//! client.assert_reply(&r, "ok", json!({})).await;
//! client.assert_broadcast("new_msg", json!({"body": "hi"})).await;
//! client.assert_push("new_msg", json!({"body": "hi"})).await;
//! client.leave(&lobby).await;
//! # }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::time::Instant;

use crate::config::SocketConfig;
use crate::connection::{Connection, SocketShared};
use crate::outbox::Outbox;
use crate::payload::{IntoPayload, Payload};
use crate::presence::{PresenceConfig, PresenceSlot};
use crate::pubsub::{Broadcast, PubSub, Subscription};
use crate::serializer::{Frame, Message, Serializer};
use crate::socket::{ConnectInfo, ConnectParams, Refuse, Socket};
use crate::state::StateMap;

/// How long assertions wait by default (Phoenix's `assert_receive` waits 100 ms).
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(100);

/// A socket handler mounted for tests: its clients share one [`PubSub`], so they can talk to each other.
///
/// ```
/// # use channels_runtime::channel::*;
/// # use channels_runtime::payload::Payload;
/// # use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
/// # use serde_json::json;
/// # struct UserSocket;
/// # impl Socket for UserSocket {
/// #     async fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> { Ok(UserSocket) }
/// #     fn channels() -> Router<Self> { Router::new().channel::<Room>("rooms:*") }
/// # }
/// # struct Room;
/// # impl Channel for Room {
/// #     type Socket = UserSocket;
/// #     type Info = ();
/// #     async fn join(_: &str, _: Payload, _: &mut ChannelSocket<Self>) -> JoinResult<Self> { JoinResult::ok(Room) }
/// #     async fn handle_in(&mut self, event: &str, p: Payload, s: &mut ChannelSocket<Self>) -> HandleResult {
/// #         match event {
/// #             "bye" => HandleResult::stop(),
/// #             "ping" => HandleResult::ok(p),
/// #             _ => { s.broadcast(event, p); HandleResult::NoReply }
/// #         }
/// #     }
/// # }
/// use channels_runtime::testing::TestEndpoint;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let endpoint = TestEndpoint::<UserSocket>::new();
/// let mut alice = endpoint.connect(&[("user", "alice")]).await.unwrap();
/// let mut bob = endpoint.connect(&[("user", "bob")]).await.unwrap();
/// let lobby = alice.subscribe_and_join("rooms:lobby", json!({})).await.unwrap();
/// bob.join("rooms:lobby", json!({})).await.unwrap();
/// alice.push(&lobby, "new_msg", json!({"body": "hi"})).await;
/// bob.assert_push("new_msg", json!({"body": "hi"})).await;
/// endpoint.pubsub().broadcast("rooms:lobby", "notice", json!({"text": "from the server"}));
/// bob.assert_push("notice", json!({"text": "from the server"})).await;
/// # }
/// ```
pub struct TestEndpoint<S: Socket> {
    shared: Arc<SocketShared<S>>,
}

impl<S: Socket> TestEndpoint<S> {
    /// The socket handler `S` with default settings and a node-local PubSub.
    pub fn new() -> Self {
        Self::with_config(SocketConfig::default())
    }

    /// The socket handler `S` with these settings.
    pub fn with_config(config: SocketConfig) -> Self {
        let pubsub = PubSub::new();
        let presence = PresenceSlot::new(pubsub.clone(), PresenceConfig::default());
        Self::mount(pubsub, presence, config, StateMap::default())
    }

    /// Gives the app state `state`, as [`EndpointBuilder::state`](crate::endpoint::EndpointBuilder::state) does
    /// (one value per type, the last one given wins), to the clients that connect from now on.
    ///
    /// ```
    /// # use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
    /// # use channels_runtime::state::State;
    /// use channels_runtime::testing::TestEndpoint;
    ///
    /// struct Config {
    ///     open: bool,
    /// }
    ///
    /// struct UserSocket;
    ///
    /// impl Socket for UserSocket {
    ///     async fn connect(_: &ConnectParams, info: &ConnectInfo) -> Result<Self, Refuse> {
    ///         let config: State<Config> = info.state().ok_or(Refuse)?;
    ///         if config.open { Ok(UserSocket) } else { Err(Refuse) }
    ///     }
    /// #   fn channels() -> Router<Self> { Router::new() }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let closed = TestEndpoint::<UserSocket>::new().state(Config { open: false });
    /// assert!(closed.connect(&[]).await.is_err());
    /// let open = closed.state(Config { open: true });
    /// assert!(open.connect(&[]).await.is_ok());
    /// # }
    /// ```
    pub fn state<T: Send + Sync + 'static>(self, state: T) -> Self {
        let SocketShared { pubsub, presence, config, state: map, .. } = &*self.shared;
        let mut map = map.clone();
        map.insert(state);
        Self::mount(pubsub.clone(), presence.clone(), config.clone(), map)
    }

    fn mount(pubsub: PubSub, presence: PresenceSlot, config: SocketConfig, state: StateMap) -> Self {
        TestEndpoint { shared: Arc::new(SocketShared { router: S::channels(), pubsub, presence, config, state }) }
    }

    /// The PubSub the clients share: broadcast from the test with it.
    pub fn pubsub(&self) -> &PubSub {
        &self.shared.pubsub
    }

    /// Connects a client with these params (and default connect info), running the handler's `connect`.
    ///
    /// # Panics
    /// As [`EndpointBuilder::build`](crate::endpoint::EndpointBuilder::build) does, when `S` takes app state
    /// this endpoint was not given (see [`state`](Self::state)).
    pub async fn connect(&self, params: &[(&str, &str)]) -> Result<TestClient<S>, Refuse> {
        let query: Vec<String> = params.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        self.connect_with(&ConnectParams::from_query(&query.join("&")), &ConnectInfo::default()).await
    }

    /// Connects a client with these params and connect info (whose app state is this endpoint's).
    ///
    /// # Panics
    /// As [`connect`](Self::connect).
    pub async fn connect_with(&self, params: &ConnectParams, info: &ConnectInfo) -> Result<TestClient<S>, Refuse> {
        // Checked here rather than where the endpoint is made: `.state(..)` comes after `new()`.
        self.shared.state.check(std::any::type_name::<S>(), &S::required_state(), "the TestEndpoint");
        let info = ConnectInfo { state: self.shared.state.clone(), ..info.clone() };
        let assigns = S::connect(params, &info).await?;
        let outbox = Outbox::new(Serializer::V2, &self.shared.config);
        Ok(TestClient {
            connection: Connection::new(assigns, outbox.clone(), self.shared.clone()),
            outbox,
            pubsub: self.shared.pubsub.clone(),
            received: VecDeque::new(),
            subscriptions: Vec::new(),
            next_ref: 0,
            timeout: DEFAULT_TIMEOUT,
        })
    }
}

impl<S: Socket> Default for TestEndpoint<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Socket> fmt::Debug for TestEndpoint<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestEndpoint").finish_non_exhaustive()
    }
}

/// Percent-encodes a query component.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A joined channel, as returned by [`TestClient::subscribe_and_join`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The topic.
    pub topic: String,
    /// The join_ref of this join.
    pub join_ref: String,
}

/// The ref of a pushed message, to match its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref(String);

/// Something the client received.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// A `phx_reply`.
    Reply {
        /// The topic.
        topic: String,
        /// The ref replied to.
        ref_: Option<String>,
        /// The reply status.
        status: String,
        /// The response.
        response: Payload,
    },
    /// A push or a broadcast (any other event, `phx_close` and `phx_error` included).
    Push {
        /// The topic.
        topic: String,
        /// The event.
        event: String,
        /// The payload.
        payload: Payload,
    },
}

/// One client connection of a [`TestEndpoint`], with assertions on what it receives.
///
/// Assertions wait up to the client's timeout (100 ms unless [`set_timeout`](TestClient::set_timeout) says
/// otherwise) and panic with everything received so far when what they expect does not come.
///
/// ```
/// # use channels_runtime::channel::*;
/// # use channels_runtime::payload::Payload;
/// # use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
/// # use serde_json::json;
/// # struct UserSocket;
/// # impl Socket for UserSocket {
/// #     async fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> { Ok(UserSocket) }
/// #     fn channels() -> Router<Self> { Router::new().channel::<Room>("rooms:*") }
/// # }
/// # struct Room;
/// # impl Channel for Room {
/// #     type Socket = UserSocket;
/// #     type Info = ();
/// #     async fn join(_: &str, _: Payload, _: &mut ChannelSocket<Self>) -> JoinResult<Self> { JoinResult::ok(Room) }
/// #     async fn handle_in(&mut self, event: &str, p: Payload, s: &mut ChannelSocket<Self>) -> HandleResult {
/// #         match event {
/// #             "bye" => HandleResult::stop(),
/// #             "ping" => HandleResult::ok(p),
/// #             _ => { s.broadcast(event, p); HandleResult::NoReply }
/// #         }
/// #     }
/// # }
/// # use channels_runtime::testing::TestEndpoint;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut client = TestEndpoint::<UserSocket>::new().connect(&[]).await.unwrap();
/// let room = client.subscribe_and_join("rooms:lobby", json!({})).await.unwrap();
/// let r = client.push(&room, "ping", json!({"n": 1})).await;
/// client.assert_reply_matching(&r, "ok", |p| p.as_json().is_some_and(|j| j.contains(r#""n":1"#))).await;
/// client.refute_push("ping", Duration::from_millis(10)).await;
/// client.push(&room, "bye", json!({})).await;
/// client.assert_close(&room).await;
/// # }
/// ```
pub struct TestClient<S: Socket> {
    connection: Connection<S>,
    outbox: Arc<Outbox>,
    pubsub: PubSub,
    received: VecDeque<Received>,
    subscriptions: Vec<Subscription>,
    next_ref: u64,
    timeout: Duration,
}

impl<S: Socket> fmt::Debug for TestClient<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestClient").field("received", &self.received).finish_non_exhaustive()
    }
}

impl<S: Socket> TestClient<S> {
    /// The connection's assigns: the value `connect` returned (Phoenix's `socket.assigns` after `connect/3`).
    ///
    /// ```
    /// # use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
    /// use channels_runtime::testing::TestEndpoint;
    ///
    /// struct UserSocket { user: Option<String> }
    ///
    /// impl Socket for UserSocket {
    ///     async fn connect(params: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> {
    ///         Ok(UserSocket { user: params.get("user").map(str::to_owned) })
    ///     }
    ///     fn channels() -> Router<Self> { Router::new() }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let client = TestEndpoint::<UserSocket>::new().connect(&[("user", "42")]).await.unwrap();
    /// assert_eq!(client.assigns().user.as_deref(), Some("42"));
    /// # }
    /// ```
    pub fn assigns(&self) -> &S {
        self.connection.assigns()
    }

    /// How long assertions wait.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The PubSub of the endpoint, to broadcast from the test.
    pub fn pubsub(&self) -> &PubSub {
        &self.pubsub
    }

    fn make_ref(&mut self) -> String {
        self.next_ref += 1;
        self.next_ref.to_string()
    }

    /// Subscribes the test to `topic` (for [`assert_broadcast`](Self::assert_broadcast)) and joins it. `Ok`
    /// carries the join's response; `Err` the refusal's.
    pub async fn subscribe_and_join(&mut self, topic: &str, payload: impl IntoPayload) -> Result<Joined, Payload> {
        self.subscriptions.push(self.pubsub.subscribe(topic, 1024));
        self.join(topic, payload).await.map(|(joined, _)| joined)
    }

    /// Joins `topic`, returning the join and its response, or the refusal's response.
    pub async fn join(&mut self, topic: &str, payload: impl IntoPayload) -> Result<(Joined, Payload), Payload> {
        let join_ref = self.make_ref();
        let msg = message(Some(&join_ref), &join_ref, topic, "phx_join", payload.into_payload());
        self.connection.handle(msg).await;
        let (status, response) = self.take_reply(topic, &join_ref).await;
        match status.as_str() {
            "ok" => Ok((Joined { topic: topic.to_owned(), join_ref }, response)),
            _ => Err(response),
        }
    }

    /// Sends `event` with `payload` to a joined channel and returns the message's ref.
    pub async fn push(&mut self, joined: &Joined, event: &str, payload: impl IntoPayload) -> Ref {
        let ref_ = self.make_ref();
        let msg = message(Some(&joined.join_ref), &ref_, &joined.topic, event, payload.into_payload());
        self.connection.handle(msg).await;
        Ref(ref_)
    }

    /// Leaves a joined channel, asserting the ok reply and the `phx_close` that follows.
    pub async fn leave(&mut self, joined: &Joined) {
        let ref_ = self.make_ref();
        let msg = message(Some(&joined.join_ref), &ref_, &joined.topic, "phx_leave", Payload::empty());
        self.connection.handle(msg).await;
        let (status, _) = self.take_reply(&joined.topic, &ref_).await;
        assert_eq!(status, "ok", "leave of {} replied {status}", joined.topic);
        self.assert_push_on(&joined.topic, "phx_close", |_| true).await;
    }

    /// Closes the connection: every channel terminates as when a client goes away.
    pub fn close(mut self) {
        self.connection.close(crate::channel::TerminateReason::Closed);
    }

    /// Asserts the reply to `ref_` has `status` and a response equal to `response`.
    pub async fn assert_reply(&mut self, ref_: &Ref, status: &str, response: impl IntoPayload) -> Payload {
        let expected = response.into_payload();
        self.assert_reply_matching(ref_, status, |r| same(r, &expected)).await
    }

    /// Asserts the reply to `ref_` has `status` and a response `check` accepts; returns the response.
    pub async fn assert_reply_matching(
        &mut self,
        ref_: &Ref,
        status: &str,
        check: impl Fn(&Payload) -> bool,
    ) -> Payload {
        let found = self
            .wait_for(|r| {
                matches!(r, Received::Reply { ref_: Some(got), status: s, response, .. }
                if *got == ref_.0 && s == status && check(response))
            })
            .await;
        match found {
            Some(Received::Reply { response, .. }) => response,
            _ => self.fail(&format!("a reply to ref {} with status {status:?}", ref_.0)),
        }
    }

    /// Asserts the client received `event` with a payload equal to `payload` (a push or a broadcast).
    pub async fn assert_push(&mut self, event: &str, payload: impl IntoPayload) -> Payload {
        let expected = payload.into_payload();
        self.assert_push_matching(event, |p| same(p, &expected)).await
    }

    /// Asserts the client received `event` with a payload `check` accepts; returns the payload.
    pub async fn assert_push_matching(&mut self, event: &str, check: impl Fn(&Payload) -> bool) -> Payload {
        let found = self
            .wait_for(|r| matches!(r, Received::Push { event: e, payload, .. } if e == event && check(payload)))
            .await;
        match found {
            Some(Received::Push { payload, .. }) => payload,
            _ => self.fail(&format!("a push of {event:?}")),
        }
    }

    async fn assert_push_on(&mut self, topic: &str, event: &str, check: impl Fn(&Payload) -> bool) -> Payload {
        let found = self
            .wait_for(|r| matches!(r, Received::Push { topic: t, event: e, payload } if t == topic && e == event && check(payload)))
            .await;
        match found {
            Some(Received::Push { payload, .. }) => payload,
            _ => self.fail(&format!("{event:?} on {topic}")),
        }
    }

    /// Asserts the channel on `joined`'s topic crashed: the client got `phx_error`.
    pub async fn assert_error(&mut self, joined: &Joined) {
        self.assert_push_on(&joined.topic, "phx_error", |_| true).await;
    }

    /// Asserts the channel on `joined`'s topic stopped normally: the client got `phx_close`.
    pub async fn assert_close(&mut self, joined: &Joined) {
        self.assert_push_on(&joined.topic, "phx_close", |_| true).await;
    }

    /// Asserts nothing with `event` arrives within `within`.
    pub async fn refute_push(&mut self, event: &str, within: Duration) {
        let saved = std::mem::replace(&mut self.timeout, within);
        let found = self.wait_for(|r| matches!(r, Received::Push { event: e, .. } if e == event)).await;
        self.timeout = saved;
        if let Some(found) = found {
            panic!("expected no push of {event:?} within {within:?}, got {found:?}");
        }
    }

    /// Asserts `event` with a payload equal to `payload` was broadcast on a topic this client subscribed to.
    pub async fn assert_broadcast(&mut self, event: &str, payload: impl IntoPayload) -> Arc<Broadcast> {
        let expected = payload.into_payload();
        self.assert_broadcast_matching(event, |p| same(p, &expected)).await
    }

    /// Asserts `event` was broadcast with a payload `check` accepts.
    pub async fn assert_broadcast_matching(&mut self, event: &str, check: impl Fn(&Payload) -> bool) -> Arc<Broadcast> {
        let mut seen = Vec::new();
        let deadline = Instant::now() + self.timeout;
        loop {
            for sub in &mut self.subscriptions {
                while let Ok(Some(b)) = tokio::time::timeout(Duration::ZERO, sub.recv()).await {
                    if b.event == event && check(&b.payload) {
                        return b;
                    }
                    seen.push(b);
                }
            }
            if Instant::now() >= deadline {
                panic!("expected a broadcast of {event:?} within {:?}; broadcasts seen: {seen:#?}", self.timeout);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Asserts no broadcast of `event` happens on the subscribed topics within `within`.
    pub async fn refute_broadcast(&mut self, event: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            for sub in &mut self.subscriptions {
                while let Ok(Some(b)) = tokio::time::timeout(Duration::ZERO, sub.recv()).await {
                    assert!(b.event != event, "expected no broadcast of {event:?} within {within:?}, got {b:?}");
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Everything received and not yet matched by an assertion.
    pub fn received(&self) -> &VecDeque<Received> {
        &self.received
    }

    async fn take_reply(&mut self, topic: &str, ref_: &str) -> (String, Payload) {
        let found = self
            .wait_for(|r| matches!(r, Received::Reply { topic: t, ref_: Some(got), .. } if t == topic && got == ref_))
            .await;
        match found {
            Some(Received::Reply { status, response, .. }) => (status, response),
            _ => self.fail(&format!("a reply to ref {ref_} on {topic}")),
        }
    }

    /// Removes and returns the first received item `pred` accepts, waiting up to the timeout for it.
    async fn wait_for(&mut self, pred: impl Fn(&Received) -> bool) -> Option<Received> {
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(i) = self.received.iter().position(&pred) {
                return self.received.remove(i);
            }
            let mut batch = VecDeque::new();
            match tokio::time::timeout_at(deadline, self.outbox.recv_all(&mut batch)).await {
                Ok(true) => {
                    self.outbox.written(batch.iter().map(Frame::len).sum());
                    self.received.extend(batch.into_iter().map(decode));
                }
                Ok(false) | Err(_) => return None,
            }
        }
    }

    fn fail(&self, expected: &str) -> ! {
        panic!("expected {expected} within {:?}; received and unmatched: {:#?}", self.timeout, self.received)
    }
}

fn message(join_ref: Option<&str>, ref_: &str, topic: &str, event: &str, payload: Payload) -> Message {
    Message {
        join_ref: join_ref.map(str::to_owned),
        ref_: Some(ref_.to_owned()),
        topic: topic.to_owned(),
        event: event.to_owned(),
        payload,
    }
}

/// Equal payloads: JSON compared as values (key order aside), binary byte for byte.
fn same(a: &Payload, b: &Payload) -> bool {
    match (a, b) {
        (Payload::Json(a), Payload::Json(b)) => {
            serde_json::from_str::<Value>(a.get()).ok() == serde_json::from_str::<Value>(b.get()).ok()
        }
        _ => a == b,
    }
}

/// Decodes a frame the server sent, as a V2 client does.
fn decode(frame: Frame) -> Received {
    match frame {
        Frame::Text(text) => {
            let m = Serializer::V2.decode_text(&text).expect("the V2 serializer's own frames decode");
            if m.event == "phx_reply" {
                let reply: Value = m.payload.deserialize().expect("a reply is a JSON object");
                Received::Reply {
                    topic: m.topic,
                    ref_: m.ref_,
                    status: reply["status"].as_str().unwrap_or_default().to_owned(),
                    response: Payload::json(&reply["response"]),
                }
            } else {
                Received::Push { topic: m.topic, event: m.event, payload: m.payload }
            }
        }
        Frame::Binary(bytes) => decode_binary(&bytes),
    }
}

/// Server binary frames: push (0: join_ref, topic, event), reply (1: join_ref, ref, topic, status), broadcast
/// (2: topic, event).
fn decode_binary(bytes: &Bytes) -> Received {
    let kind = bytes[0];
    let nfields = [3, 4, 2][usize::from(kind)];
    let lens: Vec<usize> = bytes[1..=nfields].iter().map(|&l| usize::from(l)).collect();
    let mut at = 1 + nfields;
    let mut fields = Vec::new();
    for len in lens {
        fields.push(String::from_utf8(bytes[at..at + len].to_vec()).expect("UTF-8 header fields"));
        at += len;
    }
    let payload = Payload::Binary(bytes.slice(at..));
    match kind {
        1 => Received::Reply {
            topic: fields[2].clone(),
            ref_: Some(fields[1].clone()),
            status: fields[3].clone(),
            response: payload,
        },
        0 => Received::Push { topic: fields[1].clone(), event: fields[2].clone(), payload },
        _ => Received::Push { topic: fields[0].clone(), event: fields[1].clone(), payload },
    }
}
