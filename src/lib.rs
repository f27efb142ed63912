//! Phoenix Channels, done in Rust.
//!
//! This crate is the one users depend on: it re-exports the runtime ([`channels_runtime`]) and the macros that
//! write its `Socket` and `Channel` impls from plain methods. `use channels::prelude::*;` brings both.
//!
//! It is published as the package `phx-channels` (`cargo add phx-channels`); the library keeps the name
//! `channels`, which is also the path the macros' generated code names it by.
//!
//! The guide's chat, whole:
//!
//! ```no_run
//! use channels::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! struct UserSocket;
//!
//! #[socket]
//! impl UserSocket {
//!     channel!("rooms:*" => RoomChannel);
//!
//!     async fn connect(_params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
//!         Ok(UserSocket)
//!     }
//! }
//!
//! struct RoomChannel;
//!
//! #[channel]
//! impl RoomChannel {
//!     #[join("rooms:lobby")]
//!     async fn lobby() -> JoinResult<Self> {
//!         JoinResult::ok(RoomChannel)
//!     }
//!
//!     #[join(_)]
//!     async fn private() -> JoinResult<Self> {
//!         JoinResult::error(serde_json::json!({"reason": "unauthorized"}))
//!     }
//!
//!     #[handle_in("new_msg")]
//!     async fn new_msg(&mut self, msg: NewMsg, socket: &mut ChannelSocket<Self>) {
//!         socket.broadcast("new_msg", &msg);
//!     }
//! }
//!
//! #[derive(Deserialize, Serialize)]
//! struct NewMsg {
//!     body: String,
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let endpoint = Endpoint::builder().socket::<UserSocket>("/socket", SocketConfig::default()).build();
//!     endpoint.serve(("127.0.0.1", 4000)).await
//! }
//! ```
//!
//! What the compiler checks that Phoenix finds at run time (or never): every route reaches a join clause of its
//! channel, no join clause is hidden by an earlier one, each event has one handler, intercepted events and
//! `#[handle_out]` handlers agree, captures and parameters match by name, and every parameter and return type
//! is one the dispatch can provide or use. Each mistake is one error, on the offending token, saying how to fix
//! it.
//!
//! At run time, an event with no `#[handle_in]` gets the error reply `{"reason":"unhandled event"}` and a
//! warning is logged (Phoenix would crash the channel); a payload that does not deserialize into the handler's
//! parameter gets `{"reason":"invalid payload","details":..}`; in both cases the channel lives on. A join whose
//! topic no clause matches is refused with `{"reason":"unmatched topic"}`.

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use channels_runtime::*;

/// Writes a socket handler's [`Socket`](crate::socket::Socket) impl: its `channel!` routes, `connect` and `id`.
///
/// The struct is the connection's assigns (Phoenix's `socket.assigns` set in `connect/3`): `connect` builds it
/// from the client's params, and every channel of the connection reads it as [`ChannelSocket::assigns`](crate::channel::ChannelSocket::assigns) or an
/// `assigns: &UserSocket` handler parameter.
///
/// - `channel!("rooms:*" => RoomChannel);` routes topics to a channel, as Phoenix's `channel "rooms:*",
///   RoomChannel`: an exact topic, or a prefix ending in `*`. Routes are tried in order, first match wins; the
///   generated router is a `match` on the topic.
/// - `async fn connect(params: &ConnectParams, info: &ConnectInfo) -> Result<Self, Refuse>` (required; may be a
///   plain `fn`) accepts a connection with its assigns, or refuses it (HTTP 403). After `params` and `info` it may
///   take app state: `config: State<Config>` receives the value given with
///   [`EndpointBuilder::state`](crate::endpoint::EndpointBuilder::state).
/// - The socket handler's [`required_state`](crate::socket::Socket::required_state) lists the `State<T>` types
///   its `connect` and its channels' handlers take, and building the endpoint panics if one was not given.
/// - `fn id(&self) -> Option<String>` (optional) names the connection, so broadcasting `disconnect` to that id
///   closes it.
/// - Other items stay in an ordinary inherent impl.
///
/// Generated code reaches this crate as `::channels`; when it has another name (a renamed dependency, or a
/// crate that re-exports it), give its path: `#[socket(crate = my_channels)]`. The same goes for
/// `#[channel(crate = my_channels)]`.
///
/// Compile-time checks: a route hidden by an earlier route; a malformed pattern; a route naming a type that is
/// not a `#[channel]` of this socket handler; a route that can never reach any `#[join]` pattern of its channel
/// (`channel!("lobby:*" => RoomChannel)` when RoomChannel joins `"rooms:..."`); a missing `connect`; a
/// `connect` parameter other than app state after `params` and `info`, or app state before them.
///
/// ```
/// use channels::prelude::*;
///
/// struct UserSocket {
///     user_id: Option<String>,
/// }
///
/// #[socket]
/// impl UserSocket {
///     channel!("rooms:*" => RoomChannel);
///
///     async fn connect(params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
///         if params.get("reject") == Some("true") {
///             return Err(Refuse);
///         }
///         Ok(UserSocket { user_id: params.get("user_id").map(str::to_owned) })
///     }
///
///     fn id(&self) -> Option<String> {
///         self.user_id.as_ref().map(|id| format!("users_socket:{id}"))
///     }
/// }
///
/// # struct RoomChannel;
/// # #[channel]
/// # impl RoomChannel {
/// #     #[join("rooms:{_room}")]
/// #     async fn join() -> JoinResult<Self> { JoinResult::ok(RoomChannel) }
/// # }
/// let socket = UserSocket { user_id: Some("7".into()) };
/// assert_eq!(socket.id().as_deref(), Some("users_socket:7"));
/// ```
pub use channels_macros::socket;

