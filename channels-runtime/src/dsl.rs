//! The traits the handlers of the `channels` macros meet: a join capture is parsed with [`FromTopicSegment`], a
//! payload parameter with [`FromPayload`], and what a handler returns goes through [`IntoJoinResult`],
//! [`IntoHandleResult`] or [`IntoOutResult`]. Implement them for your own types (an id type for captures, a
//! result type for handlers). The functions the generated code calls are hidden.
//!
//! The traits that check what users write ([`FromTopicSegment`], [`IntoJoinResult`], [`IntoHandleResult`],
//! [`IntoOutResult`], [`ChannelInfo`]) carry `#[diagnostic::on_unimplemented]`, and the macros name them with the
//! span of the user's token, so a wrong type is an error on that token that says what would work.

use std::any::type_name;
use std::num::{
    NonZeroI8, NonZeroI16, NonZeroI32, NonZeroI64, NonZeroI128, NonZeroIsize, NonZeroU8, NonZeroU16, NonZeroU32,
    NonZeroU64, NonZeroU128, NonZeroUsize,
};
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

#[doc(hidden)]
pub use channels_topic::{JoinClause, route_reaches};

use crate::channel::{Channel, ChannelSocket, HandleResult, JoinResult, OutResult, Reply, StopReason};
use crate::payload::{Payload, PayloadError};
use crate::socket::{ChannelRoute, Refuse, Socket};
use crate::state::StateRequirement;

/// Parses a join-pattern capture (`{room_id}` in `#[join("rooms:{room_id}")]`) into a handler parameter.
///
/// Returning `None` means "this clause does not match": the next join clause is tried, as an Elixir function
/// clause whose pattern fails. Implemented for `String`, `Box<str>`, `Arc<str>`, every integer and non-zero
/// integer type, `bool` and `char`; implement it for your own id types.
///
/// ```
/// use channels_runtime::dsl::FromTopicSegment;
///
/// struct RoomId(u32);
///
/// impl FromTopicSegment for RoomId {
///     fn from_topic_segment(segment: &str) -> Option<Self> {
///         segment.strip_prefix('r')?.parse().ok().map(RoomId)
///     }
/// }
///
/// assert_eq!(RoomId::from_topic_segment("r42").map(|r| r.0), Some(42));
/// assert!(RoomId::from_topic_segment("42").is_none());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be parsed from a topic segment",
    label = "the type of a join capture must implement `FromTopicSegment`",
    note = "use `String`, an integer, `bool` or `char`, or implement `channels::dsl::FromTopicSegment` for `{Self}`"
)]
pub trait FromTopicSegment: Sized {
    /// Parses one captured piece of a topic (never empty, never containing `:`).
    fn from_topic_segment(segment: &str) -> Option<Self>;
}

impl FromTopicSegment for String {
    fn from_topic_segment(segment: &str) -> Option<Self> {
        Some(segment.to_owned())
    }
}

impl FromTopicSegment for Box<str> {
    fn from_topic_segment(segment: &str) -> Option<Self> {
        Some(segment.into())
    }
}

impl FromTopicSegment for Arc<str> {
    fn from_topic_segment(segment: &str) -> Option<Self> {
        Some(segment.into())
    }
}

macro_rules! from_str_segments {
    ($($t:ty),* $(,)?) => {$(
        impl FromTopicSegment for $t {
            fn from_topic_segment(segment: &str) -> Option<Self> {
                segment.parse().ok()
            }
        }
    )*};
}

from_str_segments!(
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    bool,
    char,
    NonZeroU8,
    NonZeroU16,
    NonZeroU32,
    NonZeroU64,
    NonZeroU128,
    NonZeroUsize,
    NonZeroI8,
    NonZeroI16,
    NonZeroI32,
    NonZeroI64,
    NonZeroI128,
    NonZeroIsize,
);

/// What `#[channel]` tells `#[socket]` about a channel of socket handler `S`: its join patterns, for the
/// compile-time check that each route reaches the channel it names, and the app state its handlers take, for
/// the endpoint's startup check ([`Socket::required_state`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a channel of socket handler `{S}`",
    label = "not a `#[channel]` of `{S}`",
    note = "add `#[channel]` to the impl block of `{Self}`; if it has one, `{Self}` belongs to another socket \
            handler: route it from there, or make it `#[channel(socket = {S})]`"
)]
pub trait ChannelInfo<S>: Channel<Socket = S> {
    /// The `#[join]` clauses, in order.
    const JOIN_PATTERNS: &'static [JoinClause<'static>];

    /// The types of the handlers' `State<T>` parameters.
    const REQUIRED_STATE: &'static [StateRequirement];
}

