//! Channels: the per-topic conversations of a connection, each served by its own task.
//!
//! A channel type is Phoenix's channel module; a value of it is one joined channel's state (what Phoenix keeps
//! in the channel process's socket assigns). [`Channel::join`] makes that value, the other callbacks get it as
//! `&mut self`, and a [`ChannelSocket`] gives every callback the topic, the connection's assigns, `push`,
//! `broadcast` and the ref of the message being handled.

mod server;

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::future::{Future, ready};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

pub(crate) use server::{JoinStart, Started, Tasks, start};

use crate::outbox::Outbox;
use crate::payload::{IntoPayload, Payload};
use crate::presence::{Presence, PresenceOwner, PresenceSlot, PresenceTracker};
use crate::pubsub::{Broadcast, PubSub};
use crate::queue::{PushError, Queue};
use crate::serializer::{Address, Frame};
use crate::socket::Socket;
use crate::state::{State, StateMap};

/// A channel: Phoenix's `use Phoenix.Channel` module, as a trait.
///
/// One task runs per joined channel; its callbacks run one at a time. A panic in any of them ends only that
/// channel: the client receives `phx_error` and rejoins, the connection and its other channels carry on.
///
/// ```
/// use channels_runtime::channel::{Channel, ChannelSocket, HandleResult, JoinResult, Reply};
/// use channels_runtime::payload::Payload;
/// # use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
/// # struct UserSocket;
/// # impl Socket for UserSocket {
/// #     async fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> { Ok(UserSocket) }
/// #     fn channels() -> Router<Self> { Router::new().channel::<RoomChannel>("rooms:*") }
/// # }
///
/// struct RoomChannel;
///
/// impl Channel for RoomChannel {
///     type Socket = UserSocket;
///     type Info = ();
///
///     async fn join(topic: &str, _payload: Payload, _socket: &mut ChannelSocket<Self>) -> JoinResult<Self> {
///         if topic == "rooms:lobby" {
///             JoinResult::ok(RoomChannel)
///         } else {
///             JoinResult::error(&serde_json::json!({"reason": "unauthorized"}))
///         }
///     }
///
///     async fn handle_in(&mut self, event: &str, payload: Payload, socket: &mut ChannelSocket<Self>) -> HandleResult {
///         match event {
///             "new_msg" => {
///                 socket.broadcast("new_msg", payload);
///                 HandleResult::NoReply
///             }
///             _ => HandleResult::Reply(Reply::error(&serde_json::json!({"reason": "unhandled event"}))),
///         }
///     }
/// }
/// ```
pub trait Channel: Sized + Send + 'static {
    /// The socket handler whose connections join this channel; its value is the connection's assigns.
    type Socket: Socket;

    /// Messages other tasks (or the channel itself) send to [`handle_info`](Channel::handle_info).
    type Info: Send + 'static;

    /// Broadcast events that go through [`handle_out`](Channel::handle_out) for each subscriber instead of
    /// straight to its client (Phoenix's `intercept`).
    const INTERCEPTS: &'static [&'static str] = &[];

    /// Handles a `phx_join`. Returning an error refuses the join with that response.
    fn join(
        topic: &str,
        payload: Payload,
        socket: &mut ChannelSocket<Self>,
    ) -> impl Future<Output = JoinResult<Self>> + Send;

    /// Handles an event from the client.
    fn handle_in(
        &mut self,
        event: &str,
        payload: Payload,
        socket: &mut ChannelSocket<Self>,
    ) -> impl Future<Output = HandleResult> + Send;

    /// Handles an intercepted broadcast for this subscriber. By default it pushes the broadcast unchanged.
    fn handle_out(
        &mut self,
        event: &str,
        payload: &Payload,
        socket: &mut ChannelSocket<Self>,
    ) -> impl Future<Output = OutResult> + Send {
        socket.push(event, payload);
        ready(OutResult::NoReply)
    }

    /// Handles a message sent with [`ChannelSocket::send_info`] or a [`ChannelHandle`]. By default it is dropped
    /// with a warning, as Phoenix does with unexpected messages.
    fn handle_info(
        &mut self,
        info: Self::Info,
        socket: &mut ChannelSocket<Self>,
    ) -> impl Future<Output = OutResult> + Send {
        drop(info);
        tracing::warn!(topic = socket.topic(), "handle_info is not implemented, message dropped");
        ready(OutResult::NoReply)
    }

    /// Runs when the channel ends other than by a crash: leave, stop, closed connection, server shutdown.
    fn terminate(
        &mut self,
        reason: &TerminateReason,
        socket: &mut ChannelSocket<Self>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (reason, socket);
        ready(())
    }
}