/// Writes a channel's [`Channel`](crate::channel::Channel) impl from handler methods: Phoenix's `use Phoenix.Channel` module.
///
/// The struct is the state of one joined channel (what Phoenix keeps in the channel process's assigns): a
/// [`#[join]`](macro@join) handler returns it, the other handlers get it as `&mut self`.
///
/// `#[channel]` makes a channel of the socket handler `UserSocket` (Phoenix's convention). For another one,
/// name it: `#[channel(socket = AdminSocket)]`. When this crate is not `::channels` to the code using it, give its
/// path: `#[channel(crate = my_channels)]` (a path, not a string; both arguments may be given).
///
/// | Handler | Phoenix | Returns |
/// |---|---|---|
/// | [`#[join("pattern")]`](macro@join), [`#[join(_)]`](macro@join) | `join/3` clauses | [`JoinResult<Self>`](crate::channel::JoinResult) |
/// | [`#[handle_in("event")]`](macro@handle_in) | `handle_in/3` clauses | [`HandleResult`](crate::channel::HandleResult), [`Reply`](crate::channel::Reply) or `()` |
/// | [`#[handle_out("event")]`](macro@handle_out) | `handle_out/3` + `intercept` | [`OutResult`](crate::channel::OutResult) or `()` |
/// | [`#[handle_info]`](macro@handle_info) | `handle_info/2` | [`OutResult`](crate::channel::OutResult) or `()` |
/// | [`#[terminate]`](macro@terminate) | `terminate/2` | `()` |
///
/// Handlers may be `async fn` or `fn`. Their parameters are filled by type, then by name:
///
/// - `socket: &mut ChannelSocket<Self>` (or `&ChannelSocket<Self>`): push, broadcast, topic, assigns;
/// - `payload: Payload` or `&Payload`: the raw payload (JSON or binary);
/// - `topic: &str`: the channel's topic;
/// - `assigns: &UserSocket`: the connection's assigns;
/// - `config: State<Config>` (any name): the app state of that type given to the endpoint
///   ([`State`](crate::state::State), [`EndpointBuilder::state`](crate::endpoint::EndpointBuilder::state));
/// - in a join, a parameter named like a capture of its pattern: that capture, parsed ([`FromTopicSegment`](crate::dsl::FromTopicSegment));
/// - any other parameter: the payload, deserialized with serde (in a join it must be named `payload` or
///   `params`; in `#[handle_info]` it is the message, and its type becomes [`Channel::Info`](crate::channel::Channel::Info)).
///
/// Dispatch is generated: `handle_in` is a `match` on the event, `join` tries its clauses in order.
/// An event with no handler gets the error reply `{"reason":"unhandled event"}` and logs a warning (Phoenix would
/// crash the channel); a payload that does not deserialize gets `{"reason":"invalid payload","details":..}`;
/// the channel lives on in both cases. No clause matching the topic refuses the join with
/// `{"reason":"unmatched topic"}`.
///
/// ```
/// use channels::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// # struct UserSocket { name: String }
/// # #[socket]
/// # impl UserSocket {
/// #     channel!("rooms:*" => RoomChannel);
/// #     fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> { Ok(UserSocket { name: "ann".into() }) }
/// # }
/// struct RoomChannel {
///     room: u32,
///     sent: usize,
/// }
///
/// #[derive(Deserialize, Serialize)]
/// struct NewMsg {
///     body: String,
/// }
///
/// #[channel]
/// impl RoomChannel {
///     #[join("rooms:{room}")]
///     async fn join(room: u32) -> JoinResult<Self> {
///         JoinResult::ok(RoomChannel { room, sent: 0 })
///     }
///
///     #[handle_in("new_msg")]
///     async fn new_msg(&mut self, msg: NewMsg, socket: &mut ChannelSocket<Self>) -> HandleResult {
///         self.sent += 1;
///         socket.broadcast("new_msg", &msg);
///         HandleResult::ok(serde_json::json!({"room": self.room, "sent": self.sent}))
///     }
///
///     #[handle_in("whoami")]
///     fn whoami(&self, assigns: &UserSocket) -> Reply {
///         Reply::ok(serde_json::json!({"name": assigns.name}))
///     }
/// }
/// ```
pub use channels_macros::channel;