/// A `#[socket]`'s [`Socket::required_state`]: its `connect`'s and its channels' requirements, in one list.
#[doc(hidden)]
pub fn required_state(parts: &[&[StateRequirement]]) -> Vec<StateRequirement> {
    parts.concat()
}

/// The route to channel `C` (generated routers call it once per matched topic; it is a constant).
#[doc(hidden)]
pub fn route<S: Socket, C: ChannelInfo<S>>() -> ChannelRoute<S> {
    ChannelRoute::to::<C>()
}

/// Parses a capture from topic segment `segment` of the form `prefix{capture}suffix`.
#[doc(hidden)]
pub fn capture<T: FromTopicSegment>(segment: &str, prefix: &str, suffix: &str) -> Option<T> {
    T::from_topic_segment(channels_topic::capture_in(segment, prefix, suffix)?)
}

/// Whether topic segment `segment` has the form `prefix{capture}suffix` (for captures bound to no parameter).
#[doc(hidden)]
pub fn segment_matches(segment: &str, prefix: &str, suffix: &str) -> bool {
    channels_topic::capture_in(segment, prefix, suffix).is_some()
}

/// A type a handler's payload parameter can have: any `serde::Deserialize` type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a handler's payload: it does not implement `serde::Deserialize`",
    label = "the payload is deserialized into this type",
    note = "derive it: `#[derive(serde::Deserialize)]`; or take `payload: Payload` for the raw payload",
    note = "if `{Self}` already derives `serde::Deserialize`, check that `serde`, with its `derive` feature, is a \
            dependency: `cargo add serde --features derive`"
)]
pub trait FromPayload: Sized {
    /// Deserializes.
    fn from_payload(payload: &Payload) -> Result<Self, PayloadError>;
}

impl<T: DeserializeOwned> FromPayload for T {
    fn from_payload(payload: &Payload) -> Result<Self, PayloadError> {
        payload.deserialize()
    }
}

/// Deserializes a handler's payload parameter.
#[doc(hidden)]
pub fn decode<T: FromPayload>(payload: &Payload) -> Result<T, PayloadError> {
    T::from_payload(payload)
}

/// What a `#[join]` handler returns: `JoinResult<Self>`.
#[diagnostic::on_unimplemented(
    message = "a #[join] handler returns `JoinResult<Self>`, not `{Self}`",
    label = "expected `JoinResult<Self>`",
    note = "build it with `JoinResult::ok(state)`, `JoinResult::ok_with(state, &response)` or \
            `JoinResult::error(&response)`"
)]
pub trait IntoJoinResult<C> {
    /// Converts.
    fn into_join_result(self) -> JoinResult<C>;
}

impl<C> IntoJoinResult<C> for JoinResult<C> {
    fn into_join_result(self) -> JoinResult<C> {
        self
    }
}

/// What a `#[handle_in]` handler may return: [`HandleResult`], a [`Reply`], `()` (no reply), or a `Result` of
/// two of these (handy with `?`). Implement it for your own types to return them directly.
#[diagnostic::on_unimplemented(
    message = "a #[handle_in] handler cannot return `{Self}`",
    label = "expected `HandleResult`, `Reply`, `()`, or a `Result` whose `Ok` and `Err` types are each one of these",
    note = "return `HandleResult` (e.g. `HandleResult::ok(&response)`), a `Reply`, `()` for no reply, or a \
            `Result<T, E>` whose `T` and `E` are each one of these (e.g. `Result<Reply, Reply>`); or implement \
            `channels::dsl::IntoHandleResult` for `{Self}`"
)]
pub trait IntoHandleResult {
    /// Converts.
    fn into_handle_result(self) -> HandleResult;
}

impl IntoHandleResult for HandleResult {
    fn into_handle_result(self) -> HandleResult {
        self
    }
}

impl IntoHandleResult for Reply {
    fn into_handle_result(self) -> HandleResult {
        HandleResult::Reply(self)
    }
}

impl IntoHandleResult for () {
    fn into_handle_result(self) -> HandleResult {
        HandleResult::NoReply
    }
}

