//! Socket handlers: who may connect, what each connection carries, and which channel serves which topic.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;

use channels_topic::RoutePattern;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::channel::{Channel, JoinStart, Started};
pub use crate::config::SocketConfig;
use crate::state::{State, StateMap, StateRequirement};

/// A socket handler, as Phoenix's `UserSocket`: authenticates each connection and routes its topics.
///
/// The implementing type is the connection's assigns: `connect` builds it from the client's params, and every
/// channel joined over the connection reads it through [`ChannelSocket::assigns`](crate::channel::ChannelSocket::assigns).
///
/// ```
/// use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
/// # use channels_runtime::channel::{Channel, ChannelSocket, HandleResult, JoinResult};
/// # use channels_runtime::payload::Payload;
/// # struct RoomChannel;
/// # impl Channel for RoomChannel {
/// #     type Socket = UserSocket;
/// #     type Info = ();
/// #     async fn join(_: &str, _: Payload, _: &mut ChannelSocket<Self>) -> JoinResult<Self> { JoinResult::ok(RoomChannel) }
/// #     async fn handle_in(&mut self, _: &str, _: Payload, _: &mut ChannelSocket<Self>) -> HandleResult { HandleResult::NoReply }
/// # }
///
/// struct UserSocket {
///     user_id: Option<String>,
/// }
///
/// impl Socket for UserSocket {
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
///
///     fn channels() -> Router<Self> {
///         Router::new().channel::<RoomChannel>("rooms:*")
///     }
/// }
/// ```
pub trait Socket: Sized + Send + Sync + 'static {
    /// Accepts or refuses a connection. A refusal answers HTTP 403 (WebSocket).
    fn connect(params: &ConnectParams, info: &ConnectInfo) -> impl Future<Output = Result<Self, Refuse>> + Send;

    /// The socket id: when `Some`, the connection subscribes to that topic, and broadcasting `disconnect` to it
    /// closes every connection with that id.
    fn id(&self) -> Option<String> {
        None
    }

    /// The channel routes, tried in order; built once when the socket is mounted.
    fn channels() -> Router<Self>;

    /// The app state `connect` and the routed channels take (their [`State<T>`](crate::state::State)
    /// parameters): building the endpoint checks it was given each type, so a missing one stops the app at
    /// startup rather than failing a request. `#[socket]` writes it from the handlers' parameters; by default
    /// none is checked, and a missing state is found at run time instead (`connect` refuses the connection, a
    /// channel stops with `phx_error`; both log an error).
    ///
    /// ```should_panic
    /// # use channels_runtime::endpoint::Endpoint;
    /// # use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket, SocketConfig};
    /// use channels_runtime::state::{State, StateRequirement};
    ///
    /// struct Pool;
    /// struct UserSocket;
    ///
    /// impl Socket for UserSocket {
    ///     async fn connect(_: &ConnectParams, info: &ConnectInfo) -> Result<Self, Refuse> {
    ///         let _pool: State<Pool> = info.state().ok_or(Refuse)?;
    ///         Ok(UserSocket)
    ///     }
    ///
    ///     fn channels() -> Router<Self> {
    ///         Router::new()
    ///     }
    ///
    ///     fn required_state() -> Vec<StateRequirement> {
    ///         vec![StateRequirement::of::<Pool>()]
    ///     }
    /// }
    ///
    /// // panics: "socket handler `..UserSocket` takes `State<..Pool>`, but the endpoint was given no `..Pool`: ..."
    /// let endpoint = Endpoint::builder().socket::<UserSocket>("/socket", SocketConfig::default()).build();
    /// ```
    fn required_state() -> Vec<StateRequirement> {
        Vec::new()
    }
}

/// The refusal of a connection: an HTTP status and an optional body, as Phoenix's `connect` returning `:error`
/// (403, no body) or `{:error, reason}` with the transport's `error_handler`.
///
/// `Refuse` on its own is the default refusal, 403 with no body; [`Refuse::status`] picks another status, and
/// [`json`](Refuse::json) or [`text`](Refuse::text) adds a body.
///
/// On WebSocket the upgrade request is answered with that status and body. On LongPoll the body is the LongPoll
/// protocol's JSON `{"status":403}` (what the `phoenix` client reads as "refused"), with a JSON object body's fields
/// added to it, or a text body as `"reason"`; the HTTP status is the refusal's, except for the plain `Refuse`,
/// answered with HTTP 200 as Phoenix does.
///
/// ```
/// use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse};
/// use serde_json::json;
///
/// async fn connect(params: &ConnectParams, _info: &ConnectInfo) -> Result<(), Refuse> {
///     match params.get("token") {
///         None => Err(Refuse),
///         Some("expired") => Err(Refuse::status(401).json(json!({"reason": "token expired"}))),
///         Some(_) => Ok(()),
///     }
/// }
///
/// assert_eq!(Refuse.status_code(), 403);
/// assert_eq!(Refuse::status(401).json(json!({"reason": "token expired"})).status_code(), 401);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refuse {
    status: u16,
    body: RefuseBody,
}