/// A join clause of a [`#[channel]`](macro@channel): Phoenix's `def join("rooms:" <> id, payload, socket)`.
///
/// The pattern is literal text with `{name}` captures. A capture matches one or more characters other than
/// `:` (so at most one per `:`-separated segment, with literal text around it allowed: `"user-{id}.v1"`), and
/// is bound to the handler parameter of the same name, parsed with [`FromTopicSegment`](crate::dsl::FromTopicSegment) (`String`, integers,
/// `bool`, `char`, or your type). `{_name}` matches without binding. `*` is not allowed: capture instead.
///
/// `#[join(_)]` is the catch-all clause: every topic routed to the channel, like Elixir's
/// `def join(_topic, _payload, _socket)` (take `topic: &str` to see which).
///
/// Clauses are tried in order, like Elixir function clauses; a capture that does not parse (`"abc"` for a
/// `u32`) makes its clause not match, so the next one is tried. A clause that an earlier one always wins over
/// (for instance after `"rooms:{name}"` with `name: String`, or after `#[join(_)]`) is a compile error.
///
/// Parameters: captures, `payload`/`params` (the join payload, deserialized or as [`Payload`](crate::payload::Payload)), `topic: &str`,
/// `assigns: &UserSocket`, `socket: &mut ChannelSocket<Self>`, app state as [`State<T>`](crate::state::State). No `self`: the handler makes the state, returning
/// [`JoinResult<Self>`](crate::channel::JoinResult).
///
/// ```
/// use channels::prelude::*;
/// # struct UserSocket;
/// # #[socket]
/// # impl UserSocket {
/// #     channel!("rooms:*" => RoomChannel);
/// #     fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> { Ok(UserSocket) }
/// # }
///
/// #[derive(serde::Deserialize)]
/// struct Credentials {
///     token: String,
/// }
///
/// enum RoomChannel {
///     Lobby,
///     Numbered(u64),
///     Named(String),
/// }
///
/// #[channel]
/// impl RoomChannel {
///     #[join("rooms:lobby")]
///     async fn lobby() -> JoinResult<Self> {
///         JoinResult::ok(RoomChannel::Lobby)
///     }
///
///     // "rooms:42" lands here; "rooms:abc" does not parse as u64 and falls through to `named`
///     #[join("rooms:{id}")]
///     async fn numbered(id: u64, params: Credentials) -> JoinResult<Self> {
///         if params.token == "secret" {
///             JoinResult::ok(RoomChannel::Numbered(id))
///         } else {
///             JoinResult::error(serde_json::json!({"reason": "unauthorized"}))
///         }
///     }
///
///     #[join("rooms:{name}")]
///     async fn named(name: String, topic: &str) -> JoinResult<Self> {
///         JoinResult::ok_with(RoomChannel::Named(name), serde_json::json!({"topic": topic}))
///     }
///
///     // "rooms:" and "rooms:a:b" (a capture is never empty and never spans a `:`)
///     #[join(_)]
///     async fn other() -> JoinResult<Self> {
///         JoinResult::error(serde_json::json!({"reason": "unauthorized"}))
///     }
/// }
/// ```
pub use channels_macros::join;

