//! The chat app of the Phoenix Channels guide.
//!
//! `cargo run --release --example chat`, then open http://127.0.0.1:4000 in two tabs. `PORT` overrides 4000.

use channels::{
    Channel, ChannelSocket, ConnectInfo, ConnectParams, Endpoint, HandleResult, JoinResult, Payload, Refuse, Reply,
    Router, Socket, SocketConfig,
};
use serde_json::json;
use warp::Filter;

struct UserSocket;

impl Socket for UserSocket {
    async fn connect(_params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
        Ok(UserSocket)
    }

    fn channels() -> Router<Self> {
        Router::new().channel::<RoomChannel>("rooms:*")
    }
}

struct RoomChannel;

impl Channel for RoomChannel {
    type Socket = UserSocket;
    type Info = ();

    async fn join(topic: &str, _payload: Payload, _socket: &mut ChannelSocket<Self>) -> JoinResult<Self> {
        match topic {
            "rooms:lobby" => JoinResult::ok(RoomChannel),
            _ => JoinResult::error(&json!({"reason": "unauthorized"})),
        }
    }

    async fn handle_in(&mut self, event: &str, payload: Payload, socket: &mut ChannelSocket<Self>) -> HandleResult {
        match event {
            "new_msg" => {
                #[derive(serde::Deserialize, serde::Serialize)]
                struct NewMsg {
                    body: String,
                }
                match payload.deserialize::<NewMsg>() {
                    Ok(msg) => {
                        socket.broadcast("new_msg", &msg);
                        HandleResult::NoReply
                    }
                    Err(e) => HandleResult::Reply(Reply::error(
                        &json!({"reason": "invalid payload", "details": e.to_string()}),
                    )),
                }
            }
            _ => HandleResult::error(&json!({"reason": "unhandled event"})),
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let port = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(4000u16);
    let page = warp::path::end().map(|| warp::reply::html(include_str!("chat/index.html")));
    let endpoint = Endpoint::builder().socket::<UserSocket>("/socket", SocketConfig::default()).routes(page).build();
    endpoint.serve(("127.0.0.1", port)).await
}
