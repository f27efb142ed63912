//! The DSL's generated dispatch, end to end: a server on a free port, a raw WebSocket client, exact frames.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use channels::prelude::*;
use channels::socket::Router;
use channels::testing::TestEndpoint;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use support::server::TestServer;
use support::ws::Client;

struct UserSocket {
    user: Option<String>,
}

// Inside this crate the runtime is `crate`, not `::channels`.
#[socket]
impl UserSocket {
    channel!("rooms:*" => Rooms);
    channel!("user:*" => Rooms);
    channel!("any:*" => Any);

    fn connect(params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
        Ok(UserSocket { user: params.get("user").map(str::to_owned) })
    }
}

enum Rooms {
    Lobby,
    Numbered,
    Named,
    Nested,
}

#[derive(Deserialize)]
struct JoinParams {
    secret: String,
}

#[derive(Deserialize, Serialize)]
struct Echo {
    text: String,
}

#[derive(Deserialize, Serialize)]
struct Word {
    word: String,
}

struct Ping(u64);

#[channel]
#[intercept("censored")]
impl Rooms {
    #[join("rooms:lobby")]
    async fn lobby() -> JoinResult<Self> {
        JoinResult::ok(Rooms::Lobby)
    }

    #[join("rooms:{id}")]
    async fn numbered(id: u32, topic: &str) -> JoinResult<Self> {
        JoinResult::ok_with(Rooms::Numbered, json!({"id": id, "topic": topic}))
    }

    #[join("rooms:{name}")]
    fn named(name: String, params: JoinParams) -> JoinResult<Self> {
        JoinResult::ok_with(Rooms::Named, json!({"name": name, "secret": params.secret}))
    }

    #[join("user:{uid}:room-{rid}.v1")]
    async fn nested(uid: u8, rid: String, assigns: &UserSocket, socket: &mut ChannelSocket<Self>) -> JoinResult<Self> {
        let _ = socket.topic();
        JoinResult::ok_with(Rooms::Nested, json!({"uid": uid, "rid": rid, "user": assigns.user}))
    }

    #[handle_in("echo")]
    fn echo(&self, msg: Echo) -> Reply {
        Reply::ok(&msg)
    }

    #[handle_in("state")]
    async fn state(&mut self, assigns: &UserSocket, topic: &str, socket: &mut ChannelSocket<Self>) -> HandleResult {
        let kind = match self {
            Rooms::Lobby => "lobby",
            Rooms::Numbered => "numbered",
            Rooms::Named => "named",
            Rooms::Nested => "nested",
        };
        HandleResult::ok(json!({"user": assigns.user, "topic": topic, "same": topic == socket.topic(), "kind": kind}))
    }

    #[handle_in("raw")]
    fn raw(payload: Payload) -> Result<Reply, Reply> {
        match payload.as_binary() {
            Some(_) => Err(Reply::error(Payload::empty())),
            None => Ok(Reply::ok(payload)),
        }
    }

    #[handle_in("censor")]
    fn censor(&self, word: Word, socket: &ChannelSocket<Self>) {
        socket.broadcast("censored", &word);
    }

    #[handle_out("censored")]
    fn censored(&mut self, mut msg: Word, socket: &mut ChannelSocket<Self>) -> OutResult {
        msg.word = "*".repeat(msg.word.len());
        socket.push("censored", &msg);
        OutResult::NoReply
    }

    #[handle_in("ping_self")]
    fn ping_self(&self, n: u64, socket: &mut ChannelSocket<Self>) {
        socket.send_info(Ping(n));
    }

    #[handle_info]
    async fn info(&mut self, Ping(n): Ping, socket: &mut ChannelSocket<Self>) {
        socket.push("pong", json!({"n": n}));
    }
}

struct Any;

#[channel]
impl Any {
    #[join("any:lobby")]
    fn lobby() -> JoinResult<Self> {
        JoinResult::ok(Any)
    }

    #[join(_)]
    fn other(topic: &str) -> JoinResult<Self> {
        JoinResult::error(json!({"other": topic}))
    }
}

/// A client whose every message carries join_ref "1" and a ref of its own.
struct Session {
    client: Client,
    next_ref: u64,
}

impl Session {
    async fn send(&mut self, topic: &str, event: &str, payload: Value) -> String {
        self.next_ref += 1;
        let r = self.next_ref.to_string();
        self.client.send_text(&json!(["1", r, topic, event, payload]).to_string()).await;
        r
    }

    async fn recv(&mut self) -> Value {
        self.client.recv_json().await
    }

