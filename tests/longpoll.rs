//! The LongPoll transport over raw HTTP: every status Phoenix answers, sessions, batches, expiry, a LongPoll
//! client chatting with a WebSocket client, and the limits hostile clients meet (session caps, body and frame
//! sizes, malformed lines).

mod support;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use channels::channel::{Channel, ChannelSocket, HandleResult, JoinResult, TerminateReason};
use channels::endpoint::Endpoint;
use channels::payload::Payload;
use channels::socket::{Router, SocketConfig};
use serde_json::{Value, json};
use support::http::Response;
use support::process::ServerProcess;
use support::server::TestServer;
use support::sockets::Routes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

enum App {}

impl Routes for App {
    fn channels() -> Router<UserSocket> {
        Router::new().channel::<RoomChannel>("room:*")
    }
}

type UserSocket = support::sockets::UserSocket<App>;

struct RoomChannel;

impl Channel for RoomChannel {
    type Socket = UserSocket;
    type Info = ();

    async fn join(topic: &str, payload: Payload, socket: &mut ChannelSocket<Self>) -> JoinResult<Self> {
        let payload: Value = payload.deserialize().unwrap_or(Value::Null);
        if let Some(ms) = payload.get("sleep_ms").and_then(Value::as_u64) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        socket.push("joined", json!({"topic": topic}));
        JoinResult::ok(RoomChannel)
    }

    async fn handle_in(&mut self, event: &str, payload: Payload, socket: &mut ChannelSocket<Self>) -> HandleResult {
        match event {
            "new_msg" => {
                socket.broadcast("new_msg", payload);
                HandleResult::NoReply
            }
            "echo" => HandleResult::ok(payload),
            "user" => HandleResult::ok(json!({"user": socket.assigns().user})),
            _ => HandleResult::error(json!({"reason": "unhandled event"})),
        }
    }

    async fn terminate(&mut self, reason: &TerminateReason, socket: &mut ChannelSocket<Self>) {
        socket.pubsub().broadcast("terminations", "terminated", json!({"reason": format!("{reason:?}")}));
    }
}

const WINDOW: Duration = Duration::from_millis(400);

fn config() -> SocketConfig {
    SocketConfig::default().longpoll(true).longpoll_window(WINDOW)
}

async fn start() -> TestServer {
    start_with(config()).await
}

async fn start_with(config: SocketConfig) -> TestServer {
    TestServer::serve(Endpoint::builder().socket::<UserSocket>("/socket", config).build()).await
}

/// The frames in a poll's `messages`, each parsed from its JSON string.
fn messages(r: &Response) -> Vec<Value> {
    let json = r.json();
    json["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages: {json}"))
        .iter()
        .map(|m| serde_json::from_str(m.as_str().expect("messages are strings")).expect("each is a frame"))
        .collect()
}

/// The LongPoll requests of this file's tests.
impl TestServer {
    async fn get(&self, query: &str) -> Response {
        self.get_from("127.0.0.1", query).await
    }

    /// A GET from the local address `from`.
    async fn get_from(&self, from: &str, query: &str) -> Response {
        let path = format!("/socket/longpoll?{query}");
        support::http::request_from(from.parse().unwrap(), self.addr, "GET", &path, &[], "").await
    }

    /// Opens a session and returns its token.
    async fn open(&self, query: &str) -> String {
        let r = self.get(query).await;
        assert_eq!(r.json()["status"], 410, "{r:?}");
        r.json()["token"].as_str().unwrap().to_owned()
    }