/// The handler of one client event in a [`#[channel]`](macro@channel): Phoenix's `handle_in/3` clause for that
/// event.
///
/// Takes `&mut self` (or `&self`) and any of: the payload (deserialized into a `serde::Deserialize` type, or raw
/// as [`Payload`](crate::payload::Payload)), `socket: &mut ChannelSocket<Self>`, `topic: &str`, `assigns: &UserSocket`, app state as
/// [`State<T>`](crate::state::State). Returns
/// [`HandleResult`](crate::channel::HandleResult), a [`Reply`](crate::channel::Reply), `()` for no reply, a `Result` of those, or any [`IntoHandleResult`](crate::dsl::IntoHandleResult) type.
/// One handler per event (a duplicate is a compile error); events without one get `{"reason":"unhandled event"}`.
///
/// ```
/// use channels::prelude::*;
/// # struct UserSocket;
/// # #[socket]
/// # impl UserSocket {
/// #     channel!("counter:*" => Counter);
/// #     fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> { Ok(UserSocket) }
/// # }
/// struct Counter(i64);
///
/// #[derive(serde::Deserialize)]
/// struct Add {
///     by: i64,
/// }
///
/// #[channel]
/// impl Counter {
///     #[join("counter:{_name}")]
///     fn join() -> JoinResult<Self> {
///         JoinResult::ok(Counter(0))
///     }
///
///     #[handle_in("add")]
///     fn add(&mut self, add: Add) -> Reply {
///         self.0 += add.by;
///         Reply::ok(serde_json::json!({"value": self.0}))
///     }
///
///     // raw payload, pushed back to this client only, no reply
///     #[handle_in("echo")]
///     async fn echo(&self, payload: Payload, socket: &mut ChannelSocket<Self>) {
///         socket.push("echo", payload);
///     }
/// }
/// ```
pub use channels_macros::handle_in;

/// The handler of an intercepted broadcast in a [`#[channel]`](macro@channel): Phoenix's `handle_out/3`.
///
/// It runs once per subscriber of the topic, for events listed in [`#[intercept(..)]`](macro@intercept), and
/// decides what that subscriber's client receives (push it as is, changed, or not at all). Takes `&mut self`
/// and any of: the broadcast's payload (deserialized, or as `&Payload`/`Payload`), the socket, `topic`,
/// `assigns`, app state (`State<T>`). Returns [`OutResult`](crate::channel::OutResult) or `()`. A `#[handle_out]` for an event that is not intercepted, and an
/// intercepted event without one, are compile errors. A broadcast whose payload does not deserialize into the
/// handler's parameter is logged as an error and not pushed.
///
/// ```
/// use channels::prelude::*;
/// # #[socket]
/// # impl UserSocket {
/// #     channel!("rooms:*" => RoomChannel);
/// #     fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> { Ok(UserSocket { ignored: vec![] }) }
/// # }
/// struct UserSocket {
///     ignored: Vec<String>,
/// }
///
/// #[derive(serde::Deserialize, serde::Serialize)]
/// struct UserJoined {
///     user_id: String,
/// }
///
/// struct RoomChannel;
///
/// #[channel]
/// #[intercept("user_joined")]
/// impl RoomChannel {
///     #[join("rooms:lobby")]
///     fn join() -> JoinResult<Self> {
///         JoinResult::ok(RoomChannel)
///     }
///
///     #[handle_out("user_joined")]
///     fn user_joined(&mut self, msg: UserJoined, assigns: &UserSocket, socket: &mut ChannelSocket<Self>) {
///         if !assigns.ignored.contains(&msg.user_id) {
///             socket.push("user_joined", &msg);
///         }
///     }
/// }
/// assert_eq!(<RoomChannel as Channel>::INTERCEPTS, ["user_joined"]);
/// ```
pub use channels_macros::handle_out;