/// The default refusal: 403, no body; `Err(Refuse)` reads as Phoenix's `:error`.
#[allow(non_upper_case_globals)]
pub const Refuse: Refuse = Refuse { status: 403, body: RefuseBody::Empty };

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RefuseBody {
    Empty,
    Text(String),
    Json(Value),
}

impl Refuse {
    /// A refusal answering HTTP `status`, with no body until [`json`](Refuse::json) or [`text`](Refuse::text).
    ///
    /// # Panics
    /// When `status` is not a client or server error (400..=599): anything else would tell the client the
    /// connection was accepted or redirected.
    pub fn status(status: u16) -> Refuse {
        assert!((400..=599).contains(&status), "a refusal's status is 400..=599, not {status}");
        Refuse { status, body: RefuseBody::Empty }
    }

    /// Answers `body` as JSON (`application/json`).
    ///
    /// # Panics
    /// When `body` does not serialize to JSON (a map with non-string keys, say).
    pub fn json(self, body: impl serde::Serialize) -> Refuse {
        let body = serde_json::to_value(body).unwrap_or_else(|e| panic!("a refusal's JSON body must serialize: {e}"));
        Refuse { body: RefuseBody::Json(body), ..self }
    }

    /// Answers `body` as plain text.
    pub fn text(self, body: impl Into<String>) -> Refuse {
        Refuse { body: RefuseBody::Text(body.into()), ..self }
    }

    /// The HTTP status the refusal answers.
    pub fn status_code(&self) -> u16 {
        self.status
    }

    pub(crate) fn body(&self) -> &RefuseBody {
        &self.body
    }
}

impl Default for Refuse {
    fn default() -> Self {
        Refuse
    }
}

impl fmt::Display for Refuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connection refused ({})", self.status)
    }
}

impl std::error::Error for Refuse {}

/// The query parameters a client connected with (`vsn` included), decoded as Plug does: `a[b]=v` nests
/// (`{"a": {"b": "v"}}`, the way phoenix.js serializes nested `params`) and `a[]=v` appends to a list.
///
/// ```
/// use channels_runtime::socket::ConnectParams;
///
/// let p = ConnectParams::from_query("token=a%20b&user[name]=jo&user[tags][]=x&user[tags][]=y&vsn=2.0.0");
/// assert_eq!(p.get("token"), Some("a b"));
/// assert_eq!(p.get("vsn"), Some("2.0.0"));
/// assert_eq!(p.as_map()["user"], serde_json::json!({"name": "jo", "tags": ["x", "y"]}));
///
/// #[derive(serde::Deserialize)]
/// struct User { name: String }
/// #[derive(serde::Deserialize)]
/// struct Params { user: User }
/// assert_eq!(p.deserialize::<Params>().unwrap().user.name, "jo");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectParams {
    params: Map<String, Value>,
}

/// Deeper `a[b][c]...` keys are cut at this depth, so a hostile query cannot nest without bound.
const MAX_PARAM_DEPTH: usize = 16;

impl ConnectParams {
    /// Decodes a URL query string (`application/x-www-form-urlencoded`); on a repeated key the last one wins.
    pub fn from_query(query: &str) -> Self {
        let mut params = Map::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            insert_param(&mut params, &percent_decode(key), percent_decode(value));
        }
        ConnectParams { params }
    }

    /// The top-level parameter `key`, when it is a string.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.get(key).and_then(Value::as_str)
    }

    /// Every parameter, nested as decoded.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.params
    }

    /// The parameters as a typed value.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&Value::Object(self.params.clone()))
    }
}