/// The outcome of [`Channel::join`].
///
/// ```
/// # use channels_runtime::channel::*;
/// # use channels_runtime::payload::Payload;
/// # use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
/// # use channels_runtime::testing::TestEndpoint;
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
/// #     async fn handle_in(&mut self, _: &str, _: Payload, _: &mut ChannelSocket<Self>) -> HandleResult { HandleResult::NoReply }
/// async fn join(topic: &str, _: Payload, _: &mut ChannelSocket<Self>) -> JoinResult<Self> {
///     if topic == "rooms:secret" {
///         return JoinResult::error(json!({"reason": "unauthorized"}));
///     }
///     JoinResult::ok_with(Room, json!({"welcome": topic}))
/// }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut client = TestEndpoint::<UserSocket>::new().connect(&[]).await.unwrap();
/// assert!(client.join("rooms:secret", json!({})).await.is_err());
/// let (_, response) = client.join("rooms:lobby", json!({})).await.unwrap();
/// assert_eq!(response.as_json(), Some(r#"{"welcome":"rooms:lobby"}"#));
/// # }
/// ```
#[derive(Debug)]
pub enum JoinResult<C> {
    /// Joined: the channel's state and the reply's response.
    Ok(C, Payload),
    /// Refused with this response.
    Error(Payload),
}

impl<C> JoinResult<C> {
    /// Joined, replying `{}`.
    pub fn ok(channel: C) -> Self {
        JoinResult::Ok(channel, Payload::empty())
    }

    /// Joined, replying `response`.
    pub fn ok_with(channel: C, response: impl IntoPayload) -> Self {
        JoinResult::Ok(channel, response.into_payload())
    }

    /// Refused, replying `response` (by convention `{"reason": ..}`).
    pub fn error(response: impl IntoPayload) -> Self {
        JoinResult::Error(response.into_payload())
    }
}

/// A reply to a client message: a status (`"ok"`, `"error"` or any other) and a response.
///
/// ```
/// use channels_runtime::channel::{HandleResult, Reply};
/// use serde_json::json;
///
/// // Any status the client's `receive("queued", ..)` waits for; `HandleResult::ok`/`error` cover the usual two.
/// let reply = Reply::new("queued", json!({"position": 3}));
/// assert_eq!(reply.status, "queued");
/// let _from_handle_in = HandleResult::Reply(reply);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The status.
    pub status: Cow<'static, str>,
    /// The response.
    pub response: Payload,
}

impl Reply {
    /// A reply with any status.
    pub fn new(status: impl Into<Cow<'static, str>>, response: impl IntoPayload) -> Self {
        Reply { status: status.into(), response: response.into_payload() }
    }

    /// Status `ok`.
    pub fn ok(response: impl IntoPayload) -> Self {
        Reply::new("ok", response)
    }

    /// Status `error`.
    pub fn error(response: impl IntoPayload) -> Self {
        Reply::new("error", response)
    }
}

/// The outcome of [`Channel::handle_in`].
///
/// ```
/// # use channels_runtime::channel::*;
/// # use channels_runtime::payload::Payload;
/// # use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
/// # use channels_runtime::testing::TestEndpoint;
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
/// async fn handle_in(&mut self, event: &str, payload: Payload, socket: &mut ChannelSocket<Self>) -> HandleResult {
///     match event {
///         "ping" => HandleResult::ok(payload),
///         "shout" => { socket.broadcast("shout", payload); HandleResult::NoReply }
///         "bye" => HandleResult::stop(),
///         _ => HandleResult::error(json!({"reason": "unknown event"})),
///     }
/// }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let mut client = TestEndpoint::<UserSocket>::new().connect(&[]).await.unwrap();
/// # let room = client.subscribe_and_join("rooms:lobby", json!({})).await.unwrap();
/// let r = client.push(&room, "ping", json!({"n": 1})).await;
/// client.assert_reply(&r, "ok", json!({"n": 1})).await;
/// # }
/// ```
#[derive(Debug)]
pub enum HandleResult {
    /// No reply (the client's push times out unless someone replies later through a [`SocketRef`]).
    NoReply,
    /// Reply to the message.
    Reply(Reply),
    /// Stop the channel, after replying if a reply is given.
    Stop {
        /// Why: normal and shutdown stops send `phx_close`, others `phx_error`.
        reason: StopReason,
        /// A reply sent before stopping.
        reply: Option<Reply>,
    },
}