impl<T: IntoHandleResult, E: IntoHandleResult> IntoHandleResult for Result<T, E> {
    fn into_handle_result(self) -> HandleResult {
        match self {
            Ok(ok) => ok.into_handle_result(),
            Err(err) => err.into_handle_result(),
        }
    }
}

/// What a `#[handle_out]` or `#[handle_info]` handler may return: [`OutResult`] or `()` (carry on).
#[diagnostic::on_unimplemented(
    message = "a #[handle_out] or #[handle_info] handler cannot return `{Self}`",
    label = "expected `OutResult` or `()`",
    note = "return `OutResult::NoReply` or `OutResult::Stop(reason)`, or nothing to carry on"
)]
pub trait IntoOutResult {
    /// Converts.
    fn into_out_result(self) -> OutResult;
}

impl IntoOutResult for OutResult {
    fn into_out_result(self) -> OutResult {
        self
    }
}

impl IntoOutResult for () {
    fn into_out_result(self) -> OutResult {
        OutResult::NoReply
    }
}

/// What a `#[terminate]` handler returns: nothing.
#[diagnostic::on_unimplemented(
    message = "a #[terminate] handler returns nothing, not `{Self}`",
    label = "expected `()`",
    note = "remove the return type"
)]
#[doc(hidden)]
pub trait TerminateOutput {}

impl TerminateOutput for () {}

/// Converts a join handler's result (a function, so the trait bound is checked at the user's return type).
#[doc(hidden)]
pub fn join_result<C, R: IntoJoinResult<C>>(result: R) -> JoinResult<C> {
    result.into_join_result()
}

/// Converts a `#[handle_in]` handler's result.
#[doc(hidden)]
pub fn handle_result<R: IntoHandleResult>(result: R) -> HandleResult {
    result.into_handle_result()
}

/// Converts a `#[handle_out]` / `#[handle_info]` handler's result.
#[doc(hidden)]
pub fn out_result<R: IntoOutResult>(result: R) -> OutResult {
    result.into_out_result()
}

/// Checks a `#[terminate]` handler's result.
#[doc(hidden)]
pub fn terminate_result<R: TerminateOutput>(_: R) {}

#[derive(Serialize)]
struct Reason<'a> {
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a str>,
}

fn reason(reason: &'static str, details: Option<&str>) -> Payload {
    Payload::json(&Reason { reason, details })
}

/// No join clause matched the topic: `{"reason":"unmatched topic"}`.
#[doc(hidden)]
pub fn unmatched_topic<C>(topic: &str) -> JoinResult<C> {
    tracing::debug!(topic, "no join clause matches the topic");
    JoinResult::Error(reason("unmatched topic", None))
}

/// The join payload did not deserialize: `{"reason":"invalid payload","details":..}`.
#[doc(hidden)]
pub fn invalid_join_payload<C>(topic: &str, error: PayloadError) -> JoinResult<C> {
    let details = error.to_string();
    tracing::debug!(topic, details, "invalid join payload");
    JoinResult::Error(reason("invalid payload", Some(&details)))
}

/// An event's payload did not deserialize: reply `{"reason":"invalid payload","details":..}`; the channel
/// lives on.
#[doc(hidden)]
pub fn invalid_payload(event: &str, error: PayloadError) -> HandleResult {
    let details = error.to_string();
    tracing::debug!(event, details, "invalid payload");
    HandleResult::Reply(Reply::error(reason("invalid payload", Some(&details))))
}

/// An event no `#[handle_in]` handles: a warning, and reply `{"reason":"unhandled event"}` (Phoenix would crash
/// the channel; a reply keeps a client's typo from killing its other state).
#[doc(hidden)]
pub fn unhandled_event(event: &str, topic: &str) -> HandleResult {
    tracing::warn!(topic, event, "unhandled event");
    HandleResult::Reply(Reply::error(reason("unhandled event", None)))
}

/// An intercepted broadcast whose payload does not fit the `#[handle_out]` parameter: a server-side bug, logged;
/// nothing is pushed (pushing it unchanged could leak what the handler filters out).
#[doc(hidden)]
pub fn undecodable_broadcast(event: &str, error: PayloadError) -> OutResult {
    tracing::error!(event, %error, "intercepted broadcast does not deserialize into the #[handle_out] parameter; dropped");
    OutResult::NoReply
}

/// An intercepted event without a handler (the macro rejects this, kept for completeness): push it unchanged,
/// as Phoenix's default `handle_out`.
#[doc(hidden)]
pub fn push_unchanged<C: Channel>(event: &str, payload: &Payload, socket: &mut ChannelSocket<C>) -> OutResult {
    socket.push(event, payload);
    OutResult::NoReply
}