    /// Opens a session that joined `topic`, the join's reply and push read; returns its token.
    async fn open_joined(&self, query: &str, topic: &str) -> String {
        let token = self.open(query).await;
        self.post(&token, "application/json", &format!(r#"["1","1","{topic}","phx_join",{{}}]"#)).await;
        self.poll_frames(&token, 2).await;
        token
    }

    async fn post(&self, token: &str, content_type: &str, body: &str) -> Value {
        let path = format!("/socket/longpoll?vsn=2.0.0&token={token}");
        let r = self.request("POST", &path, &[("Content-Type", content_type)], body).await;
        assert_eq!(r.status, 200, "{r:?}");
        r.json()
    }

    async fn poll(&self, token: &str) -> Response {
        self.get(&format!("vsn=2.0.0&token={token}")).await
    }

    /// Polls until `n` frames have arrived.
    async fn poll_frames(&self, token: &str, n: usize) -> Vec<Value> {
        let mut frames = Vec::new();
        while frames.len() < n {
            let r = self.poll(token).await;
            match r.json()["status"].as_u64() {
                Some(200) => frames.extend(messages(&r)),
                Some(204) => panic!("expected {n} frames, got {frames:?} then a 204"),
                other => panic!("unexpected poll answer {other:?}: {r:?}"),
            }
        }
        frames
    }
}

#[tokio::test]
async fn session_lifecycle_and_statuses() {
    let server = start().await;
    let r = server.get("vsn=2.0.0").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(r.json()["messages"], json!([]));
    let token = r.json()["token"].as_str().unwrap().to_owned();

    let join = r#"["1","1","room:a","phx_join",{}]"#;
    assert_eq!(server.post(&token, "application/json", join).await, json!({"status": 200}));
    let frames = server.poll_frames(&token, 2).await;
    assert_eq!(frames[0], json!(["1", "1", "room:a", "phx_reply", {"response": {}, "status": "ok"}]));
    assert_eq!(frames[1], json!(["1", null, "room:a", "joined", {"topic": "room:a"}]));

    // Nothing more: the poll waits for the window, then answers 204 with the same token.
    let r = server.poll(&token).await;
    assert_eq!(r.json(), json!({"status": 204, "token": token, "messages": []}));

    // An event on a topic not joined: HTTP 200 now, the error reply on the next poll.
    server.post(&token, "application/json", r#"["9","2","room:b","echo",{}]"#).await;
    let frames = server.poll_frames(&token, 1).await;
    assert_eq!(
        frames[0],
        json!([null, "2", "room:b", "phx_reply", {"response": {"reason": "unmatched topic"}, "status": "error"}])
    );

    // A token the server never issued, or forged: a new session.
    let r = server.get("vsn=2.0.0&token=SFMyNTY.forged.token").await;
    assert_eq!(r.json()["status"], 410);
    assert_ne!(r.json()["token"], json!(token));
    let r = server.request("POST", "/socket/longpoll?vsn=2.0.0&token=nope", &[], join).await;
    assert_eq!(r.json(), json!({"status": 410}));
}

#[tokio::test]
async fn http_methods_cors_and_refusals() {
    let server = start().await;
    let r = server
        .request("OPTIONS", "/socket/longpoll", &[("Access-Control-Request-Headers", "x-phoenix-authtoken")], "")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-headers"), Some("x-phoenix-authtoken"));
    assert_eq!(r.header("access-control-allow-methods"), Some("get, post, options"));
    assert_eq!(r.header("access-control-max-age"), Some("3600"));
    assert_eq!(server.request("PUT", "/socket/longpoll", &[], "").await.status, 400);
    let refused = server.get("vsn=2.0.0&reject=true").await;
    assert_eq!((refused.status, refused.json()), (200, json!({"status": 403})));
    // A refusal with a reason: its HTTP status, and the reason beside the status the phoenix client reads.
    let expired = server.get("vsn=2.0.0&refuse=401&reason=expired").await;
    assert_eq!((expired.status, expired.json()), (401, json!({"status": 403, "reason": "expired"})));
    let busy = server.get("vsn=2.0.0&refuse=429&text=slow+down").await;
    assert_eq!((busy.status, busy.json()), (429, json!({"status": 403, "reason": "slow down"})));
    assert_eq!(server.get("vsn=3.0.0").await.json(), json!({"status": 403}));
    let foreign = server.request("GET", "/socket/longpoll?vsn=2.0.0", &[("Origin", "https://evil.example")], "").await;
    assert_eq!((foreign.status, foreign.json()), (200, json!({"status": 403})));
    let same = server.request("GET", "/socket/longpoll?vsn=2.0.0", &[("Origin", "http://x")], "").await;
    assert_eq!(same.json()["status"], 410);
    // The header token wins over a stale query token; X-Phoenix-AuthToken reaches connect_info.
    let r = server.request("GET", "/socket/longpoll?vsn=2.0.0", &[("X-Phoenix-AuthToken", "tok-user")], "").await;
    let token = r.json()["token"].as_str().unwrap().to_owned();
    server.post(&token, "application/json", r#"["1","1","room:h","phx_join",{}]"#).await;
    let r = server
        .request("GET", "/socket/longpoll?vsn=2.0.0&token=stale", &[("x-phoenix-longpoll-token", &token)], "")
        .await;
    assert_eq!(r.json()["status"], 200, "{r:?}");
    server.post(&token, "application/json", r#"["1","2","room:h","user",{}]"#).await;
    let frames = server.poll_frames(&token, 1).await;
    assert_eq!(frames[0][4], json!({"response": {"user": "tok-user"}, "status": "ok"}));
}

#[tokio::test]
async fn ndjson_batches_keep_order_and_cap_at_100_lines() {
    let server = start().await;
    let token = server.open("vsn=2.0.0").await;
    let mut lines = vec![r#"["1","1","room:n","phx_join",{}]"#.to_owned()];
    // A stale join_ref line is dropped; a base64 binary push is dispatched in its place in the order.
    lines.push(r#"["0","2","room:n","echo",{"stale":true}]"#.to_owned());
    // Binary push: join_ref "1", ref "3", topic "room:n", event "echo", payload 0xAB.
    lines.push("AAEBBgQxM3Jvb206bmVjaG+r".to_owned());
    for i in 4..=150 {
        lines.push(format!(r#"["1","{i}","room:n","echo",{{"i":{i}}}]"#));
    }
    let body = lines.join("\n");
    assert_eq!(server.post(&token, "application/x-ndjson", &body).await, json!({"status": 200}));
    // Join reply + joined push + 98 echo replies: the binary reply is dropped on LongPoll (text only), the
    // stale line is dropped, and lines past the 100th are never dispatched.
    let frames = server.poll_frames(&token, 99).await;
    assert_eq!(frames[0][3], "phx_reply");
    assert_eq!(frames[1][3], "joined");
    let refs: Vec<&str> = frames[2..].iter().map(|f| f[1].as_str().unwrap()).collect();
    let expected: Vec<String> = (4..=100).map(|i| i.to_string()).collect();
    assert_eq!(refs, expected);
    assert_eq!(server.poll(&token).await.json()["status"], 204);
}

#[tokio::test]
async fn slow_dispatch_answers_408() {
    let server = start().await;
    let token = server.open("vsn=2.0.0").await;
    let join = r#"["1","1","room:slow","phx_join",{"sleep_ms":1000}]"#;
    assert_eq!(server.post(&token, "application/json", join).await, json!({"status": 408}));
}

#[tokio::test]
async fn a_body_trickled_slower_than_the_window_answers_408() {
    let server = start().await;
    let token = server.open("vsn=2.0.0").await;
    let (mut read, mut write) = TcpStream::connect(server.addr).await.unwrap().into_split();
    let head = format!(
        "POST /socket/longpoll?vsn=2.0.0&token={token} HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    );
    write.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let trickle = tokio::spawn(async move {
        for _ in 0..50 {
            if write.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut raw = Vec::new();
    let _ = timeout(Duration::from_secs(3), read.read_to_end(&mut raw)).await.expect("the server answers and closes");
    let answer = support::http::parse(&String::from_utf8_lossy(&raw));
    assert_eq!((answer.status, answer.json()), (200, json!({"status": 408})));
    assert!(started.elapsed() < Duration::from_secs(2), "answered after {:?}", started.elapsed());
    trickle.abort();
}

#[tokio::test]
async fn idle_session_expires_and_its_channels_terminate() {
    let server = start().await;
    let mut terminations = server.endpoint.pubsub().subscribe("terminations", 8);
    let token = server.open("vsn=2.0.0").await;
    server.post(&token, "application/json", r#"["1","1","room:x","phx_join",{}]"#).await;
    // No poll for 1.5 windows.
    let b = tokio::time::timeout(Duration::from_secs(3), terminations.recv()).await.expect("terminated").unwrap();
    assert_eq!(b.payload.deserialize::<Value>().unwrap(), json!({"reason": "Closed"}));
    let r = server.request("POST", &format!("/socket/longpoll?vsn=2.0.0&token={token}"), &[], "[]").await;
    assert_eq!(r.json(), json!({"status": 410}));
    assert_eq!(server.poll(&token).await.json()["status"], 410);
}

#[tokio::test]
async fn disconnect_ends_the_session() {
    let server = start().await;
    let token = server.open_joined("vsn=2.0.0&user=7", "room:d").await;
    server.endpoint.broadcast("users_socket:7", "disconnect", json!({}));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.poll(&token).await.json()["status"], 410);
}

#[tokio::test]
async fn longpoll_and_websocket_clients_chat() {
    let server = start().await;
    let token = server.open_joined("vsn=2.0.0", "room:chat").await;
    let mut ws = server.client("vsn=2.0.0").await;
    ws.join("5", "room:chat", "{}", "{}").await;
    ws.expect_text(r#"["5",null,"room:chat","joined",{"topic":"room:chat"}]"#).await;

    ws.send_text(r#"["5","6","room:chat","new_msg",{"body":"from ws"}]"#).await;
    ws.expect_text(r#"[null,null,"room:chat","new_msg",{"body":"from ws"}]"#).await;
    assert_eq!(
        server.poll_frames(&token, 1).await[0],
        json!([null, null, "room:chat", "new_msg", {"body": "from ws"}])
    );

    server.post(&token, "application/json", r#"["1","2","room:chat","new_msg",{"body":"from lp"}]"#).await;
    ws.expect_text(r#"[null,null,"room:chat","new_msg",{"body":"from lp"}]"#).await;
    assert_eq!(
        server.poll_frames(&token, 1).await[0],
        json!([null, null, "room:chat", "new_msg", {"body": "from lp"}])
    );
}

#[tokio::test]
async fn an_aborted_poll_does_not_keep_the_session_alive() {
    let server = start().await;
    let mut terminations = server.endpoint.pubsub().subscribe("terminations", 8);
    let token = server.open_joined("vsn=2.0.0", "room:abort").await;
    // A poll the client gives up on while it waits (a closed tab, `socket.disconnect()`).
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let get = format!("GET /socket/longpoll?vsn=2.0.0&token={token} HTTP/1.1\r\nHost: x\r\n\r\n");
    tcp.write_all(get.as_bytes()).await.unwrap();
    tokio::time::sleep(WINDOW / 4).await;
    drop(tcp);
    // No poll after that: the session expires and its channel terminates.
    let b =
        tokio::time::timeout(Duration::from_secs(5), terminations.recv()).await.expect("the session expired").unwrap();
    assert_eq!(b.payload.deserialize::<Value>().unwrap(), json!({"reason": "Closed"}));
    assert_eq!(server.poll(&token).await.json()["status"], 410);
}

/// The payload of the next broadcast of `subscription`, within a second.
async fn next_broadcast(subscription: &mut channels::pubsub::Subscription) -> Value {
    let b = timeout(Duration::from_secs(1), subscription.recv()).await.expect("a broadcast in time").unwrap();
    b.payload.deserialize().unwrap()
}

/// Posts `refused` between two lines broadcasting to `topic`, from a session that joined it: the answer has
/// `status`, the line before is dispatched, the session ends and the line after never runs.
async fn refused_between_two_lines(server: &TestServer, topic: &str, refused: &str, status: u16) {
    let mut room = server.endpoint.pubsub().subscribe(topic, 8);
    let mut terminations = server.endpoint.pubsub().subscribe("terminations", 8);
    let token = server.open_joined("vsn=2.0.0", topic).await;
    let before = format!(r#"["1","2","{topic}","new_msg",{{"body":"before"}}]"#);
    let after = format!(r#"["1","3","{topic}","new_msg",{{"body":"after"}}]"#);
    let body = [before.as_str(), refused, &after].join("\n");
    assert_eq!(server.post(&token, "application/x-ndjson", &body).await, json!({"status": status}));
    assert_eq!(next_broadcast(&mut room).await, json!({"body": "before"}));
    assert_eq!(next_broadcast(&mut terminations).await, json!({"reason": "Closed"}));
    assert!(timeout(Duration::from_millis(200), room.recv()).await.is_err(), "the line after ran");
    assert_eq!(server.poll(&token).await.json()["status"], 410);
}

#[tokio::test]
async fn a_frame_over_the_limit_answers_413_after_the_lines_before_and_ends_the_session() {
    let server = start_with(config().max_frame_size(1024)).await;
    let big = format!(r#"["1","4","room:big","new_msg",{{"body":"{}"}}]"#, "x".repeat(2000));
    refused_between_two_lines(&server, "room:big", &big, 413).await;

    // A base64 line counts by its decoded size: 1,368 digits are 1,026 bytes, over the limit; 1,364 are 1,023
    // zero bytes, a binary push (to an empty topic) within it.
    let token = server.open("vsn=2.0.0").await;
    assert_eq!(server.post(&token, "application/x-ndjson", &"A".repeat(1368)).await, json!({"status": 413}));
    let token = server.open("vsn=2.0.0").await;
    assert_eq!(server.post(&token, "application/x-ndjson", &"A".repeat(1364)).await, json!({"status": 200}));
}

#[tokio::test]
async fn a_malformed_line_answers_400_after_the_lines_before_and_ends_the_session() {
    let server = start().await;
    refused_between_two_lines(&server, "room:bad", "%%%", 400).await;

    // A body that is one frame (not ndjson) and not a valid one: the same answer.
    let token = server.open("vsn=2.0.0").await;
    assert_eq!(server.post(&token, "application/json", "[\"1\",\"2\"").await, json!({"status": 400}));
    assert_eq!(server.poll(&token).await.json()["status"], 410);
}

#[tokio::test]
async fn sessions_are_capped_in_all_and_per_address_and_unused_ones_give_their_place_back() {
    let server = start_with(config().longpoll_max_sessions(3, 2)).await;
    let opened = |r: Response| r.json()["token"].as_str().unwrap_or_else(|| panic!("not opened: {r:?}")).to_owned();
    let used = opened(server.get_from("127.0.0.1", "vsn=2.0.0").await);
    opened(server.get_from("127.0.0.1", "vsn=2.0.0").await);
    assert_eq!(server.get_from("127.0.0.1", "vsn=2.0.0").await.json(), json!({"status": 403}), "per address");
    opened(server.get_from("127.0.0.2", "vsn=2.0.0").await);
    assert_eq!(server.get_from("127.0.0.3", "vsn=2.0.0").await.json(), json!({"status": 403}), "in all");

    // A session within the caps works; it stays while polled, the two never used expire.
    let heartbeat = r#"[null,"7","phoenix","heartbeat",{}]"#;
    assert_eq!(server.post(&used, "application/json", heartbeat).await, json!({"status": 200}));
    assert_eq!(server.poll_frames(&used, 1).await[0][3], "phx_reply");
    for _ in 0..2 {
        assert_eq!(server.poll(&used).await.json()["status"], 204);
    }
    opened(server.get_from("127.0.0.3", "vsn=2.0.0").await);
    opened(server.get_from("127.0.0.1", "vsn=2.0.0").await);
    assert_eq!(server.get_from("127.0.0.1", "vsn=2.0.0").await.json(), json!({"status": 403}));
    assert_eq!(server.post(&used, "application/json", heartbeat).await, json!({"status": 200}));
    assert_eq!(server.poll_frames(&used, 1).await[0][3], "phx_reply");
}

/// Sends `n` session-opening GETs pipelined on one keep-alive connection from `from`; returns how many answers
/// had each JSON status.
async fn open_sessions(addr: SocketAddr, from: IpAddr, n: usize) -> BTreeMap<u64, usize> {
    let (mut read, mut write) = support::http::connect_from(from, addr).await.into_split();
    let writer = tokio::spawn(async move {
        let gets = b"GET /socket/longpoll?vsn=2.0.0 HTTP/1.1\r\nHost: x\r\n\r\n".repeat(100);
        for _ in 0..n / 100 {
            write.write_all(&gets).await.unwrap();
        }
        write
    });
    let (mut statuses, mut seen, mut unparsed) = (BTreeMap::new(), 0, String::new());
    let mut buf = vec![0; 64 << 10];
    while seen < n {
        let read = timeout(Duration::from_secs(10), read.read(&mut buf)).await.expect("answers in time").unwrap();
        assert!(read > 0, "closed after {seen} answers");
        unparsed.push_str(std::str::from_utf8(&buf[..read]).unwrap());
        let mut rest = unparsed.as_str();
        while let Some(at) = rest.find("{\"status\":") {
            let digits = &rest[at + 10..];
            let Some(end) = digits.find(|c: char| !c.is_ascii_digit()) else { break };
            *statuses.entry(digits[..end].parse().unwrap()).or_default() += 1;
            seen += 1;
            rest = &digits[end..];
        }
        unparsed = rest.to_owned();
    }
    drop(writer.await.unwrap());
    statuses
}

#[tokio::test]
async fn sessions_opened_in_a_loop_are_capped_cost_little_and_log_nothing() {
    let server = ServerProcess::start("conformance");
    let addr = server.addr();
    let request = |from: &str, method: &'static str, path: String, body: &str| {
        let (from, body) = (from.parse().unwrap(), body.to_owned());
        async move { support::http::request_from(from, addr, method, &path, &[], &body).await.json() }
    };
    let heartbeat = r#"[null,"7","phoenix","heartbeat",{}]"#;
    let early = request("127.0.0.1", "GET", "/socket/longpoll?vsn=2.0.0".into(), "").await;
    let early = format!("/socket/longpoll?vsn=2.0.0&token={}", early["token"].as_str().unwrap());
    let (rss, log_lines) = (server.rss_kib(), server.logs().lines().count());

    // 20,000 sessions asked for from one address, on 4 keep-alive connections.
    let floods = (0..4).map(|_| open_sessions(addr, "127.0.0.1".parse().unwrap(), 5_000));
    let mut statuses = BTreeMap::new();
    for flood in futures_util::future::join_all(floods).await {
        flood.into_iter().for_each(|(status, n)| *statuses.entry(status).or_default() += n);
    }
    let grown = server.rss_kib().saturating_sub(rss);
    println!("statuses {statuses:?}; RSS {rss} KiB, then {} KiB", rss + grown);
    assert_eq!(statuses, BTreeMap::from([(403, 19_001), (410, 999)]), "1,000 sessions per address by default");
    assert!(grown < 16 << 10, "RSS grew by {grown} KiB");
    let logs = server.logs();
    assert!(logs.lines().count() <= log_lines + 5, "the log grows per session:\n{logs}");

    // The session opened before still works, and a client from another address opens one.
    assert_eq!(request("127.0.0.1", "POST", early.clone(), heartbeat).await, json!({"status": 200}));
    assert_eq!(request("127.0.0.1", "GET", early, "").await["status"], 200);
    let other = request("127.0.0.2", "GET", "/socket/longpoll?vsn=2.0.0".into(), "").await;
    let other = format!("/socket/longpoll?vsn=2.0.0&token={}", other["token"].as_str().unwrap());
    assert_eq!(request("127.0.0.2", "POST", other.clone(), heartbeat).await, json!({"status": 200}));
    assert_eq!(request("127.0.0.2", "GET", other, "").await["status"], 200);
}

#[tokio::test]
async fn a_huge_slow_post_is_refused_at_the_body_cap_and_never_held_whole() {
    let server = ServerProcess::start("conformance");
    let open = support::http::request(server.addr(), "GET", "/socket/longpoll?vsn=2.0.0", &[], "").await;
    let token = open.json()["token"].as_str().unwrap().to_owned();
    let rss = server.rss_kib();
    let (mut read, mut write) = TcpStream::connect(server.addr()).await.unwrap().into_split();
    let head = format!(
        "POST /socket/longpoll?vsn=2.0.0&token={token} HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: 1000000000\r\n\r\n"
    );
    write.write_all(head.as_bytes()).await.unwrap();
    // Up to 160 MiB of the announced 1 GB, 64 KiB per millisecond, until the server stops reading.
    let line = "[null,\"1\",\"phoenix\",\"heartbeat\",{}]\n";
    let chunk = line.repeat((64 << 10) / line.len());
    let (mut sent, mut peak) = (0, rss);
    while sent < 160 << 20 {
        let written = timeout(Duration::from_secs(5), write.write_all(chunk.as_bytes())).await;
        if !matches!(written, Ok(Ok(()))) {
            break;
        }
        sent += chunk.len();
        if sent % (4 << 20) < chunk.len() {
            peak = peak.max(server.rss_kib());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    peak = peak.max(server.rss_kib());
    println!("sent {} KiB; RSS {rss} KiB, at most {peak} KiB while sending", sent >> 10);
    assert!(peak - rss < 24 << 10, "RSS grew from {rss} KiB to {peak} KiB");
    assert!(sent < 16 << 20, "the server read {} KiB", sent >> 10);
    // The answer came before the connection closed (a reset may follow it).
    let mut raw = Vec::new();
    let _ = timeout(Duration::from_secs(5), read.read_to_end(&mut raw)).await.expect("the server closes");
    let answer = support::http::parse(&String::from_utf8_lossy(&raw));
    assert_eq!((answer.status, answer.json()), (200, json!({"status": 413})));
}