impl HandleResult {
    /// Reply with status `ok`.
    pub fn ok(response: impl IntoPayload) -> Self {
        HandleResult::Reply(Reply::ok(response))
    }

    /// Reply with status `error`.
    pub fn error(response: impl IntoPayload) -> Self {
        HandleResult::Reply(Reply::error(response))
    }

    /// Stop normally without replying.
    pub fn stop() -> Self {
        HandleResult::Stop { reason: StopReason::Normal, reply: None }
    }
}

/// The outcome of [`Channel::handle_out`] and [`Channel::handle_info`].
///
/// ```
/// # use channels_runtime::channel::*;
/// # use channels_runtime::payload::Payload;
/// # use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
/// # use channels_runtime::testing::TestEndpoint;
/// # use serde_json::json;
/// # struct UserSocket;
/// # impl Socket for UserSocket {
/// #     async fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> { Ok(UserSocket) }
/// #     fn channels() -> Router<Self> { Router::new().channel::<Room>("rooms:*") }
/// # }
/// # struct Room;
/// # impl Channel for Room {
/// #     type Socket = UserSocket;
/// #     type Info = &'static str;
/// #     async fn handle_in(&mut self, _: &str, _: Payload, _: &mut ChannelSocket<Self>) -> HandleResult { HandleResult::NoReply }
/// async fn join(_: &str, _: Payload, socket: &mut ChannelSocket<Self>) -> JoinResult<Self> {
///     socket.send_info("after_join"); // handled once the join's reply is sent
///     JoinResult::ok(Room)
/// }
///
/// async fn handle_info(&mut self, info: &'static str, socket: &mut ChannelSocket<Self>) -> OutResult {
///     match info {
///         "after_join" => { socket.push("welcome", json!({})); OutResult::NoReply }
///         _ => OutResult::Stop(StopReason::Error(format!("unexpected {info}"))),
///     }
/// }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let mut client = TestEndpoint::<UserSocket>::new().connect(&[]).await.unwrap();
/// # client.join("rooms:lobby", json!({})).await.unwrap();
/// # client.assert_push("welcome", json!({})).await;
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutResult {
    /// Carry on.
    NoReply,
    /// Stop the channel.
    Stop(StopReason),
}

/// Why a channel stops itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// A normal stop: the client gets `phx_close` and does not rejoin.
    Normal,
    /// A shutdown with a reason: `phx_close` too.
    Shutdown(String),
    /// An abnormal stop: the client gets `phx_error` and rejoins.
    Error(String),
}

impl StopReason {
    /// Whether the client is told `phx_close` (rather than `phx_error`).
    pub fn is_normal(&self) -> bool {
        !matches!(self, StopReason::Error(_))
    }
}

/// Why [`Channel::terminate`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminateReason {
    /// The client left (`phx_leave`).
    Left,
    /// The connection closed.
    Closed,
    /// The server is shutting down.
    Shutdown,
    /// A callback stopped the channel.
    Stopped(StopReason),
}

/// Messages a channel task receives.
pub(crate) enum ChannelMsg {
    In { event: String, payload: Payload, ref_: Option<Arc<str>> },
    Leave { ref_: Option<Arc<str>> },
    Out(Arc<Broadcast>),
    Info(Box<dyn Any + Send>),
    Close(TerminateReason),
}