/// Lists the broadcast events a [`#[channel]`](macro@channel) intercepts: Phoenix's `intercept ["user_joined"]`.
///
/// Written on the channel's impl block, below or above `#[channel]` (it can also be repeated). Each listed event
/// needs a [`#[handle_out]`](macro@handle_out) handler, and each handler's event must be listed: both mistakes
/// are compile errors. On an impl block without `#[channel]` it is a compile error too.
///
/// ```
/// use channels::prelude::*;
/// # struct UserSocket;
/// # #[socket]
/// # impl UserSocket {
/// #     channel!("feed:*" => Feed);
/// #     fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> { Ok(UserSocket) }
/// # }
/// struct Feed {
///     muted: bool,
/// }
///
/// #[channel]
/// #[intercept("post", "like")]
/// impl Feed {
///     #[join("feed:{_user}")]
///     fn join() -> JoinResult<Self> {
///         JoinResult::ok(Feed { muted: false })
///     }
///
///     #[handle_out("post")]
///     fn post(&mut self, payload: &Payload, socket: &mut ChannelSocket<Self>) {
///         socket.push("post", payload);
///     }
///
///     #[handle_out("like")]
///     fn like(&mut self, payload: &Payload, socket: &mut ChannelSocket<Self>) -> OutResult {
///         if !self.muted {
///             socket.push("like", payload);
///         }
///         OutResult::NoReply
///     }
/// }
/// ```
pub use channels_macros::intercept;

/// The handler of messages a [`#[channel]`](macro@channel) receives from its own tasks or others: Phoenix's
/// `handle_info/2`.
///
/// At most one per channel. Its message parameter's type becomes [`Channel::Info`](crate::channel::Channel::Info) (`()` without one); send
/// messages with [`ChannelSocket::send_info`](crate::channel::ChannelSocket::send_info) or a [`ChannelHandle`](crate::channel::ChannelHandle). Takes `&mut self`, the message, and any of
/// the socket, `topic`, `assigns`, app state (`State<T>`). Returns [`OutResult`](crate::channel::OutResult) or `()`.
///
/// ```
/// use channels::prelude::*;
/// # struct UserSocket;
/// # #[socket]
/// # impl UserSocket {
/// #     channel!("game:*" => Game);
/// #     fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> { Ok(UserSocket) }
/// # }
/// struct Game;
///
/// enum Tick {
///     AfterJoin,
/// }
///
/// #[channel]
/// impl Game {
///     #[join("game:{_id}")]
///     fn join(socket: &mut ChannelSocket<Self>) -> JoinResult<Self> {
///         // pushed once the join's reply is out, as Phoenix's `send(self(), :after_join)`
///         socket.send_info(Tick::AfterJoin);
///         JoinResult::ok(Game)
///     }
///
///     #[handle_info]
///     async fn tick(&mut self, tick: Tick, socket: &mut ChannelSocket<Self>) {
///         match tick {
///             Tick::AfterJoin => socket.push("welcome", serde_json::json!({})),
///         }
///     }
/// }
/// ```
pub use channels_macros::handle_info;

/// The method a [`#[channel]`](macro@channel) runs when it ends other than by a crash (leave, stop, closed
/// connection, shutdown): Phoenix's `terminate/2`.
///
/// At most one per channel; takes `&mut self` and any of `reason: &TerminateReason`, the socket, `topic`,
/// `assigns`, app state (`State<T>`); returns nothing.
///
/// ```
/// use channels::prelude::*;
/// # struct UserSocket;
/// # #[socket]
/// # impl UserSocket {
/// #     channel!("rooms:*" => Room);
/// #     fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> { Ok(UserSocket) }
/// # }
/// struct Room;
///
/// #[channel]
/// impl Room {
///     #[join("rooms:{_id}")]
///     fn join() -> JoinResult<Self> {
///         JoinResult::ok(Room)
///     }
///
///     #[terminate]
///     async fn left(&mut self, reason: &TerminateReason, socket: &ChannelSocket<Self>) {
///         if *reason == TerminateReason::Left {
///             socket.broadcast_from("user_left", serde_json::json!({}));
///         }
///     }
/// }
/// ```
pub use channels_macros::terminate;

/// Everything a socket handler or channel module needs: `use channels::prelude::*;`.
pub mod prelude {
    pub use crate::channel::{
        Channel, ChannelHandle, ChannelSocket, HandleResult, JoinResult, OutResult, Reply, SocketRef, StopReason,
        TerminateReason,
    };
    pub use crate::dsl::FromTopicSegment;
    pub use crate::endpoint::Endpoint;
    pub use crate::payload::{IntoPayload, Payload};
    pub use crate::socket::{ConnectInfo, ConnectParams, Refuse, Socket, SocketConfig};
    pub use crate::state::State;
    pub use channels_macros::{channel, handle_in, handle_info, handle_out, intercept, join, socket, terminate};
}

/// The README's Rust examples, compiled as doctests so they cannot drift from the API.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
