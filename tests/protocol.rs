//! Runtime behaviour over real TCP that the captured vectors do not cover: HTTP answers of the upgrade, socket
//! ids and `disconnect`, limits, slow clients, malformed and oversize frames, idle timeout, crash isolation in
//! every callback, `handle_info`, `terminate`, serializers side by side, and graceful shutdown.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use channels::channel::{Channel, ChannelSocket, HandleResult, JoinResult, OutResult, TerminateReason};
use channels::endpoint::Endpoint;
use channels::payload::Payload;
use channels::socket::{Router, SocketConfig};
use serde_json::{Value, json};
use support::http::{first_answer, parse};
use support::server::TestServer;
use support::sockets::Routes;
use support::ws::{Client, Frame};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use warp::Filter;

/// Terminations seen by `ProbeChannel`, as `(topic, reason)`.
static TERMINATED: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

enum App {}

impl Routes for App {
    fn channels() -> Router<UserSocket> {
        Router::new().channel::<ProbeChannel>("probe:*").channel::<ProbeChannel>("exact")
    }
}

type UserSocket = support::sockets::UserSocket<App>;

/// Messages for `ProbeChannel::handle_info`.
enum Info {
    Push(String),
    Crash,
    Stop,
}

struct ProbeChannel;

impl Channel for ProbeChannel {
    type Socket = UserSocket;
    type Info = Info;
    const INTERCEPTS: &'static [&'static str] = &["out_crash"];

    async fn join(topic: &str, payload: Payload, socket: &mut ChannelSocket<Self>) -> JoinResult<Self> {
        let payload: Value = payload.deserialize().unwrap_or(Value::Null);
        if payload.get("crash") == Some(&Value::Bool(true)) {
            panic!("join crash requested");
        }
        if payload.get("after_join") == Some(&Value::Bool(true)) {
            socket.send_info(Info::Push("after_join".into()));
        }
        JoinResult::ok_with(ProbeChannel, json!({"topic": topic}))
    }

    async fn handle_in(&mut self, event: &str, payload: Payload, socket: &mut ChannelSocket<Self>) -> HandleResult {
        match event {
            "echo" => HandleResult::ok(payload),
            "slow_echo" => {
                tokio::time::sleep(Duration::from_millis(300)).await;
                HandleResult::ok(payload)
            }
            "broadcast" => {
                socket.broadcast("broadcasted", payload);
                HandleResult::NoReply
            }
            "out_crash" => {
                socket.broadcast("out_crash", payload);
                HandleResult::NoReply
            }
            "info_later" => {
                let handle = socket.handle();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let _ = handle.send(Info::Push("from_task".into()));
                });
                HandleResult::NoReply
            }
            "info_crash" => {
                socket.send_info(Info::Crash);
                HandleResult::NoReply
            }
            "info_stop" => {
                socket.send_info(Info::Stop);
                HandleResult::NoReply
            }
            "stop_error" => {
                HandleResult::Stop { reason: channels::channel::StopReason::Error("bad".into()), reply: None }
            }
            "assigns" => HandleResult::ok(json!({"user": socket.assigns().user})),
            "info" => HandleResult::ok(&socket.assigns().info),
            _ => HandleResult::error(json!({"reason": "unhandled event"})),
        }
    }

    async fn handle_out(&mut self, _event: &str, _payload: &Payload, _socket: &mut ChannelSocket<Self>) -> OutResult {
        panic!("handle_out crash requested");
    }

    async fn handle_info(&mut self, info: Info, socket: &mut ChannelSocket<Self>) -> OutResult {
        match info {
            Info::Push(event) => {
                socket.push(&event, json!({}));
                OutResult::NoReply
            }
            Info::Crash => panic!("handle_info crash requested"),
            Info::Stop => OutResult::Stop(channels::channel::StopReason::Normal),
        }
    }

    async fn terminate(&mut self, reason: &TerminateReason, socket: &mut ChannelSocket<Self>) {
        TERMINATED.lock().unwrap().push((socket.topic().to_owned(), format!("{reason:?}")));
        if socket.topic().ends_with(":terminate_crash") {
            panic!("terminate crash requested");
        }
    }
}

async fn start(config: SocketConfig) -> TestServer {
    start_with_drain(config, channels::endpoint::Drain::default()).await
}