/// A channel's view of itself and its connection, given to every callback.
///
/// ```
/// # use channels_runtime::channel::*;
/// # use channels_runtime::payload::Payload;
/// # use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
/// # use channels_runtime::testing::TestEndpoint;
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
/// async fn handle_in(&mut self, event: &str, payload: Payload, socket: &mut ChannelSocket<Self>) -> HandleResult {
///     let _user: &UserSocket = socket.assigns(); // what `connect` returned
///     socket.push("echo", &payload); // to this client only
///     socket.broadcast_from(event, payload); // to every subscriber of the topic but this one
///     HandleResult::ok(json!({"topic": socket.topic()}))
/// }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let mut client = TestEndpoint::<UserSocket>::new().connect(&[]).await.unwrap();
/// # let room = client.subscribe_and_join("rooms:lobby", json!({})).await.unwrap();
/// let r = client.push(&room, "new_msg", json!({"body": "hi"})).await;
/// client.assert_push("echo", json!({"body": "hi"})).await;
/// client.assert_reply(&r, "ok", json!({"topic": "rooms:lobby"})).await;
/// # }
/// ```
pub struct ChannelSocket<C: Channel> {
    topic: Arc<str>,
    /// What this channel's pushes and replies carry: the join's join_ref, or its ref when that was null
    /// (Phoenix's `join_ref || ref`).
    join_ref: Option<Arc<str>>,
    /// The join_ref as the client sent it, which the join's reply, `phx_close` and `phx_error` carry.
    client_join_ref: Option<Arc<str>>,
    ref_: Option<Arc<str>>,
    assigns: Arc<C::Socket>,
    outbox: Arc<Outbox>,
    pubsub: PubSub,
    subscription: Option<u64>,
    mailbox: Arc<Queue<ChannelMsg>>,
    /// Pushes made during the join, sent after its reply (`Some` only while joining).
    deferred: Mutex<Option<Vec<Frame>>>,
    /// What this channel tracks in presence, untracked when the channel (and so this socket) is dropped.
    presence: Option<PresenceOwner>,
    presence_slot: PresenceSlot,
    state: StateMap,
    _info: PhantomData<fn(C::Info)>,
}

impl<C: Channel> ChannelSocket<C> {
    /// The topic this channel joined.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The join_ref of this incarnation of the channel: that of its `phx_join`, or the join's ref when the
    /// client sent none (as Phoenix).
    pub fn join_ref(&self) -> Option<&str> {
        self.join_ref.as_deref()
    }

    /// The ref of the message being handled, if it has one.
    pub fn message_ref(&self) -> Option<&str> {
        self.ref_.as_deref()
    }

    /// The connection's assigns: the value its socket handler's `connect` returned.
    pub fn assigns(&self) -> &C::Socket {
        &self.assigns
    }

    /// The endpoint's PubSub.
    pub fn pubsub(&self) -> &PubSub {
        &self.pubsub
    }

    /// The endpoint's presence tracker.
    pub fn presence(&self) -> Presence {
        self.presence_slot.get().clone()
    }

    /// The endpoint's app state of type `T` (given with
    /// [`EndpointBuilder::state`](crate::endpoint::EndpointBuilder::state)), or `None` when it has none of that
    /// type. Handlers written with `#[channel]` can take it as a `State<T>` parameter instead.
    ///
    /// ```
    /// use channels_runtime::channel::{Channel, ChannelSocket, HandleResult, JoinResult};
    /// use channels_runtime::payload::Payload;
    /// use channels_runtime::state::State;
    /// # use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
    /// # use channels_runtime::testing::TestEndpoint;
    /// # struct UserSocket;
    /// # impl Socket for UserSocket {
    /// #     async fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> { Ok(UserSocket) }
    /// #     fn channels() -> Router<Self> { Router::new().channel::<Counter>("counter") }
    /// # }
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// /// Shared by every channel of the endpoint.
    /// struct Hits {
    ///     count: AtomicU64,
    /// }
    ///
    /// struct Counter;
    ///
    /// impl Channel for Counter {
    ///     type Socket = UserSocket;
    ///     type Info = ();
    ///
    ///     async fn join(_: &str, _: Payload, _: &mut ChannelSocket<Self>) -> JoinResult<Self> {
    ///         JoinResult::ok(Counter)
    ///     }
    ///
    ///     async fn handle_in(&mut self, _: &str, _: Payload, socket: &mut ChannelSocket<Self>) -> HandleResult {
    ///         let hits: State<Hits> = socket.state().expect("the endpoint is given `Hits`");
    ///         HandleResult::ok(serde_json::json!({"hits": hits.count.fetch_add(1, Ordering::Relaxed) + 1}))
    ///     }
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let endpoint = TestEndpoint::<UserSocket>::new().state(Hits { count: AtomicU64::new(0) });
    /// # let mut client = endpoint.connect(&[]).await.unwrap();
    /// # let counter = client.subscribe_and_join("counter", serde_json::json!({})).await.unwrap();
    /// # let r = client.push(&counter, "hit", serde_json::json!({})).await;
    /// # client.assert_reply(&r, "ok", serde_json::json!({"hits": 1})).await;
    /// # }
    /// ```
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<State<T>> {
        self.state.get()
    }

    /// Pushes `event` with `payload` to this client only. A push made while joining reaches the client right
    /// after the join's reply.
    pub fn push(&self, event: &str, payload: impl IntoPayload) {
        let Some(frame) = self.outbox.message_frame(self.address(None), event, &payload.into_payload()) else {
            return;
        };
        let mut deferred = self.deferred.lock().unwrap_or_else(|e| e.into_inner());
        match deferred.as_mut() {
            Some(frames) => frames.push(frame),
            None => {
                drop(deferred);
                self.outbox.push(frame);
            }
        }
    }