    /// Sends and returns the `[status, response]` of the reply.
    async fn call(&mut self, topic: &str, event: &str, payload: Value) -> (String, Value) {
        let r = self.send(topic, event, payload).await;
        let frame = self.recv().await;
        assert_eq!((&frame[1], &frame[2], &frame[3]), (&json!(r), &json!(topic), &json!("phx_reply")), "{frame}");
        (frame[4]["status"].as_str().unwrap().to_owned(), frame[4]["response"].clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_dispatch() {
    let server =
        TestServer::serve(Endpoint::builder().socket::<UserSocket>("/socket", SocketConfig::default()).build()).await;
    let mut c = Session { client: server.client("vsn=2.0.0&user=ann").await, next_ref: 0 };
    let ok = |v: Value| ("ok".to_owned(), v);
    let error = |v: Value| ("error".to_owned(), v);

    // join clauses, in order, with typed captures falling through
    assert_eq!(c.call("rooms:lobby", "phx_join", json!({})).await, ok(json!({})));
    assert_eq!(c.call("rooms:42", "phx_join", json!({})).await, ok(json!({"id": 42, "topic": "rooms:42"})));
    let (status, response) = c.call("rooms:abc", "phx_join", json!({})).await;
    assert_eq!((status.as_str(), &response["reason"]), ("error", &json!("invalid payload")), "{response}");
    assert!(response["details"].as_str().unwrap().contains("secret"), "{response}");
    assert_eq!(
        c.call("rooms:abc", "phx_join", json!({"secret": "s"})).await,
        ok(json!({"name": "abc", "secret": "s"}))
    );
    assert_eq!(
        c.call("user:7:room-x9.v1", "phx_join", json!({})).await,
        ok(json!({"uid": 7, "rid": "x9", "user": "ann"}))
    );
    assert_eq!(c.call("user:7:room-.v1", "phx_join", json!({})).await, error(json!({"reason": "unmatched topic"})));
    assert_eq!(c.call("user:300:room-a.v1", "phx_join", json!({})).await, error(json!({"reason": "unmatched topic"})));

    // the catch-all clause takes what captures cannot
    assert_eq!(c.call("any:lobby", "phx_join", json!({})).await, ok(json!({})));
    assert_eq!(c.call("any:", "phx_join", json!({})).await, error(json!({"other": "any:"})));
    assert_eq!(c.call("any:a:b", "phx_join", json!({})).await, error(json!({"other": "any:a:b"})));

    // events
    assert_eq!(c.call("rooms:lobby", "echo", json!({"text": "hi"})).await, ok(json!({"text": "hi"})));
    let (status, response) = c.call("rooms:lobby", "echo", json!({"wrong": 1})).await;
    assert_eq!((status.as_str(), &response["reason"]), ("error", &json!("invalid payload")), "{response}");
    assert_eq!(c.call("rooms:lobby", "nope", json!({})).await, error(json!({"reason": "unhandled event"})));
    assert_eq!(c.call("rooms:lobby", "echo", json!({"text": "alive"})).await, ok(json!({"text": "alive"})));
    assert_eq!(
        c.call("rooms:42", "state", json!({})).await,
        ok(json!({"user": "ann", "topic": "rooms:42", "same": true, "kind": "numbered"}))
    );
    assert_eq!(c.call("rooms:lobby", "raw", json!([1, 2])).await, ok(json!([1, 2])));

    // intercepted broadcast through #[handle_out], and #[handle_info]
    c.send("rooms:lobby", "censor", json!({"word": "darn"})).await;
    let frame = c.recv().await;
    assert_eq!((&frame[3], &frame[4]), (&json!("censored"), &json!({"word": "****"})), "{frame}");
    c.send("rooms:lobby", "ping_self", json!(3)).await;
    let frame = c.recv().await;
    assert_eq!((&frame[3], &frame[4]), (&json!("pong"), &json!({"n": 3})), "{frame}");
}

/// App state the endpoint is given: read by `connect` and by every handler kind through `State<T>`.
struct Config {
    motd: String,
    token: String,
}

/// Shared by every channel of the endpoint.
struct Hits {
    count: AtomicU64,
}

struct StateSocket {
    user: String,
}

#[socket]
impl StateSocket {
    channel!("counter:*" => Counter);

    async fn connect(params: &ConnectParams, _info: &ConnectInfo, config: State<Config>) -> Result<Self, Refuse> {
        match params.get("token") {
            Some(token) if token == config.token => Ok(StateSocket { user: params.get("user").unwrap_or("").into() }),
            _ => Err(Refuse),
        }
    }
}

struct Counter;

#[channel(socket = StateSocket)]
#[intercept("shout")]
impl Counter {
    #[join("counter:{_name}")]
    fn join(config: State<Config>, assigns: &StateSocket) -> JoinResult<Self> {
        JoinResult::ok_with(Counter, json!({"motd": config.motd, "user": assigns.user}))
    }

    #[handle_in("hit")]
    async fn hit(&mut self, hits: State<Hits>, socket: &mut ChannelSocket<Self>, _config: State<Config>) -> Reply {
        let n = hits.count.fetch_add(1, Ordering::Relaxed) + 1;
        Reply::ok(json!({"hits": n, "same": Arc::ptr_eq(&hits.0, &socket.state::<Hits>().unwrap().0)}))
    }

    #[handle_in("shout")]
    fn shout(&self, word: Word, socket: &ChannelSocket<Self>) {
        socket.broadcast("shout", &word);
    }

    #[handle_out("shout")]
    fn shouted(&mut self, msg: Word, config: State<Config>, socket: &mut ChannelSocket<Self>) {
        socket.push("shout", json!({"word": msg.word, "motd": config.motd}));
    }
}

fn state_endpoint() -> channels::endpoint::EndpointBuilder {
    // State after the socket: the order does not matter.
    Endpoint::builder()
        .socket::<StateSocket>("/socket", SocketConfig::default())
        .state(Config { motd: "hello".into(), token: "secret".into() })
        .state(Hits { count: AtomicU64::new(0) })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_and_handlers_read_the_endpoints_state() {
    let server = TestServer::serve(state_endpoint().build()).await;
    let upgrade = [
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    let refused = server.request("GET", "/socket/websocket?vsn=2.0.0&token=wrong", &upgrade, "").await;
    assert_eq!(refused.status, 403, "connect compares with the state's token: {refused:?}");

    let mut ann = Session { client: server.client("vsn=2.0.0&token=secret&user=ann").await, next_ref: 0 };
    let ok = |v: Value| ("ok".to_owned(), v);
    assert_eq!(ann.call("counter:a", "phx_join", json!({})).await, ok(json!({"motd": "hello", "user": "ann"})));
    assert_eq!(ann.call("counter:a", "hit", json!({})).await, ok(json!({"hits": 1, "same": true})));
    assert_eq!(ann.call("counter:a", "hit", json!({})).await, ok(json!({"hits": 2, "same": true})));

    // One value for the whole endpoint: another connection's channel counts on.
    let mut bob = Session { client: server.client("vsn=2.0.0&token=secret&user=bob").await, next_ref: 0 };
    assert_eq!(bob.call("counter:b", "phx_join", json!({})).await, ok(json!({"motd": "hello", "user": "bob"})));
    assert_eq!(bob.call("counter:b", "hit", json!({})).await, ok(json!({"hits": 3, "same": true})));

    // #[handle_out] too
    bob.send("counter:b", "shout", json!({"word": "hey"})).await;
    let frame = bob.recv().await;
    assert_eq!((&frame[3], &frame[4]), (&json!("shout"), &json!({"word": "hey", "motd": "hello"})), "{frame}");
}

#[test]
#[should_panic(expected = "socket handler `dsl::StateSocket` takes `State<dsl::Hits>`, but the endpoint was given \
                           no `dsl::Hits`: add `.state(dsl::Hits { .. })` to Endpoint::builder()")]
fn build_panics_when_a_handlers_state_is_not_given() {
    // `Hits` is taken by a channel's handler only; `Config` is given.
    let _ = Endpoint::builder()
        .state(Config { motd: String::new(), token: String::new() })
        .socket::<StateSocket>("/socket", SocketConfig::default())
        .build();
}

/// A hand-written socket handler that routes to a `#[channel]` taking state without declaring it in
/// `required_state`: no startup check covers it, so the state is found missing at run time.
struct Unchecked;

impl Socket for Unchecked {
    async fn connect(_params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
        Ok(Unchecked)
    }

    fn channels() -> Router<Self> {
        Router::new().channel::<NeedsState>("needs:*")
    }
}

struct NeedsState;

#[channel(socket = Unchecked)]
impl NeedsState {
    #[join("needs:config")]
    fn with_config(_config: State<Config>) -> JoinResult<Self> {
        JoinResult::ok(NeedsState)
    }

    #[join("needs:{_any}")]
    fn join() -> JoinResult<Self> {
        JoinResult::ok(NeedsState)
    }

    #[handle_in("hit")]
    fn hit(&mut self, _hits: State<Hits>) -> Reply {
        Reply::ok(json!({}))
    }
}

#[tokio::test]
async fn a_state_missing_at_run_time_refuses_or_crashes_without_taking_the_server_down() {
    // `connect` called without the endpoint's state (as a unit test of it might): refused.
    let params = ConnectParams::from_query("token=secret");
    assert!(<StateSocket as Socket>::connect(&params, &ConnectInfo::default()).await.is_err());

    let endpoint = TestEndpoint::<Unchecked>::new();
    let mut client = endpoint.connect(&[]).await.unwrap();
    // A join refused as a crashed join is; a handler's channel crashes (phx_error), the connection lives on.
    let refused = client.join("needs:config", json!({})).await.unwrap_err();
    assert_eq!(refused.deserialize::<Value>().unwrap(), json!({"reason": "join crashed"}));
    let joined = client.subscribe_and_join("needs:other", json!({})).await.unwrap();
    client.push(&joined, "hit", json!({})).await;
    client.assert_error(&joined).await;
    client.subscribe_and_join("needs:again", json!({})).await.unwrap();
}