async fn start_with_drain(config: SocketConfig, drain: channels::endpoint::Drain) -> TestServer {
    let hello = warp::path("hello").map(|| "hello from warp");
    TestServer::serve(Endpoint::builder().socket::<UserSocket>("/socket", config).routes(hello).drain(drain).build())
        .await
}

/// Joins `topic`, whose ok reply names it.
async fn join(client: &mut Client, join_ref: &str, topic: &str) {
    client.join(join_ref, topic, "{}", &format!(r#"{{"topic":"{topic}"}}"#)).await;
}

const UPGRADE: &str = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

#[tokio::test]
async fn upgrade_answers_like_phoenix() {
    let server = start(SocketConfig::default()).await;
    let get = |query: &str, extra: &str| format!("GET /socket/websocket{query} HTTP/1.1\r\nHost: x\r\n{extra}\r\n");

    let plain = first_answer(server.addr, &get("?vsn=2.0.0", "")).await;
    assert!(plain.starts_with("HTTP/1.1 400"), "{plain}");
    assert!(plain.contains("'connection' header must contain 'upgrade'"), "{plain}");

    let post = first_answer(server.addr, &format!("POST /socket/websocket HTTP/1.1\r\nHost: x\r\n{UPGRADE}\r\n")).await;
    assert!(post.starts_with("HTTP/1.1 400"), "{post}");

    let bad_vsn = first_answer(server.addr, &get("?vsn=123.1.1", UPGRADE)).await;
    assert!(bad_vsn.starts_with("HTTP/1.1 403"), "{bad_vsn}");

    let refused = first_answer(server.addr, &get("?vsn=2.0.0&reject=1", UPGRADE)).await;
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    assert!(refused.to_ascii_lowercase().contains("content-length: 0\r\n"), "{refused}");
    // A refusal with a reason, as Phoenix's `{:error, reason}` with an error handler.
    let expired = parse(&first_answer(server.addr, &get("?vsn=2.0.0&refuse=401&reason=expired", UPGRADE)).await);
    assert_eq!((expired.status, expired.json()), (401, json!({"reason": "expired"})));
    assert_eq!(expired.header("content-type"), Some("application/json; charset=utf-8"));
    let busy = parse(&first_answer(server.addr, &get("?vsn=2.0.0&refuse=429&text=slow+down", UPGRADE)).await);
    assert_eq!((busy.status, busy.body.as_str()), (429, "slow down"));
    assert_eq!(busy.header("content-type"), Some("text/plain; charset=utf-8"));

    let ok =
        first_answer(server.addr, &get("?vsn=2.0.0", &format!("{UPGRADE}Sec-WebSocket-Protocol: phoenix, other\r\n")))
            .await;
    assert!(ok.starts_with("HTTP/1.1 101"), "{ok}");
    assert!(ok.to_ascii_lowercase().contains("sec-websocket-protocol: phoenix\r\n"), "{ok}");
    assert!(ok.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "accept key: {ok}");

    let no_protocol = first_answer(server.addr, &get("?vsn=2.0.0", UPGRADE)).await;
    assert!(no_protocol.starts_with("HTTP/1.1 101"), "{no_protocol}");
    assert!(!no_protocol.to_ascii_lowercase().contains("sec-websocket-protocol"), "{no_protocol}");

    // check_origin defaults to the host the request was sent to; origin-less requests pass.
    let foreign =
        first_answer(server.addr, &get("?vsn=2.0.0", &format!("{UPGRADE}Origin: https://evil.example\r\n"))).await;
    assert!(foreign.starts_with("HTTP/1.1 403"), "{foreign}");
    let same = first_answer(server.addr, &get("?vsn=2.0.0", &format!("{UPGRADE}Origin: http://x\r\n"))).await;
    assert!(same.starts_with("HTTP/1.1 101"), "{same}");

    let warp_route = first_answer(server.addr, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(warp_route.starts_with("HTTP/1.1 200") && warp_route.ends_with("hello from warp"), "{warp_route}");
    let missing = first_answer(server.addr, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
}

#[tokio::test]
async fn exact_and_prefix_routes() {
    let server = start(SocketConfig::default()).await;
    let mut c = server.client("vsn=2.0.0").await;
    join(&mut c, "1", "exact").await;
    join(&mut c, "2", "probe:anything").await;
    c.send_text(r#"["3","3","exactly","phx_join",{}]"#).await;
    c.expect_text(r#"[null,"3","exactly","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]"#)
        .await;
}

#[tokio::test]
async fn disconnect_broadcast_closes_every_connection_of_that_id_only() {
    let server = start(SocketConfig::default()).await;
    let mut a1 = server.client("vsn=2.0.0&user=a").await;
    let mut a2 = server.client("vsn=2.0.0&user=a").await;
    let mut b = server.client("vsn=2.0.0&user=b").await;
    let mut anonymous = server.client("vsn=2.0.0").await;
    join(&mut a1, "1", "probe:d1").await;
    join(&mut a2, "1", "probe:d2").await;
    join(&mut b, "1", "probe:d3").await;
    a1.send_text(r#"["1","2","probe:d1","assigns",{}]"#).await;
    a1.expect_text(r#"["1","2","probe:d1","phx_reply",{"response":{"user":"a"},"status":"ok"}]"#).await;

    server.endpoint.broadcast("users_socket:a", "disconnect", json!({}));
    assert_eq!(a1.expect_close().await, Some(1001));
    assert_eq!(a2.expect_close().await, Some(1001));
    b.heartbeat("9").await;
    anonymous.heartbeat("9").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let terminated = TERMINATED.lock().unwrap().clone();
    for topic in ["probe:d1", "probe:d2"] {
        assert!(terminated.contains(&(topic.to_owned(), "Closed".to_owned())), "{terminated:?}");
    }
}

#[tokio::test]
async fn channel_limit_per_connection() {
    let server = start(SocketConfig::default().max_channels(3)).await;
    let mut c = server.client("vsn=2.0.0").await;
    for i in 1..=3 {
        join(&mut c, &i.to_string(), &format!("probe:{i}")).await;
    }
    c.send_text(r#"["4","4","probe:4","phx_join",{}]"#).await;
    c.expect_text(
        r#"["4","4","probe:4","phx_reply",{"response":{"reason":"too many channels joined"},"status":"error"}]"#,
    )
    .await;
    // A duplicate join of a joined topic is not a new channel.
    c.send_text(r#"["5","5","probe:1","phx_join",{}]"#).await;
    c.expect_text(r#"["5","5","probe:1","phx_reply",{"response":{"topic":"probe:1"},"status":"ok"}]"#).await;
    c.expect_text(r#"["1","1","probe:1","phx_close",{}]"#).await;
    // Leaving frees a slot.
    c.send_text(r#"["2","6","probe:2","phx_leave",{}]"#).await;
    c.expect_text(r#"["2","6","probe:2","phx_reply",{"response":{},"status":"ok"}]"#).await;
    c.expect_text(r#"["2","2","probe:2","phx_close",{}]"#).await;
    join(&mut c, "7", "probe:4").await;
}

#[tokio::test]
async fn stale_join_refs_are_dropped_null_accepted() {
    let server = start(SocketConfig::default()).await;
    let mut c = server.client("vsn=2.0.0").await;
    join(&mut c, "1", "probe:stale").await;
    c.send_text(r#"["0","2","probe:stale","echo",{"x":1}]"#).await;
    c.send_text(r#"["0","3","probe:stale","phx_leave",{}]"#).await;
    c.expect_silence(Duration::from_millis(200)).await;
    c.send_text(r#"[null,"4","probe:stale","echo",{"x":2}]"#).await;
    c.expect_text(r#"["1","4","probe:stale","phx_reply",{"response":{"x":2},"status":"ok"}]"#).await;
    c.send_text(r#"[null,"5","probe:stale","phx_leave",{}]"#).await;
    c.expect_text(r#"["1","5","probe:stale","phx_reply",{"response":{},"status":"ok"}]"#).await;
    c.expect_text(r#"["1","1","probe:stale","phx_close",{}]"#).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(TERMINATED.lock().unwrap().contains(&("probe:stale".to_owned(), "Left".to_owned())));
}

#[tokio::test]
async fn malformed_frames_close_only_that_connection() {
    let server = start(SocketConfig::default()).await;
    let mut bystander = server.client("vsn=2.0.0").await;
    join(&mut bystander, "1", "probe:bystander").await;
    for (vsn, bad) in [
        ("2.0.0", "not json"),
        ("2.0.0", r#"["1","2","t"]"#),
        ("2.0.0", r#"{"topic":"t","event":"e","payload":{},"ref":"1"}"#),
        ("1.0.0", r#"["1","2","t","e",{}]"#),
    ] {
        let mut c = server.client(&format!("vsn={vsn}")).await;
        c.send_text(bad).await;
        assert_eq!(c.expect_close().await, Some(1011), "{vsn} {bad}");
    }
    let mut c = server.client("vsn=2.0.0").await;
    c.send_binary(&[1, 0, 0]).await;
    assert_eq!(c.expect_close().await, Some(1011));
    bystander.send_text(r#"["1","2","probe:bystander","echo",{}]"#).await;
    bystander.expect_text(r#"["1","2","probe:bystander","phx_reply",{"response":{},"status":"ok"}]"#).await;
}

#[tokio::test]
async fn oversize_frame_closes_with_1009() {
    let server = start(SocketConfig::default().max_frame_size(1024)).await;
    let mut c = server.client("vsn=2.0.0").await;
    join(&mut c, "1", "probe:big").await;
    let big = "x".repeat(2000);
    c.send_text(&format!(r#"["1","2","probe:big","echo",{{"b":"{big}"}}]"#)).await;
    assert_eq!(c.expect_close().await, Some(1009));
}

#[tokio::test]
async fn idle_connections_are_dropped() {
    let server = start(SocketConfig::default().idle_timeout(Duration::from_millis(300))).await;
    let mut idle = server.client("vsn=2.0.0").await;
    let mut busy = server.client("vsn=2.0.0").await;
    for i in 0..6 {
        busy.heartbeat(&i.to_string()).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Closed with a code, as Cowboy closes an idle WebSocket (1000).
    assert_eq!(idle.recv().await, Frame::Close(Some(1000)));
    busy.heartbeat("9").await;
}

#[tokio::test]
async fn slow_client_is_disconnected_without_slowing_others() {
    let server = start(SocketConfig::default().outbox_capacity(16)).await;
    // The stalled client never reads, so the kernel buffers fill, then its outbox.
    let mut stalled = server.client("vsn=2.0.0").await;
    stalled.send_text(r#"["1","1","probe:fan","phx_join",{}]"#).await;
    let mut reader = server.client("vsn=2.0.0").await;
    join(&mut reader, "1", "probe:fan").await;
    // Keep broadcasting until the stalled client's socket buffers and then its outbox are full.
    let payload = "y".repeat(32 << 10);
    let mut dropped_after = None;
    for i in 0..3000 {
        server.endpoint.broadcast("probe:fan", "big", json!({"i": i, "p": payload}));
        // The healthy client reads as it goes and gets every broadcast, in order.
        match reader.recv().await {
            Frame::Text(t) => assert!(t.contains(&format!(r#""i":{i},"#)), "broadcast {i} out of order"),
            other => panic!("{}", other.describe()),
        }
        if server.endpoint.pubsub().subscriber_count("probe:fan") == 1 {
            dropped_after = Some(i);
            break;
        }
    }
    assert!(dropped_after.is_some(), "the stalled client was never dropped");
    drop(stalled);
}

#[tokio::test]
async fn a_panic_in_any_callback_ends_only_its_channel() {
    let server = start(SocketConfig::default()).await;
    let mut c = server.client("vsn=2.0.0").await;
    join(&mut c, "1", "probe:other").await;

    c.send_text(r#"["2","2","probe:join","phx_join",{"crash":true}]"#).await;
    c.expect_text(r#"["2","2","probe:join","phx_reply",{"response":{"reason":"join crashed"},"status":"error"}]"#)
        .await;

    let crash = r#"{"reason":"channel_crash"}"#;
    join(&mut c, "3", "probe:out").await;
    c.send_text(r#"["3","4","probe:out","out_crash",{}]"#).await;
    c.expect_text(&format!(r#"["3","3","probe:out","phx_error",{crash}]"#)).await;

    join(&mut c, "5", "probe:info").await;
    c.send_text(r#"["5","6","probe:info","info_crash",{}]"#).await;
    c.expect_text(&format!(r#"["5","5","probe:info","phx_error",{crash}]"#)).await;

    join(&mut c, "7", "probe:stop").await;
    c.send_text(r#"["7","8","probe:stop","stop_error",{}]"#).await;
    c.expect_text(&format!(r#"["7","7","probe:stop","phx_error",{crash}]"#)).await;

    join(&mut c, "9", "probe:terminate_crash").await;
    c.send_text(r#"["9","10","probe:terminate_crash","phx_leave",{}]"#).await;
    c.expect_text(r#"["9","10","probe:terminate_crash","phx_reply",{"response":{},"status":"ok"}]"#).await;
    c.expect_text(r#"["9","9","probe:terminate_crash","phx_close",{}]"#).await;

    // The crashed topics are gone; the socket and the other channel carry on.
    c.send_text(r#"["3","11","probe:out","echo",{}]"#).await;
    c.expect_text(r#"[null,"11","probe:out","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]"#)
        .await;
    c.send_text(r#"["1","12","probe:other","echo",{"still":"alive"}]"#).await;
    c.expect_text(r#"["1","12","probe:other","phx_reply",{"response":{"still":"alive"},"status":"ok"}]"#).await;
}

#[tokio::test]
async fn handle_info_from_the_channel_and_from_other_tasks() {
    let server = start(SocketConfig::default()).await;
    let mut c = server.client("vsn=2.0.0").await;
    c.send_text(r#"["1","1","probe:info2","phx_join",{"after_join":true}]"#).await;
    c.expect_text(r#"["1","1","probe:info2","phx_reply",{"response":{"topic":"probe:info2"},"status":"ok"}]"#).await;
    c.expect_text(r#"["1",null,"probe:info2","after_join",{}]"#).await;
    c.send_text(r#"["1","2","probe:info2","info_later",{}]"#).await;
    c.expect_text(r#"["1",null,"probe:info2","from_task",{}]"#).await;
    c.send_text(r#"["1","3","probe:info2","info_stop",{}]"#).await;
    c.expect_text(r#"["1","1","probe:info2","phx_close",{}]"#).await;
}

#[tokio::test]
async fn one_broadcast_reaches_v1_and_v2_subscribers_in_their_format() {
    let server = start(SocketConfig::default()).await;
    let mut v2 = server.client("vsn=2.0.0").await;
    let mut v1 = server.client("vsn=1.0.0").await;
    join(&mut v2, "1", "probe:mixed").await;
    v1.send_text(r#"{"topic":"probe:mixed","event":"phx_join","payload":{},"ref":"1","join_ref":"1"}"#).await;
    v1.expect_text(r#"{"event":"phx_reply","payload":{"response":{"topic":"probe:mixed"},"status":"ok"},"ref":"1","topic":"probe:mixed"}"#)
        .await;
    v2.send_text(r#"["1","2","probe:mixed","broadcast",{"n":1}]"#).await;
    v2.expect_text(r#"[null,null,"probe:mixed","broadcasted",{"n":1}]"#).await;
    v1.expect_text(r#"{"event":"broadcasted","payload":{"n":1},"ref":null,"topic":"probe:mixed"}"#).await;
    // A binary broadcast reaches V2 subscribers only; V1 has no binary frames.
    v2.send_binary(b"\x00\x01\x01\x0b\x0913probe:mixedbroadcast\xde\xad").await;
    v2.expect_binary(b"\x02\x0b\x0bprobe:mixedbroadcasted\xde\xad").await;
    v1.expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn graceful_shutdown_closes_with_1012_after_terminate() {
    let server = start(SocketConfig::default()).await;
    let mut c = server.client("vsn=2.0.0").await;
    join(&mut c, "1", "probe:shutdown").await;
    server.endpoint.shutdown();
    assert_eq!(c.expect_close().await, Some(1012));
    tokio::time::timeout(Duration::from_secs(5), server.done).await.expect("server stops").unwrap().unwrap();
    assert!(TERMINATED.lock().unwrap().contains(&("probe:shutdown".to_owned(), "Shutdown".to_owned())));
    assert!(TcpStream::connect(server.addr).await.is_err(), "the listener is closed");
}

#[tokio::test]
async fn limits_on_names_nesting_and_join_rate() {
    let config =
        SocketConfig::default().max_name_lengths(20, 10).max_payload_depth(4).join_rate(3, Duration::from_secs(60));
    let server = start(config).await;
    let mut c = server.client("vsn=2.0.0").await;
    join(&mut c, "1", "probe:limits").await;
    let long_topic = format!("probe:{}", "t".repeat(30));
    c.send_text(&format!(r#"["2","2","{long_topic}","phx_join",{{}}]"#)).await;
    // The reply names the topic only as far as the limit: an oversized topic is not echoed back whole.
    let cut = &long_topic[..20];
    c.expect_text(&format!(
        r#"["2","2","{cut}","phx_reply",{{"response":{{"reason":"topic too long"}},"status":"error"}}]"#
    ))
    .await;
    c.send_text(r#"["1","3","probe:limits","an_event_name_too_long",{}]"#).await;
    c.expect_text(r#"["1","3","probe:limits","phx_reply",{"response":{"reason":"event too long"},"status":"error"}]"#)
        .await;
    c.send_text(r#"["1","4","probe:limits","echo",{"a":{"b":{"c":{"d":{}}}}}]"#).await;
    c.expect_text(
        r#"["1","4","probe:limits","phx_reply",{"response":{"reason":"payload too deep"},"status":"error"}]"#,
    )
    .await;
    c.send_text(r#"["1","5","probe:limits","echo",{"a":{"b":{"c":1}}}]"#).await;
    c.expect_text(r#"["1","5","probe:limits","phx_reply",{"response":{"a":{"b":{"c":1}}},"status":"ok"}]"#).await;
    // The join refused for its topic was not counted: joins 2 and 3 pass the rate, the 4th does not.
    join(&mut c, "6", "probe:r2").await;
    join(&mut c, "7", "probe:r3").await;
    c.send_text(r#"["9","9","probe:r4","phx_join",{}]"#).await;
    c.expect_text(r#"["9","9","probe:r4","phx_reply",{"response":{"reason":"join rate exceeded"},"status":"error"}]"#)
        .await;
    // Far deeper than serde_json's recursion limit: refused the same way, and the connection lives on.
    let bomb = format!(r#"["1","8","probe:limits","echo",{}{}]"#, "[".repeat(5000), "]".repeat(5000));
    c.send_text(&bomb).await;
    c.expect_text(
        r#"["1","8","probe:limits","phx_reply",{"response":{"reason":"payload too deep"},"status":"error"}]"#,
    )
    .await;
    c.send_text(r#"["1","10","probe:limits","echo",{}]"#).await;
    c.expect_text(r#"["1","10","probe:limits","phx_reply",{"response":{},"status":"ok"}]"#).await;
}

#[tokio::test]
async fn shutdown_drains_in_batches_and_completes_in_flight_replies() {
    let drain = channels::endpoint::Drain::default()
        .batch_size(1)
        .interval(Duration::from_millis(400))
        .timeout(Duration::from_secs(5));
    let server = start_with_drain(SocketConfig::default(), drain).await;
    let mut clients = Vec::new();
    for i in 0..3 {
        let mut c = server.client("vsn=2.0.0").await;
        join(&mut c, "1", &format!("probe:drain{i}")).await;
        clients.push(c);
    }
    for (i, c) in clients.iter_mut().enumerate() {
        c.send_text(&format!(r#"["1","2","probe:drain{i}","slow_echo",{{"i":{i}}}]"#)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    server.endpoint.shutdown();
    let mut closed_after = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        // The reply in flight when shutdown began arrives before the close.
        let reply = c.recv_timeout(Duration::from_secs(3)).await;
        assert_eq!(
            reply,
            Frame::Text(format!(r#"["1","2","probe:drain{i}","phx_reply",{{"response":{{"i":{i}}},"status":"ok"}}]"#))
        );
        assert_eq!(c.recv_timeout(Duration::from_secs(3)).await, Frame::Close(Some(1012)));
        closed_after.push(started.elapsed());
    }
    // One connection per batch, 400 ms apart: the last closes at least 800 ms in (loose bounds, shared machine).
    assert!(closed_after[2] >= Duration::from_millis(750), "{closed_after:?}");
    tokio::time::timeout(Duration::from_secs(10), server.done).await.expect("server stops").unwrap().unwrap();
}

#[tokio::test]
async fn connect_sees_params_and_connect_info() {
    let server = start(SocketConfig::default()).await;
    // Nested params as phoenix.js serializes them: `room[id]=7`, brackets percent-encoded.
    let url = server.ws_url("vsn=2.0.0&user=ann&room%5Bid%5D=7&room%5Btags%5D%5B%5D=a&room%5Btags%5D%5B%5D=b");
    let mut request = url.into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert("user-agent", "probe/1.0".parse().unwrap());
    headers.insert("x-request-id", "req-1".parse().unwrap());
    headers.insert("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".parse().unwrap());
    // phoenix.js's `authToken`: base64 (standard alphabet, no padding) behind the bearer prefix.
    headers.insert("sec-websocket-protocol", "phoenix, base64url.bearer.phx.c2VjcmV0IHRva2Vu".parse().unwrap());
    let (mut c, response) = Client::connect_request(request).await;
    assert_eq!(response.headers()["sec-websocket-protocol"], "phoenix");
    c.send_text(r#"["1","1","probe:info","phx_join",{}]"#).await;
    c.recv().await;
    c.send_text(r#"["1","2","probe:info","info",{}]"#).await;
    let reply = c.recv_json().await;
    let info = &reply[4]["response"];
    assert_eq!(info["peer"], "127.0.0.1");
    assert!(info["uri"].as_str().unwrap().starts_with("/socket/websocket?vsn=2.0.0&user=ann"), "{info}");
    assert_eq!(info["user_agent"], "probe/1.0");
    assert_eq!(info["x_headers"], json!([["x-request-id", "req-1"]]));
    assert_eq!(info["trace"], json!([["traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"]]));
    assert_eq!(info["auth_token"], "secret token");
    assert_eq!(info["params"]["room"], json!({"id": "7", "tags": ["a", "b"]}));
    assert_eq!(info["params"]["user"], "ann");
}

#[tokio::test]
async fn heartbeats_and_joins_without_a_join_ref_answer_as_phoenix() {
    let server = start(SocketConfig::default()).await;
    let mut c = server.client("vsn=2.0.0").await;
    // A heartbeat's reply has a null join_ref, whatever the heartbeat carried.
    c.send_text(r#"["7","1","phoenix","heartbeat",{}]"#).await;
    c.expect_text(r#"[null,"1","phoenix","phx_reply",{"response":{},"status":"ok"}]"#).await;
    // A join with a null join_ref: its reply echoes the null, later pushes and replies carry the join's ref
    // (Phoenix's `join_ref || ref`), and `phx_close` the null again.
    c.send_text(r#"[null,"5","probe:nulljoin","phx_join",{"after_join":true}]"#).await;
    c.expect_text(r#"[null,"5","probe:nulljoin","phx_reply",{"response":{"topic":"probe:nulljoin"},"status":"ok"}]"#)
        .await;
    c.expect_text(r#"["5",null,"probe:nulljoin","after_join",{}]"#).await;
    c.send_text(r#"[null,"6","probe:nulljoin","echo",{"a":1}]"#).await;
    c.expect_text(r#"["5","6","probe:nulljoin","phx_reply",{"response":{"a":1},"status":"ok"}]"#).await;
    c.send_text(r#"[null,"7","probe:nulljoin","phx_leave",{}]"#).await;
    c.expect_text(r#"["5","7","probe:nulljoin","phx_reply",{"response":{},"status":"ok"}]"#).await;
    c.expect_text(r#"[null,null,"probe:nulljoin","phx_close",{}]"#).await;
}

/// A WebSocket frame from a client: `first` is the FIN/RSV/opcode byte; masked unless `masked` is false.
fn client_frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    assert!(payload.len() < 126, "short frames only");
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![first, (payload.len() as u8) | if masked { 0x80 } else { 0 }];
    if masked {
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    } else {
        frame.extend_from_slice(payload);
    }
    frame
}

#[tokio::test]
async fn websocket_protocol_errors_close_with_their_codes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start(SocketConfig::default()).await;
    let big_ping = client_frame(0x89, &[0; 125], true);
    let mut too_big_ping = big_ping.clone();
    too_big_ping[1] = 0x80 | 126; // a 16-bit length follows: 126 bytes
    too_big_ping.splice(2..2, [0, 126]);
    too_big_ping.push(0);
    let cases: [(&str, Vec<u8>, u16); 5] = [
        ("reserved bits", client_frame(0x81 | 0x40, b"[]", true), 1002),
        ("unmasked frame", client_frame(0x81, b"[]", false), 1002),
        ("unknown opcode", client_frame(0x83, b"[]", true), 1002),
        ("ping over 125 bytes", too_big_ping, 1002),
        ("text that is not UTF-8", client_frame(0x81, &[0xff, 0xfe], true), 1007),
    ];
    for (what, frame, code) in cases {
        let request = format!("GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nHost: x\r\n{UPGRADE}\r\n");
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(tcp.read_u8().await.unwrap());
        }
        tcp.write_all(&frame).await.unwrap();
        let mut close = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(2), tcp.read_exact(&mut close)).await.unwrap().unwrap();
        assert_eq!(close[0], 0x88, "{what}: a close frame");
        assert_eq!(u16::from_be_bytes([close[2], close[3]]), code, "{what}");
    }
}
