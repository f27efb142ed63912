//! The conformance app: the contract in `CONFORMANCE.md`, which must behave the same on Phoenix and here.
//!
//! `cargo run --release --example conformance` listens on 127.0.0.1:4001 (`PORT` overrides it).

use std::time::Duration;

use channels::{
    Channel, ChannelSocket, ConnectInfo, ConnectParams, Endpoint, HandleResult, JoinResult, OutResult, Payload, Refuse,
    Reply, Router, Socket, SocketConfig, StopReason,
};
use serde_json::{Value, json};

/// The connection's assigns.
struct UserSocket {
    user_id: Option<String>,
}

impl Socket for UserSocket {
    async fn connect(params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
        if params.get("reject") == Some("true") {
            return Err(Refuse);
        }
        Ok(UserSocket { user_id: None })
    }

    fn id(&self) -> Option<String> {
        self.user_id.as_ref().map(|id| format!("users_socket:{id}"))
    }

    fn channels() -> Router<Self> {
        Router::new().channel::<RoomChannel>("rooms:*").channel::<TestChannel>("test:*")
    }
}

/// The guide's chat room.
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
            "new_msg" => match payload.deserialize::<NewMsg>() {
                Ok(msg) => {
                    socket.broadcast("new_msg", &msg);
                    HandleResult::NoReply
                }
                Err(e) => invalid_payload(e),
            },
            _ => unhandled(event),
        }
    }
}

#[derive(serde::Deserialize, serde::Serialize)]
struct NewMsg {
    body: Value,
}

/// Every reply, push and broadcast shape the protocol has.
struct TestChannel;

impl Channel for TestChannel {
    type Socket = UserSocket;
    type Info = ();
    const INTERCEPTS: &'static [&'static str] = &["intercepted"];

    async fn join(topic: &str, payload: Payload, _socket: &mut ChannelSocket<Self>) -> JoinResult<Self> {
        let reject = payload.deserialize::<Value>().is_ok_and(|p| p.get("reject") == Some(&Value::Bool(true)));
        if reject {
            JoinResult::error(&json!({"reason": "rejected"}))
        } else {
            JoinResult::ok_with(TestChannel, &json!({"topic": topic}))
        }
    }

    async fn handle_in(&mut self, event: &str, payload: Payload, socket: &mut ChannelSocket<Self>) -> HandleResult {
        match event {
            "reply_ok" => HandleResult::ok(payload),
            "reply_error" => HandleResult::error(payload),
            "reply_empty" => HandleResult::ok(Payload::empty()),
            "noreply" => HandleResult::NoReply,
            "push" => {
                socket.push("pushed", payload);
                HandleResult::NoReply
            }
            "broadcast" => {
                socket.broadcast("broadcasted", payload);
                HandleResult::NoReply
            }
            "broadcast_from" => {
                socket.broadcast_from("broadcasted", payload);
                HandleResult::NoReply
            }
            "intercepted" => {
                socket.broadcast("intercepted", payload);
                HandleResult::NoReply
            }
            "async_reply" => {
                if let Some(reply_to) = socket.socket_ref() {
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        reply_to.reply(Reply::ok(payload));
                    });
                }
                HandleResult::NoReply
            }
            "assigns" => HandleResult::ok(&json!({"user_id": socket.assigns().user_id})),
            "stop" => HandleResult::stop(),
            "stop_reply" => HandleResult::Stop { reason: StopReason::Normal, reply: Some(Reply::ok(payload)) },
            "crash" => panic!("crash requested by the client"),
            "disconnect_me" => match socket.assigns().id() {
                Some(id) => {
                    socket.pubsub().broadcast(&id, "disconnect", &json!({}));
                    HandleResult::NoReply
                }
                None => HandleResult::error(&json!({"reason": "no socket id"})),
            },
            "binary_echo" => HandleResult::ok(payload),
            _ => unhandled(event),
        }
    }

    async fn handle_out(&mut self, event: &str, payload: &Payload, socket: &mut ChannelSocket<Self>) -> OutResult {
        let mut payload: Value = payload.deserialize().unwrap_or_else(|_| json!({}));
        if let Some(map) = payload.as_object_mut() {
            map.insert("via_handle_out".into(), Value::Bool(true));
        }
        socket.push(event, &payload);
        OutResult::NoReply
    }
}

fn invalid_payload(e: channels::PayloadError) -> HandleResult {
    HandleResult::error(&json!({"reason": "invalid payload", "details": e.to_string()}))
}

fn unhandled(event: &str) -> HandleResult {
    tracing::warn!(event, "unhandled event");
    HandleResult::error(&json!({"reason": "unhandled event"}))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let port = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(4001u16);
    let config = SocketConfig::default().idle_timeout(Duration::from_secs(60)).max_channels(100);
    let endpoint = Endpoint::builder().socket::<UserSocket>("/socket", config).build();
    endpoint.serve(("127.0.0.1", port)).await
}