/// Inserts `value` at the path a key like `a[b][]` names.
fn insert_param(params: &mut Map<String, Value>, key: &str, value: String) {
    let (head, mut rest) = match key.find('[') {
        Some(i) if i > 0 => (&key[..i], &key[i..]),
        _ => (key, ""),
    };
    let mut path = Vec::new();
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(end) = inner.find(']') else { break };
        path.push(&inner[..end]);
        rest = &inner[end + 1..];
    }
    path.truncate(MAX_PARAM_DEPTH);
    let mut slot = params.entry(head.to_owned()).or_insert(Value::Null);
    for segment in path {
        slot = if segment.is_empty() {
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            let list = slot.as_array_mut().expect("just made an array");
            list.push(Value::Null);
            list.last_mut().expect("just pushed")
        } else {
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            slot.as_object_mut().expect("just made an object").entry(segment.to_owned()).or_insert(Value::Null)
        };
    }
    *slot = Value::String(value);
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// What the transport knows about a connection besides its params, and the endpoint's app state.
///
/// ```
/// use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Socket};
/// # use channels_runtime::socket::Router;
/// # use channels_runtime::testing::TestEndpoint;
///
/// struct UserSocket { agent: Option<String> }
///
/// impl Socket for UserSocket {
///     async fn connect(_: &ConnectParams, info: &ConnectInfo) -> Result<Self, Refuse> {
///         Ok(UserSocket { agent: info.user_agent.clone() })
///     }
/// #   fn channels() -> Router<Self> { Router::new() }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut info = ConnectInfo::default();
/// info.user_agent = Some("test-agent".to_owned());
/// let endpoint = TestEndpoint::<UserSocket>::new();
/// let client = endpoint.connect_with(&ConnectParams::default(), &info).await.unwrap();
/// assert_eq!(client.assigns().agent.as_deref(), Some("test-agent"));
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ConnectInfo {
    /// The peer's address.
    pub peer_addr: Option<SocketAddr>,
    /// The request URI (path and query).
    pub uri: String,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// Every `x-*` header, names lowercased.
    pub x_headers: Vec<(String, String)>,
    /// The `traceparent` and `tracestate` headers.
    pub trace_context_headers: Vec<(String, String)>,
    /// The token the client sent with the `authToken` option (a `Sec-WebSocket-Protocol` entry).
    pub auth_token: Option<String>,
    pub(crate) state: StateMap,
}

impl ConnectInfo {
    /// The endpoint's app state of type `T` (given with
    /// [`EndpointBuilder::state`](crate::endpoint::EndpointBuilder::state)), or `None` when it has none of that
    /// type.
    ///
    /// ```
    /// use channels_runtime::socket::ConnectInfo;
    /// use channels_runtime::state::State;
    ///
    /// struct Config;
    ///
    /// // A default `ConnectInfo` belongs to no endpoint; see the `state` module for one that does.
    /// let state: Option<State<Config>> = ConnectInfo::default().state();
    /// assert!(state.is_none());
    /// ```
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<State<T>> {
        self.state.get()
    }
}

/// The channel routes of a socket handler: topic patterns, first match wins.
///
/// A pattern is an exact topic (`"rooms:lobby"`) or a prefix ending in `*` (`"rooms:*"`). The `#[socket]` macro
/// builds a router from a generated `match` instead ([`Router::from_fn`]).
///
/// ```
/// # use channels_runtime::channel::*;
/// # use channels_runtime::payload::Payload;
/// # use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
/// # use channels_runtime::testing::TestEndpoint;
/// # use serde_json::json;
/// # struct UserSocket;
/// # struct Lobby;
/// # struct Room;
/// # impl Channel for Lobby {
/// #     type Socket = UserSocket;
/// #     type Info = ();
/// #     async fn join(_: &str, _: Payload, _: &mut ChannelSocket<Self>) -> JoinResult<Self> { JoinResult::ok_with(Lobby, json!({"lobby": true})) }
/// #     async fn handle_in(&mut self, _: &str, _: Payload, _: &mut ChannelSocket<Self>) -> HandleResult { HandleResult::NoReply }
/// # }
/// # impl Channel for Room {
/// #     type Socket = UserSocket;
/// #     type Info = ();
/// #     async fn join(_: &str, _: Payload, _: &mut ChannelSocket<Self>) -> JoinResult<Self> { JoinResult::ok(Room) }
/// #     async fn handle_in(&mut self, _: &str, _: Payload, _: &mut ChannelSocket<Self>) -> HandleResult { HandleResult::NoReply }
/// # }
/// # impl Socket for UserSocket {
/// #     async fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> { Ok(UserSocket) }
/// fn channels() -> Router<Self> {
///     Router::new()
///         .channel::<Lobby>("rooms:lobby") // an exact topic, tried first
///         .channel::<Room>("rooms:*") // every other `rooms:` topic
/// }
/// # }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut client = TestEndpoint::<UserSocket>::new().connect(&[]).await.unwrap();
/// let (_, response) = client.join("rooms:lobby", json!({})).await.unwrap();
/// assert_eq!(response.as_json(), Some(r#"{"lobby":true}"#));
/// assert!(client.join("rooms:42", json!({})).await.is_ok());
/// assert!(client.join("users:42", json!({})).await.is_err()); // no route: refused
/// # }
/// ```
pub struct Router<S> {
    routes: Routes<S>,
}

