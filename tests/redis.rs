//! Several nodes over Redis (issue #6): broadcasts, `broadcast_from`, direct broadcasts and socket-id
//! `disconnect` across nodes, a Redis that dies and comes back, a Redis that hangs, startup without Redis, and
//! garbage on the channel.
//!
//! Two kinds of tests:
//! - in-process: two [`Endpoint`]s in this process, each with its own Redis-backed [`PubSub`], and real TCP
//!   WebSocket clients;
//! - processes: two `conformance` example servers started with `REDIS_URL`, `NODE_NAME` and `REDIS_CHANNEL`.
//!
//! The tests that kill, restart or pause Redis start their own `redis-server` on a spare port; the others use
//! the machine's Redis on 127.0.0.1:6379 (`.ci/run` starts one when none answers) and fail with a clear message
//! when it does not answer: they never skip. Every test uses its own Redis channel, so tests running in
//! parallel, or other users of the same Redis, do not see each other's broadcasts.

mod support;

use std::time::{Duration, Instant};

use channels::channel::{Channel, ChannelSocket, HandleResult, JoinResult};
use channels::endpoint::Endpoint;
use channels::payload::Payload;
use channels::pubsub::{PubSub, RedisConfig};
use channels::socket::{Router, SocketConfig};
use serde_json::{Value, json};
use support::free_port;
use support::http;
use support::process::conformance_node;
use support::redis::{RedisServer, redis_command, shared_redis, unique_channel};
use support::server::TestServer;
use support::sockets::Routes;
use support::ws::{Client, Frame};

/// How long cross-node delivery may take to resume once Redis is back (the tests' backoff caps at 250 ms).
const RESUME_TIMEOUT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------------------------
// The app of the in-process nodes

enum App {}

impl Routes for App {
    fn channels() -> Router<UserSocket> {
        Router::new().channel::<RoomChannel>("rooms:*")
    }
}

type UserSocket = support::sockets::UserSocket<App>;

struct RoomChannel;

impl Channel for RoomChannel {
    type Socket = UserSocket;
    type Info = ();

    async fn join(_topic: &str, _payload: Payload, _socket: &mut ChannelSocket<Self>) -> JoinResult<Self> {
        JoinResult::ok(RoomChannel)
    }

    async fn handle_in(&mut self, event: &str, payload: Payload, socket: &mut ChannelSocket<Self>) -> HandleResult {
        match event {
            "new_msg" => socket.broadcast("new_msg", payload),
            "new_msg_from" => socket.broadcast_from("new_msg", payload),
            _ => return HandleResult::error(json!({"reason": "unhandled event"})),
        }
        HandleResult::NoReply
    }
}

/// One node: an endpoint with a Redis-backed PubSub, serving on a free port until dropped.
struct Node {
    server: TestServer,
}

impl Node {
    async fn start(config: RedisConfig) -> Node {
        let pubsub = PubSub::redis(config.clone()).await.unwrap_or_else(|e| panic!("{config:?}: {e}"));
        let endpoint =
            Endpoint::builder().pubsub(pubsub).socket::<UserSocket>("/socket", SocketConfig::default()).build();
        Node { server: TestServer::serve(endpoint).await }
    }

    fn pubsub(&self) -> &PubSub {
        self.server.endpoint.pubsub()
    }

    /// A V2 client (V1 with `vsn=1.0.0` in `query`) that joined `rooms:lobby`.
    async fn member(&self, query: &str) -> Client {
        let mut client = self.server.client(query).await;
        if query.contains("vsn=1.0.0") {
            client.send_text(r#"{"topic":"rooms:lobby","event":"phx_join","payload":{},"ref":"1"}"#).await;
            client
                .expect_text(
                    r#"{"topic":"rooms:lobby","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"1"}"#,
                )
                .await;
        } else {
            client.join("1", "rooms:lobby", "{}", "{}").await;
        }
        client
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.server.endpoint.shutdown();
    }
}

/// A configuration for the node `name` on `port`, on `channel`, reconnecting quickly.
fn config(port: u16, channel: &str, name: &str) -> RedisConfig {
    // Every test makes one: the adapters' logs (outages, recoveries) then show with a failing test's output.
    let _ = tracing_subscriber::fmt().with_env_filter("channels_runtime=debug").with_test_writer().try_init();
    RedisConfig::new(format!("redis://127.0.0.1:{port}"))
        .node_name(name)
        .channel(channel)
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(250))
}

