//! Clients that try to hold the server's resources: connections that never send a request, trickled headers,
//! idle keep-alives, more connections than descriptors, clients that stop reading. Each is refused or cut off
//! within its limit while well-behaved clients carry on.

mod support;

use std::time::{Duration, Instant};

use channels::endpoint::{Endpoint, HttpConfig};
use channels::socket::{Router, SocketConfig};
use serde_json::json;
use support::process::ServerProcess;
use support::server::TestServer;
use support::sockets::{OpenRoom, Routes};
use support::ws::{Client, Frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

enum App {}

impl Routes for App {
    fn channels() -> Router<UserSocket> {
        Router::new().channel::<OpenRoom<App>>("room:*")
    }
}

type UserSocket = support::sockets::UserSocket<App>;

async fn start(socket: SocketConfig, http: HttpConfig, drain: channels::endpoint::Drain) -> TestServer {
    let endpoint = Endpoint::builder().socket::<UserSocket>("/socket", socket).http_config(http).drain(drain).build();
    TestServer::serve(endpoint).await
}

/// Reads until the server closes the connection (end of stream or reset), or `within` passes. Returns how long
/// the close took, or `None` when the connection is still open.
async fn closed_within(tcp: &mut TcpStream, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match tokio::time::timeout_at((start + within).into(), tcp.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn connections_that_send_no_request_are_closed_at_the_header_read_timeout() {
    let http = HttpConfig::default().header_read_timeout(Duration::from_millis(500));
    let server = start(SocketConfig::default(), http, channels::endpoint::Drain::default()).await;

    // Silent connections, a trickled request head, and a keep-alive connection idle after one request.
    let mut silent = Vec::new();
    for _ in 0..50 {
        silent.push(TcpStream::connect(server.addr).await.unwrap());
    }
    let mut trickled = TcpStream::connect(server.addr).await.unwrap();
    let trickle = tokio::spawn(async move {
        for byte in b"GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nHost: x\r\n" {
            if trickled.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        closed_within(&mut trickled, Duration::from_secs(5)).await
    });
    let mut keep_alive = TcpStream::connect(server.addr).await.unwrap();
    keep_alive.write_all(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut head = [0u8; 12];
    keep_alive.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 404");

    for tcp in &mut silent {
        let took = closed_within(tcp, Duration::from_secs(5)).await.expect("a silent connection stayed open");
        assert!(took < Duration::from_secs(3), "closed after {took:?}");
    }
    let took = trickle.await.unwrap().expect("a trickling connection stayed open");
    assert!(took < Duration::from_secs(3), "trickled request closed after {took:?}");
    closed_within(&mut keep_alive, Duration::from_secs(3)).await.expect("an idle keep-alive connection stayed open");

    // A client that completes its request in time still connects, and stays once upgraded.
    let mut client = server.client("vsn=2.0.0").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    client.heartbeat("1").await;
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_at_once_and_slots_come_back() {
    let http = HttpConfig::default().header_read_timeout(Duration::from_secs(2)).max_connections(20);
    let server = start(SocketConfig::default(), http, channels::endpoint::Drain::default()).await;
    // An upgraded WebSocket does not hold a slot.
    let mut upgraded = server.client("vsn=2.0.0").await;

    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(server.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut over = TcpStream::connect(server.addr).await.unwrap();
    let took = closed_within(&mut over, Duration::from_secs(1)).await.expect("a connection past the cap stayed open");
    assert!(took < Duration::from_millis(900), "closed after {took:?}");
    // The held connections are still open: they have time left to send a request.
    assert!(closed_within(&mut held[0], Duration::from_millis(100)).await.is_none());

    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut client = server.client("vsn=2.0.0").await;
    client.heartbeat("1").await;
    upgraded.heartbeat("1").await;
}

#[tokio::test]
async fn out_of_descriptors_the_accept_loop_backs_off_and_recovers() {
    // A small descriptor table, so a few dozen connections exhaust it.
    let server = ServerProcess::start_limited("conformance", &[], Some(64));
    let mut held = Vec::new();
    for _ in 0..120 {
        match TcpStream::connect(server.addr()).await {
            Ok(tcp) => held.push(tcp),
            Err(_) => break,
        }
    }
    server.wait_for_log("accept failed", Duration::from_secs(5));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let logs = server.logs();
    assert_eq!(logs.matches("accept failed").count(), 1, "the log is flooded:\n{logs}");

    drop(held);
    server.wait_for_log("accepting connections again", Duration::from_secs(15));
    let mut client = Client::connect(&server.ws_url("vsn=2.0.0")).await;
    client.heartbeat("1").await;
}

/// Joins `topic` with a client that never reads again.
async fn stalled_subscriber(server: &TestServer, topic: &str) -> Client {
    let mut stalled = server.client("vsn=2.0.0").await;
    stalled.send_text(&format!(r#"["1","1","{topic}","phx_join",{{}}]"#)).await;
    let reply = stalled.recv_json().await;
    assert_eq!(reply[3], "phx_reply");
    stalled
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_at_the_write_timeout() {
    let socket = SocketConfig::default().write_timeout(Duration::from_secs(1));
    let server = start(socket, HttpConfig::default(), channels::endpoint::Drain::default()).await;
    let _stalled = stalled_subscriber(&server, "room:big").await;
    let mut reader = server.client("vsn=2.0.0").await;
    reader.join("1", "room:big", "{}", "{}").await;

    // 256 KiB frames fill the stalled client's socket long before its 1,024-frame outbox.
    let payload = "z".repeat(256 << 10);
    let started = Instant::now();
    let mut sent = 0;
    while server.endpoint.pubsub().subscriber_count("room:big") == 2 {
        assert!(started.elapsed() < Duration::from_secs(10), "the stalled client was never closed");
        if sent < 200 {
            server.endpoint.broadcast("room:big", "big", json!({"p": payload}));
            sent += 1;
            assert!(matches!(reader.recv().await, Frame::Text(_)));
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(sent < 1024, "closed by its outbox filling, not by the write timeout");
    reader.heartbeat("2").await;
}

#[tokio::test]
async fn shutdown_force_closes_a_client_that_stopped_reading() {
    // The write timeout is far away: only the drain can end the stalled connection in time.
    let socket = SocketConfig::default().write_timeout(Duration::from_secs(120));
    let drain = channels::endpoint::Drain::default().timeout(Duration::from_secs(1));
    let server = start(socket, HttpConfig::default(), drain).await;
    let _stalled = stalled_subscriber(&server, "room:big").await;
    let mut healthy = server.client("vsn=2.0.0").await;
    healthy.join("1", "room:other", "{}", "{}").await;
    let payload = "z".repeat(256 << 10);
    for _ in 0..100 {
        server.endpoint.broadcast("room:big", "big", json!({"p": payload}));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let started = Instant::now();
    server.endpoint.shutdown();
    assert_eq!(healthy.recv_timeout(Duration::from_secs(3)).await, Frame::Close(Some(1012)));
    let done = tokio::time::timeout(Duration::from_secs(4), server.done).await;
    assert!(done.is_ok(), "shutdown did not finish in time");
    assert!(started.elapsed() < Duration::from_secs(4));
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("a running process");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS in /proc/PID/status");
    line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("VmRSS in KiB")
}

#[tokio::test]
async fn a_subscriber_that_never_reads_holds_a_bounded_number_of_bytes() {
    let server = ServerProcess::start("conformance");
    let mut stalled = Client::connect(&server.ws_url("vsn=2.0.0")).await;
    stalled.join("1", "test:big", "{}", r#"{"topic":"test:big"}"#).await;
    let mut sender = Client::connect(&server.ws_url("vsn=2.0.0")).await;
    sender.join("1", "test:big", "{}", r#"{"topic":"test:big"}"#).await;
    let before = rss_kib(server.pid());

    // 60 broadcasts of 4 MiB, far fewer than the 1,024 frames the outbox may hold, but 240 MiB in all.
    let payload = format!(r#"{{"p":"{}"}}"#, "x".repeat(4 << 20));
    let mut peak = before;
    for i in 0..60 {
        sender.send_text(&format!(r#"["1","{i}","test:big","broadcast_from",{payload}]"#)).await;
        if i % 10 == 9 {
            sender.heartbeat("h").await;
            peak = peak.max(rss_kib(server.pid()));
        }
    }
    let grown_mib = (peak.saturating_sub(before)) / 1024;
    // The 32 MiB outbox bound, one frame being written, the kernel's buffers and the allocator's slack.
    assert!(grown_mib < 100, "server RSS grew by {grown_mib} MiB");
    // The stalled client was cut off as a slow client, well before its write timeout.
    assert!(server.logs().contains("slow client"), "{}", server.logs());
    drop(stalled);
    sender.heartbeat("end").await;
}

#[tokio::test]
async fn a_huge_presence_entry_is_refused_and_not_sent_to_every_joiner() {
    let server = ServerProcess::start("conformance");
    let mut big = Client::connect(&server.ws_url("vsn=2.0.0")).await;
    let name = "n".repeat(9 << 20);
    big.send_text(&format!(r#"["1","1","presence:lobby","phx_join",{{"user":"{name}"}}]"#)).await;
    let mut joiner = Client::connect(&server.ws_url("vsn=2.0.0")).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    joiner.send_text(r#"["1","1","presence:lobby","phx_join",{"user":"amy"}]"#).await;
    loop {
        let Frame::Text(text) = joiner.recv().await else { panic!("expected text frames") };
        if text.contains("presence_state") {
            assert!(text.len() < 1024, "presence_state of {} bytes", text.len());
            assert!(!text.contains("nnnn"));
            break;
        }
    }
    server.wait_for_log("presence not tracked: entry too large", Duration::from_secs(5));
}