    /// Broadcasts `event` with `payload` to every subscriber of this channel's topic, this client included.
    pub fn broadcast(&self, event: &str, payload: impl IntoPayload) {
        self.pubsub.publish(Arc::new(Broadcast::new(&self.topic, event, payload)), None);
    }

    /// Broadcasts to every subscriber of this channel's topic except this channel.
    pub fn broadcast_from(&self, event: &str, payload: impl IntoPayload) {
        self.pubsub.publish(Arc::new(Broadcast::new(&self.topic, event, payload)), self.subscription);
    }

    /// A handle for replying later, from any task, to the message being handled (Phoenix's `socket_ref`).
    /// `None` when the message has no ref.
    pub fn socket_ref(&self) -> Option<SocketRef> {
        Some(SocketRef {
            outbox: self.outbox.clone(),
            topic: self.topic.clone(),
            join_ref: self.join_ref.clone(),
            ref_: self.ref_.clone()?,
        })
    }

    /// Sends `info` to this channel's own [`handle_info`](Channel::handle_info), after the current callback
    /// (Phoenix's `send(self(), msg)`, e.g. to push right after the join).
    pub fn send_info(&self, info: C::Info) {
        self.handle().send_or_log(info);
    }

    /// A handle other tasks use to send this channel [`Channel::Info`] messages.
    pub fn handle(&self) -> ChannelHandle<C::Info> {
        ChannelHandle { mailbox: self.mailbox.clone(), _info: PhantomData }
    }

    /// The topic as a shared handle, for generated handlers that also take `&mut ChannelSocket` (a borrow of
    /// `topic()` could not coexist with it).
    pub(crate) fn topic_shared(&self) -> Arc<str> {
        self.topic.clone()
    }

    /// The assigns as a shared handle, for the same reason as [`topic_shared`](Self::topic_shared).
    pub(crate) fn assigns_shared(&self) -> Arc<C::Socket> {
        self.assigns.clone()
    }

    /// Where this channel's pushes and replies (to `ref_`) go.
    pub(crate) fn address<'a>(&'a self, ref_: Option<&'a str>) -> Address<'a> {
        Address { join_ref: self.join_ref(), ref_, topic: &self.topic }
    }

    pub(crate) fn reply(&self, ref_: Option<&str>, reply: &Reply) {
        self.outbox.send_reply(self.address(ref_), &reply.status, &reply.response);
    }

    /// The join's reply: it carries the join_ref as the client sent it.
    pub(crate) fn reply_to_join(&self, ref_: Option<&str>, reply: &Reply) {
        let to = Address { join_ref: self.client_join_ref.as_deref(), ref_, topic: &self.topic };
        self.outbox.send_reply(to, &reply.status, &reply.response);
    }
}

impl<C: Channel> PresenceTracker for ChannelSocket<C> {
    fn presence_owner(&mut self, presence: &Presence) -> &PresenceOwner {
        match &mut self.presence {
            Some(owner) if owner.belongs_to(presence) => {}
            // Another tracker's entries leave with its owner: a channel tracks in one tracker at a time.
            slot => *slot = Some(presence.owner(&self.topic)),
        }
        self.presence.as_ref().expect("just set")
    }
}

impl<C: Channel> fmt::Debug for ChannelSocket<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelSocket")
            .field("topic", &self.topic)
            .field("join_ref", &self.join_ref)
            .field("ref", &self.ref_)
            .finish_non_exhaustive()
    }
}

/// Replies to one client message from anywhere, later (Phoenix's `socket_ref` and `reply/2`).
///
/// Several replies to the same ref are allowed, as in Phoenix; a reply after the connection closed is dropped.
///
/// ```
/// # use channels_runtime::channel::*;
/// # use channels_runtime::payload::Payload;
/// # use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
/// # use channels_runtime::testing::TestEndpoint;
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
/// async fn handle_in(&mut self, _: &str, payload: Payload, socket: &mut ChannelSocket<Self>) -> HandleResult {
///     let Some(reply_to) = socket.socket_ref() else { return HandleResult::NoReply };
///     tokio::spawn(async move {
///         // ... slow work, while the channel handles other messages ...
///         reply_to.reply(Reply::ok(payload));
///     });
///     HandleResult::NoReply
/// }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let mut client = TestEndpoint::<UserSocket>::new().connect(&[]).await.unwrap();
/// # let room = client.subscribe_and_join("rooms:lobby", json!({})).await.unwrap();
/// let r = client.push(&room, "work", json!({"job": 1})).await;
/// client.assert_reply(&r, "ok", json!({"job": 1})).await;
/// # }
/// ```
#[derive(Clone)]
pub struct SocketRef {
    outbox: Arc<Outbox>,
    topic: Arc<str>,
    join_ref: Option<Arc<str>>,
    ref_: Arc<str>,
}