/// Nodes `a` and `b` on the shared Redis, on a channel of their own.
async fn two_nodes() -> (Node, Node) {
    let port = shared_redis();
    let channel = unique_channel();
    (Node::start(config(port, &channel, "a")).await, Node::start(config(port, &channel, "b")).await)
}

// ---------------------------------------------------------------------------------------------------------------
// Frames

/// Sends `new_msg` (or another event) with body `body` on `rooms:lobby` (V2).
async fn say(client: &mut Client, event: &str, body: &str) {
    client.send_text(&format!(r#"["1",null,"rooms:lobby","{event}",{{"body":"{body}"}}]"#)).await;
}

/// The V2 frame of a `new_msg` broadcast with body `body`.
fn v2_msg(body: &str) -> String {
    format!(r#"[null,null,"rooms:lobby","new_msg",{{"body":"{body}"}}]"#)
}

/// The V1 frame of a `new_msg` broadcast with body `body`.
fn v1_msg(body: &str) -> String {
    format!(r#"{{"topic":"rooms:lobby","event":"new_msg","payload":{{"body":"{body}"}},"ref":null}}"#)
}

/// The body of a V2 `new_msg` broadcast frame.
fn body_of(frame: &Frame) -> String {
    let Frame::Text(text) = frame else { panic!("expected a broadcast, got {}", frame.describe()) };
    let value: Value = serde_json::from_str(text).unwrap();
    assert_eq!(value[3], "new_msg", "expected a new_msg broadcast, got {text}");
    value[4]["body"].as_str().unwrap_or_else(|| panic!("no body in {text}")).to_owned()
}

/// Reads broadcasts until one has body `body`; `false` if none does within `timeout`.
async fn received(client: &mut Client, body: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match client.try_recv(left).await {
            Some(frame) if body_of(&frame) == body => return true,
            Some(_) => {}
            None => return false,
        }
    }
    false
}

// ---------------------------------------------------------------------------------------------------------------
// In-process nodes on the shared Redis

#[tokio::test]
async fn clients_on_two_nodes_chat() {
    let (a, b) = two_nodes().await;
    let mut on_a = a.member("vsn=2.0.0").await;
    let mut on_b = b.member("vsn=2.0.0").await;
    // A V1 client too: each node encodes the broadcast for its own clients' serializers.
    let mut on_b_v1 = b.member("vsn=1.0.0").await;

    say(&mut on_a, "new_msg", "hello from a").await;
    on_a.expect_text(&v2_msg("hello from a")).await;
    on_b.expect_text(&v2_msg("hello from a")).await;
    on_b_v1.expect_text(&v1_msg("hello from a")).await;

    say(&mut on_b, "new_msg", "hello from b").await;
    on_b.expect_text(&v2_msg("hello from b")).await;
    on_b_v1.expect_text(&v1_msg("hello from b")).await;
    on_a.expect_text(&v2_msg("hello from b")).await;

    // Server-side broadcasts travel the same way, and each node delivers a broadcast once.
    a.server.endpoint.broadcast("rooms:lobby", "new_msg", json!({"body": "from the server"}));
    for client in [&mut on_a, &mut on_b] {
        client.expect_text(&v2_msg("from the server")).await;
        client.heartbeat("hb").await;
    }
    assert_eq!((a.pubsub().dropped(), b.pubsub().dropped()), (0, 0));
}

#[tokio::test]
async fn broadcast_from_excludes_only_the_sender() {
    let (a, b) = two_nodes().await;
    let mut sender = a.member("vsn=2.0.0").await;
    let mut neighbour = a.member("vsn=2.0.0").await;
    let mut remote = b.member("vsn=2.0.0").await;

    say(&mut sender, "new_msg_from", "not for me").await;
    neighbour.expect_text(&v2_msg("not for me")).await;
    remote.expect_text(&v2_msg("not for me")).await;
    sender.heartbeat("hb").await;

    // From the other side: the remote node excludes nobody, the sending node excludes its sender.
    say(&mut remote, "new_msg_from", "from b").await;
    sender.expect_text(&v2_msg("from b")).await;
    neighbour.expect_text(&v2_msg("from b")).await;
    remote.heartbeat("hb").await;
}

#[tokio::test]
async fn direct_broadcast_reaches_one_node() {
    let (a, b) = two_nodes().await;
    let mut on_a = a.member("vsn=2.0.0").await;
    let mut on_b = b.member("vsn=2.0.0").await;
    assert_eq!((a.pubsub().node_name(), b.pubsub().node_name()), ("a", "b"));

    a.pubsub().direct_broadcast("b", "rooms:lobby", "new_msg", json!({"body": "only b"}));
    on_b.expect_text(&v2_msg("only b")).await;
    // Addressed to its own node, a direct broadcast goes through Redis like any other and comes back.
    a.pubsub().direct_broadcast("a", "rooms:lobby", "new_msg", json!({"body": "only a"}));
    on_a.expect_text(&v2_msg("only a")).await;
    a.pubsub().direct_broadcast("nobody", "rooms:lobby", "new_msg", json!({"body": "lost"}));
    b.pubsub().direct_broadcast("a", "rooms:lobby", "new_msg", json!({"body": "b to a"}));
    on_a.expect_text(&v2_msg("b to a")).await;
    // Redis keeps each publisher's order, so had anything else been delivered it would have come first.
    on_a.heartbeat("hb").await;
    on_b.heartbeat("hb").await;
}

#[tokio::test]
async fn disconnect_by_socket_id_across_nodes() {
    let (a, b) = two_nodes().await;
    let mut user_on_a = a.member("vsn=2.0.0&user=42").await;
    let mut user_on_b = b.member("vsn=2.0.0&user=42").await;
    let mut other_on_b = b.member("vsn=2.0.0&user=7").await;
    let mut anonymous_on_b = b.member("vsn=2.0.0").await;

    a.server.endpoint.broadcast("users_socket:42", "disconnect", json!({}));
    assert_eq!(user_on_b.expect_close().await, Some(1001));
    assert_eq!(user_on_a.expect_close().await, Some(1001));
    other_on_b.heartbeat("hb").await;
    anonymous_on_b.heartbeat("hb").await;
}

#[tokio::test]
async fn malformed_messages_on_the_channel_are_ignored() {
    let port = shared_redis();
    let channel = unique_channel();
    let a = PubSub::redis(config(port, &channel, "a")).await.unwrap();
    let b = PubSub::redis(config(port, &channel, "b")).await.unwrap();
    let mut on_b = b.subscribe("rooms:lobby", 16);

    let garbage: [&[u8]; 6] = [
        b"",
        b"not an envelope",
        b"\x02\x00\x01a\0\0\0\x01t\0\0\0\x01e{}", // a version this node does not speak
        b"\x01\x00\x01a\0\0\0\x0bt\0\0\0\x01e{}", // the topic's length runs past the end
        b"\x01\x00\x01a\0\0\0\x0brooms:lobby\0\0\0\x01e{", // the payload is not JSON
        b"\x01\x00\x01a\0\0\0\x0brooms:lobby\0\0\0\x01e\xff",
    ];
    for message in garbage {
        redis_command(port, &[b"PUBLISH", channel.as_bytes(), message]).unwrap();
    }
    a.broadcast("rooms:lobby", "new_msg", json!({"body": "still here"}));
    let got = tokio::time::timeout(Duration::from_secs(2), on_b.recv()).await.expect("no broadcast after the garbage");
    assert_eq!(got.unwrap().payload.as_json(), Some(r#"{"body":"still here"}"#));
}

// ---------------------------------------------------------------------------------------------------------------
// In-process nodes on a Redis of their own, which dies, hangs, or is not there yet

#[tokio::test]
async fn redis_restart_keeps_local_delivery_and_cross_node_delivery_resumes() {
    let mut redis = RedisServer::start(free_port());
    let channel = unique_channel();
    let a = Node::start(config(redis.port, &channel, "a")).await;
    let b = Node::start(config(redis.port, &channel, "b")).await;
    let mut on_a = a.member("vsn=2.0.0").await;
    let mut on_b = b.member("vsn=2.0.0").await;
    say(&mut on_a, "new_msg", "before").await;
    on_a.expect_text(&v2_msg("before")).await;
    on_b.expect_text(&v2_msg("before")).await;

    redis.kill();
    // Local delivery never stops; nothing reaches the other node; what could not be sent is counted.
    for i in 0..10 {
        say(&mut on_a, "new_msg", &format!("down {i}")).await;
        on_a.expect_text(&v2_msg(&format!("down {i}"))).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    on_b.expect_silence(Duration::from_millis(200)).await;
    assert!(a.pubsub().dropped() > 0, "broadcasts during the outage were not counted as dropped");

    redis.restart();
    // Keep chatting on `a` (every message reaches `a` at once) until `b` hears it again.
    let deadline = Instant::now() + RESUME_TIMEOUT;
    let mut n = 0;
    loop {
        n += 1;
        say(&mut on_a, "new_msg", &format!("up {n}")).await;
        on_a.expect_text(&v2_msg(&format!("up {n}"))).await;
        if let Some(frame) = on_b.try_recv(Duration::from_millis(100)).await {
            assert!(body_of(&frame).starts_with("up "), "unexpected frame on b: {}", frame.describe());
            break;
        }
        assert!(Instant::now() < deadline, "a -> b did not resume within {RESUME_TIMEOUT:?} of the restart");
    }
    // And the other way: `b`'s publisher reconnects too.
    let deadline = Instant::now() + RESUME_TIMEOUT;
    let mut n = 0;
    loop {
        n += 1;
        let body = format!("b up {n}");
        say(&mut on_b, "new_msg", &body).await;
        if received(&mut on_a, &body, Duration::from_millis(100)).await {
            break;
        }
        assert!(Instant::now() < deadline, "b -> a did not resume within {RESUME_TIMEOUT:?} of the restart");
    }
    // Fully back: the next message reaches both nodes.
    say(&mut on_a, "new_msg", "after").await;
    assert!(received(&mut on_a, "after", Duration::from_secs(2)).await);
    assert!(received(&mut on_b, "after", Duration::from_secs(2)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_redis_drops_and_counts_instead_of_blocking() {
    let redis = RedisServer::start(free_port());
    let channel = unique_channel();
    const QUEUE: usize = 8;
    let a = PubSub::redis(config(redis.port, &channel, "a").publish_queue(QUEUE)).await.unwrap();
    let b = PubSub::redis(config(redis.port, &channel, "b")).await.unwrap();
    let mut on_a = a.subscribe("t", 2048);
    let mut on_b = b.subscribe("t", 2048);
    a.broadcast("t", "e", json!({"n": 0}));
    tokio::time::timeout(Duration::from_secs(2), on_b.recv()).await.expect("b did not hear a");

    redis.signal("STOP");
    let started = Instant::now();
    for n in 1..=1000 {
        a.broadcast("t", "e", json!({"n": n}));
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "1000 broadcasts took {took:?} with Redis hung");
    for _ in 1..=1000 {
        on_a.recv().await.unwrap(); // every local subscriber got every one
    }
    // At most one batch (≤ QUEUE) waits for Redis's answer, and QUEUE more wait in the queue.
    let dropped = a.dropped();
    assert!(dropped >= (1000 - 2 * QUEUE) as u64, "only {dropped} of 1000 dropped");

    redis.signal("CONT");
    let deadline = Instant::now() + RESUME_TIMEOUT;
    loop {
        a.broadcast("t", "e", json!({"n": "resumed"}));
        let got = tokio::time::timeout(Duration::from_millis(200), async {
            while let Some(b) = on_b.recv().await {
                if b.payload.as_json() == Some(r#"{"n":"resumed"}"#) {
                    return;
                }
            }
        });
        if got.await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "cross-node delivery did not resume after Redis continued");
    }
}

#[tokio::test]
async fn startup_without_redis_fails_clearly_or_retries_as_configured() {
    let port = free_port();
    let channel = unique_channel();
    let error = PubSub::redis(config(port, &channel, "a")).await.unwrap_err().to_string();
    assert!(error.starts_with(&format!("cannot reach Redis at 127.0.0.1:{port}: ")), "{error}");

    let a = Node::start(config(port, &channel, "a").retry_on_start(true)).await;
    let b = Node::start(config(port, &channel, "b").retry_on_start(true)).await;
    let mut on_a = a.member("vsn=2.0.0").await;
    let mut on_b = b.member("vsn=2.0.0").await;
    say(&mut on_a, "new_msg", "alone").await;
    on_a.expect_text(&v2_msg("alone")).await;
    on_b.expect_silence(Duration::from_millis(200)).await;

    let _redis = RedisServer::start(port);
    let deadline = Instant::now() + RESUME_TIMEOUT;
    let mut n = 0;
    loop {
        n += 1;
        let body = format!("together {n}");
        say(&mut on_a, "new_msg", &body).await;
        on_a.expect_text(&v2_msg(&body)).await;
        if received(&mut on_b, &body, Duration::from_millis(100)).await {
            break;
        }
        assert!(Instant::now() < deadline, "nodes did not connect within {RESUME_TIMEOUT:?} of Redis starting");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Two `conformance` processes

#[tokio::test]
async fn conformance_nodes_chat_and_broadcast_from_over_redis() {
    let channel = unique_channel();
    let a = conformance_node(shared_redis(), &channel, "a", &[]);
    let b = conformance_node(shared_redis(), &channel, "b", &[]);
    let mut on_a = Client::connect(&a.ws_url("vsn=2.0.0")).await;
    let mut on_b = Client::connect(&b.ws_url("vsn=2.0.0")).await;
    for client in [&mut on_a, &mut on_b] {
        client.join("1", "rooms:lobby", "{}", "{}").await;
        client.join("2", "test:x", "{}", r#"{"topic":"test:x"}"#).await;
    }

    on_a.send_text(r#"["1","3","rooms:lobby","new_msg",{"body":"hi from a"}]"#).await;
    on_b.send_text(r#"["1","3","rooms:lobby","new_msg",{"body":"hi from b"}]"#).await;
    for client in [&mut on_a, &mut on_b] {
        let mut bodies = [body_of(&client.recv().await), body_of(&client.recv().await)];
        bodies.sort();
        assert_eq!(bodies, ["hi from a", "hi from b"]);
    }

    on_a.send_text(r#"["2","4","test:x","broadcast_from",{"n":1}]"#).await;
    on_b.expect_text(r#"[null,null,"test:x","broadcasted",{"n":1}]"#).await;
    on_a.heartbeat("hb").await;
}

#[tokio::test]
async fn conformance_disconnect_me_closes_the_user_on_every_node() {
    let channel = unique_channel();
    let a = conformance_node(shared_redis(), &channel, "a", &[]);
    let b = conformance_node(shared_redis(), &channel, "b", &[]);
    // Both nodes share the default secret key base, so a token from one is valid on the other.
    let token = http::request(a.addr(), "GET", "/token?user_id=42", &[], "").await;
    assert_eq!(token.status, 200, "{token:?}");
    let token = token.body.trim();
    let mut user_on_a = Client::connect(&a.ws_url(&format!("vsn=2.0.0&token={token}"))).await;
    let mut user_on_b = Client::connect(&b.ws_url(&format!("vsn=2.0.0&token={token}"))).await;
    let mut anonymous_on_b = Client::connect(&b.ws_url("vsn=2.0.0")).await;
    for client in [&mut user_on_a, &mut user_on_b] {
        client.join("1", "test:d", "{}", r#"{"topic":"test:d"}"#).await;
    }

    user_on_a.send_text(r#"["1","2","test:d","disconnect_me",{}]"#).await;
    assert_eq!(user_on_a.expect_close().await, Some(1001));
    assert_eq!(user_on_b.expect_close().await, Some(1001));
    anonymous_on_b.heartbeat("hb").await;
}
