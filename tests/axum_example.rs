//! The `axum` example: the chat socket mounted in an axum router. The official `phoenix` client drives it over
//! WebSocket and LongPoll beside axum's own JSON routes (tests/js/axum.mjs); check_origin and the graceful drain
//! work as they do when the endpoint serves on its own, and SIGTERM drains WebSocket and LongPoll clients.

mod support;

use std::process::Command;
use std::time::Duration;

use support::http::request;
use support::node::js_dir;
use support::process::ServerProcess;
use support::ws::{Client, Frame};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

#[test]
fn the_phoenix_client_chats_over_both_transports_beside_axum_routes() {
    let js = js_dir();
    let server = ServerProcess::start("axum");
    let output = Command::new("node")
        .arg("axum.mjs")
        .env("SERVER_URL", format!("ws://127.0.0.1:{}/socket", server.port()))
        .current_dir(&js)
        .output()
        .expect("node must be installed to run tests/js/axum.mjs");
    assert!(
        output.status.success(),
        "tests/js/axum.mjs failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // axum handed the peer's address to the endpoint.
    assert!(server.logs().contains("connected peer=127.0.0.1:"), "{}", server.logs());
}

#[tokio::test]
async fn check_origin_refuses_foreign_pages_on_both_transports() {
    let server = ServerProcess::start("axum");
    let evil = [("origin", "http://evil.example")];
    let longpoll = request(server.addr(), "GET", "/socket/longpoll?vsn=2.0.0", &evil, "").await;
    assert_eq!(longpoll.json(), serde_json::json!({"status": 403}));

    let mut upgrade = server.ws_url("vsn=2.0.0").into_client_request().unwrap();
    upgrade.headers_mut().insert("origin", HeaderValue::from_static("http://evil.example"));
    let refused = tokio_tungstenite::connect_async(upgrade).await.unwrap_err();
    assert!(refused.to_string().contains("403"), "{refused}");

    // The page's own origin passes, and axum still answers its routes and 404s.
    let own = format!("http://{}", server.addr());
    let mut upgrade = server.ws_url("vsn=2.0.0").into_client_request().unwrap();
    upgrade.headers_mut().insert("origin", HeaderValue::from_str(&own).unwrap());
    tokio_tungstenite::connect_async(upgrade).await.unwrap();
    assert_eq!(request(server.addr(), "GET", "/api/health", &[], "").await.status, 200);
    assert_eq!(request(server.addr(), "GET", "/js/channels.js", &[], "").await.status, 200);
    assert_eq!(request(server.addr(), "GET", "/nothing-here", &[], "").await.status, 404);
}

#[tokio::test]
async fn sigterm_drains_sockets_then_exits() {
    let mut server = ServerProcess::start("axum");
    let mut client = Client::connect(&server.ws_url("vsn=2.0.0")).await;
    client.join("1", "rooms:lobby", "{}", "{}").await;
    let session = request(server.addr(), "GET", "/socket/longpoll?vsn=2.0.0", &[], "").await.json();
    let poll_path = format!("/socket/longpoll?vsn=2.0.0&token={}", session["token"].as_str().unwrap());
    let addr = server.addr();
    let held_poll = tokio::spawn(async move { request(addr, "GET", &poll_path, &[], "").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let exited = tokio::task::spawn_blocking(move || {
        let status = server.terminate(Duration::from_secs(10));
        (status, server.logs())
    });
    // The socket closes with "service restart", as Phoenix drains, and only then does the process exit.
    assert_eq!(client.recv_timeout(Duration::from_secs(5)).await, Frame::Close(Some(1012)));
    // The held long poll is answered at once: its session is gone (the phoenix client reconnects elsewhere).
    let answered = tokio::time::timeout(Duration::from_secs(2), held_poll).await.expect("the poll is answered");
    assert_eq!(answered.unwrap().json(), serde_json::json!({"status": 410}));
    let (status, logs) = exited.await.unwrap();
    assert!(status.success(), "{status}; output:\n{logs}");
    assert!(logs.contains("disconnected"), "{logs}");
}