impl SocketRef {
    /// Sends `reply` to the client.
    pub fn reply(&self, reply: Reply) {
        let to = Address { join_ref: self.join_ref.as_deref(), ref_: Some(&self.ref_), topic: &self.topic };
        self.outbox.send_reply(to, &reply.status, &reply.response);
    }
}

impl fmt::Debug for SocketRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketRef").field("topic", &self.topic).field("ref", &self.ref_).finish()
    }
}

/// Sends [`Channel::Info`] messages to one joined channel from any task (like a pid in Phoenix).
///
/// ```
/// # use channels_runtime::channel::*;
/// # use channels_runtime::payload::Payload;
/// # use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
/// # use channels_runtime::testing::TestEndpoint;
/// # use serde_json::json;
/// # struct UserSocket;
/// # impl Socket for UserSocket {
/// #     async fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> { Ok(UserSocket) }
/// #     fn channels() -> Router<Self> { Router::new().channel::<Room>("rooms:*") }
/// # }
/// # struct Room;
/// # impl Channel for Room {
/// #     type Socket = UserSocket;
/// #     type Info = u32;
/// #     async fn handle_in(&mut self, _: &str, _: Payload, _: &mut ChannelSocket<Self>) -> HandleResult { HandleResult::NoReply }
/// async fn join(_: &str, _: Payload, socket: &mut ChannelSocket<Self>) -> JoinResult<Self> {
///     let handle: ChannelHandle<u32> = socket.handle();
///     tokio::spawn(async move {
///         let _ = handle.send(42); // Err(SendError::Closed(42)) once the channel has ended
///     });
///     JoinResult::ok(Room)
/// }
///
/// async fn handle_info(&mut self, count: u32, socket: &mut ChannelSocket<Self>) -> OutResult {
///     socket.push("count", json!({"count": count}));
///     OutResult::NoReply
/// }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let mut client = TestEndpoint::<UserSocket>::new().connect(&[]).await.unwrap();
/// # client.join("rooms:lobby", json!({})).await.unwrap();
/// # client.assert_push("count", json!({"count": 42})).await;
/// # }
/// ```
pub struct ChannelHandle<I> {
    mailbox: Arc<Queue<ChannelMsg>>,
    _info: PhantomData<fn(I)>,
}

impl<I> Clone for ChannelHandle<I> {
    fn clone(&self) -> Self {
        ChannelHandle { mailbox: self.mailbox.clone(), _info: PhantomData }
    }
}

impl<I> fmt::Debug for ChannelHandle<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChannelHandle")
    }
}

/// Why a [`ChannelHandle::send`] failed; the message comes back.
#[derive(Debug, PartialEq, Eq)]
pub enum SendError<I> {
    /// The channel has ended.
    Closed(I),
    /// The channel's mailbox is full.
    Full(I),
}

impl<I: Send + 'static> ChannelHandle<I> {
    /// Queues `info` for the channel's `handle_info`.
    pub fn send(&self, info: I) -> Result<(), SendError<I>> {
        let unbox = |msg: ChannelMsg| match msg {
            ChannelMsg::Info(b) => *b.downcast::<I>().unwrap_or_else(|_| unreachable!("we boxed an I")),
            _ => unreachable!("we pushed an Info"),
        };
        match self.mailbox.try_push(ChannelMsg::Info(Box::new(info))) {
            Ok(()) => Ok(()),
            Err(PushError::Full(m)) => Err(SendError::Full(unbox(m))),
            Err(PushError::Closed(m)) => Err(SendError::Closed(unbox(m))),
        }
    }

    /// Whether the channel has ended.
    pub fn is_closed(&self) -> bool {
        self.mailbox.is_closed()
    }

    fn send_or_log(&self, info: I) {
        if let Err(SendError::Full(_)) = self.send(info) {
            tracing::warn!("channel mailbox full, info message dropped");
        }
    }
}