enum Routes<S> {
    Patterns(Vec<(RoutePattern, ChannelRoute<S>)>),
    Dispatch(fn(&str) -> Option<ChannelRoute<S>>),
}

/// Starts the task of one channel type; what a route leads to.
pub struct ChannelRoute<S>(fn(JoinStart<S>) -> Started);

impl<S> Clone for ChannelRoute<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for ChannelRoute<S> {}

impl<S: Socket> ChannelRoute<S> {
    /// The route to channel `C`.
    pub fn to<C: Channel<Socket = S>>() -> Self {
        ChannelRoute(crate::channel::start::<C>)
    }

    pub(crate) fn start(self, join: JoinStart<S>) -> Started {
        (self.0)(join)
    }
}

impl<S> fmt::Debug for ChannelRoute<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChannelRoute")
    }
}

impl<S: Socket> Router<S> {
    /// No routes.
    pub fn new() -> Self {
        Router { routes: Routes::Patterns(Vec::new()) }
    }

    /// A router that asks `dispatch` for each topic's route.
    pub fn from_fn(dispatch: fn(&str) -> Option<ChannelRoute<S>>) -> Self {
        Router { routes: Routes::Dispatch(dispatch) }
    }

    /// Routes topics matching `pattern` to `C`.
    ///
    /// # Panics
    /// When `pattern` has a `*` anywhere but at its end, is empty, or the router was made by
    /// [`from_fn`](Router::from_fn): configuration errors found at startup.
    pub fn channel<C: Channel<Socket = S>>(mut self, pattern: &str) -> Self {
        let pattern = RoutePattern::parse(pattern).unwrap_or_else(|e| panic!("invalid channel pattern: {e}"));
        match &mut self.routes {
            Routes::Patterns(routes) => routes.push((pattern, ChannelRoute::to::<C>())),
            Routes::Dispatch(_) => panic!("a router made by Router::from_fn takes no pattern routes"),
        }
        self
    }

    pub(crate) fn find(&self, topic: &str) -> Option<ChannelRoute<S>> {
        match &self.routes {
            Routes::Patterns(routes) => routes.iter().find(|(p, _)| p.matches(topic)).map(|(_, r)| *r),
            Routes::Dispatch(dispatch) => dispatch(topic),
        }
    }
}

impl<S: Socket> Default for Router<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> fmt::Debug for Router<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.routes {
            Routes::Patterns(routes) => f.debug_list().entries(routes.iter().map(|(p, _)| p)).finish(),
            Routes::Dispatch(_) => f.write_str("Router(generated dispatch)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let p =
            ConnectParams::from_query("a=1&b=%7B%22x%22%7D&c&d=x+y&e=%zz&f=%4&g[a][b]=1&g[c]=2&h[]=1&h[]=2&i=1&i[x]=2");
        assert_eq!(p.as_map()["g"], serde_json::json!({"a": {"b": "1"}, "c": "2"}));
        assert_eq!(p.as_map()["h"], serde_json::json!(["1", "2"]));
        assert_eq!(p.as_map()["i"], serde_json::json!({"x": "2"}));
        let deep = format!("d{}=v", "[x]".repeat(1000));
        let p2 = ConnectParams::from_query(&deep);
        assert!(p2.as_map()["d"].pointer(&"/x".repeat(MAX_PARAM_DEPTH)).is_some());
        assert_eq!(ConnectParams::from_query("[a]=1").get("[a]"), Some("1"));
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("{\"x\"}"));
        assert_eq!(p.get("c"), Some(""));
        assert_eq!(p.get("d"), Some("x y"));
        assert_eq!(p.get("e"), Some("%zz"));
        assert_eq!(p.get("f"), Some("%4"));
    }
}