/// A `State<T>` parameter of a `#[socket]`'s `connect` that the endpoint has no `T` for (the endpoint checks
/// at startup, so only a call that bypasses it gets here): the connection is refused, with an error log.
#[doc(hidden)]
pub fn missing_connect_state<S, T>() -> Refuse {
    tracing::error!(
        socket = type_name::<S>(),
        state = type_name::<T>(),
        "connection refused: `connect` takes app state the endpoint was not given; add `.state(..)` to \
         Endpoint::builder()"
    );
    Refuse
}

/// A `State<T>` parameter of a `#[channel]` handler that the endpoint has no `T` for (a hand-written `Socket`
/// impl routed here without declaring it in [`Socket::required_state`]): an error log, and the channel ends as
/// a crash does (the client gets `phx_error`; a join is refused as a crashed one is).
#[doc(hidden)]
pub fn missing_state<T, C: Channel, R: MissingState>(socket: &ChannelSocket<C>) -> R {
    let state = type_name::<T>();
    tracing::error!(
        topic = socket.topic(),
        channel = type_name::<C>(),
        state,
        "a channel handler takes app state the endpoint was not given; add `.state(..)` to Endpoint::builder()"
    );
    R::missing_state(state)
}

/// What a channel callback returns when a handler's app state is missing.
#[doc(hidden)]
pub trait MissingState {
    /// The outcome; `state` is the missing type's name.
    fn missing_state(state: &str) -> Self;
}

impl<C> MissingState for JoinResult<C> {
    fn missing_state(_: &str) -> Self {
        JoinResult::Error(reason("join crashed", None))
    }
}

impl MissingState for HandleResult {
    fn missing_state(state: &str) -> Self {
        HandleResult::Stop { reason: StopReason::Error(format!("missing state {state}")), reply: None }
    }
}

impl MissingState for OutResult {
    fn missing_state(state: &str) -> Self {
        OutResult::Stop(StopReason::Error(format!("missing state {state}")))
    }
}

/// `terminate`: the channel is ending anyway.
impl MissingState for () {
    fn missing_state(_: &str) -> Self {}
}

/// The topic, for a handler that also takes `&mut ChannelSocket`.
#[doc(hidden)]
pub fn topic_of<C: Channel>(socket: &ChannelSocket<C>) -> Arc<str> {
    socket.topic_shared()
}

/// The assigns, for a handler that also takes `&mut ChannelSocket`.
#[doc(hidden)]
pub fn assigns_of<C: Channel>(socket: &ChannelSocket<C>) -> Arc<C::Socket> {
    socket.assigns_shared()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures() {
        assert_eq!(capture::<u32>("42", "", ""), Some(42));
        assert_eq!(capture::<u32>("x42", "", ""), None);
        assert_eq!(capture::<String>("room-7.v1", "room-", ".v1").as_deref(), Some("7"));
        assert_eq!(capture::<String>("room-.v1", "room-", ".v1"), None, "never empty");
        assert_eq!(capture::<bool>("true", "", ""), Some(true));
        assert_eq!(capture::<NonZeroU8>("0", "", ""), None);
        assert!(segment_matches("ab", "a", "") && !segment_matches("a", "a", ""));
    }

    #[test]
    fn replies() {
        let HandleResult::Reply(reply) = unhandled_event("x", "t") else { panic!() };
        assert_eq!((&*reply.status, reply.response.as_json()), ("error", Some(r#"{"reason":"unhandled event"}"#)));
        let err = Payload::json(&1).deserialize::<String>().unwrap_err();
        let HandleResult::Reply(reply) = invalid_payload("x", err) else { panic!() };
        let json: serde_json::Value = reply.response.deserialize().unwrap();
        assert_eq!(json["reason"], "invalid payload");
        assert!(json["details"].as_str().is_some_and(|d| d.contains("expected a string")), "{json}");
        let JoinResult::<()>::Error(response) = unmatched_topic("t") else { panic!() };
        assert_eq!(response.as_json(), Some(r#"{"reason":"unmatched topic"}"#));
        assert!(matches!(handle_result(Ok::<(), Reply>(())), HandleResult::NoReply));
        assert!(matches!(handle_result(Err::<(), Reply>(Reply::ok(Payload::empty()))), HandleResult::Reply(_)));
    }
}
