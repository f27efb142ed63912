//! The chat app of the Phoenix Channels guide.
//!
//! `cargo run --release --example chat`, then open http://127.0.0.1:4000 in two tabs. `PORT` overrides 4000.

use channels::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use warp::Filter;

struct UserSocket;

#[socket]
impl UserSocket {
    channel!("rooms:*" => RoomChannel);

    async fn connect(_params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
        Ok(UserSocket)
    }
}

struct RoomChannel;

#[channel]
impl RoomChannel {
    #[join("rooms:lobby")]
    async fn lobby() -> JoinResult<Self> {
        JoinResult::ok(RoomChannel)
    }

    #[join(_)]
    async fn private() -> JoinResult<Self> {
        JoinResult::error(json!({"reason": "unauthorized"}))
    }

    #[handle_in("new_msg")]
    async fn new_msg(&mut self, msg: NewMsg, socket: &mut ChannelSocket<Self>) {
        socket.broadcast("new_msg", &msg);
    }
}

#[derive(Deserialize, Serialize)]
struct NewMsg {
    body: String,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let port = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(4000u16);
    let page = warp::path::end().map(|| warp::reply::html(include_str!("chat/index.html")));
    // No icon: answered at once, so the browser's console stays clean.
    let favicon = warp::path!("favicon.ico").map(|| warp::http::StatusCode::NO_CONTENT);
    let routes = page.or(favicon).or(channels::client::client_js());
    let endpoint = Endpoint::builder().socket::<UserSocket>("/socket", SocketConfig::default()).routes(routes).build();
    endpoint.serve(("127.0.0.1", port)).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            std::io::Error::new(e.kind(), format!("{e}; run with PORT=4001 (or any free port)"))
        }
        _ => e,
    })
}

#[cfg(test)]
mod tests {
    use channels::testing::TestEndpoint;
    use serde_json::{Value, json};

    use super::*;

    #[tokio::test]
    async fn the_lobby_is_open_and_messages_are_broadcast() {
        let endpoint = TestEndpoint::<UserSocket>::new();
        let mut client = endpoint.connect(&[]).await.unwrap();
        let lobby = client.subscribe_and_join("rooms:lobby", json!({})).await.unwrap();
        client.push(&lobby, "new_msg", json!({"body": "hello"})).await;
        client.assert_broadcast("new_msg", json!({"body": "hello"})).await;
        client.assert_push("new_msg", json!({"body": "hello"})).await;
    }

    #[tokio::test]
    async fn private_rooms_are_refused_and_bad_payloads_answered() {
        let endpoint = TestEndpoint::<UserSocket>::new();
        let mut client = endpoint.connect(&[]).await.unwrap();
        let refused = client.join("rooms:secret", json!({})).await.unwrap_err();
        assert_eq!(refused.deserialize::<Value>().unwrap(), json!({"reason": "unauthorized"}));
        let lobby = client.join("rooms:lobby", json!({})).await.unwrap().0;
        let r = client.push(&lobby, "new_msg", json!({"text": "no body"})).await;
        client
            .assert_reply_matching(&r, "error", |p| p.deserialize::<Value>().unwrap()["reason"] == "invalid payload")
            .await;
        let r = client.push(&lobby, "typo", json!({})).await;
        client.assert_reply(&r, "error", json!({"reason": "unhandled event"})).await;
    }
}
