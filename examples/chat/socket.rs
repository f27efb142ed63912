//! The chat of the Phoenix Channels guide: its socket handler and room channel, shared by the `chat` example and
//! the `axum` example (which mounts the same socket inside an axum app).

use channels::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub struct UserSocket;

#[socket]
impl UserSocket {
    channel!("rooms:*" => RoomChannel);

    async fn connect(_params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
        Ok(UserSocket)
    }
}

pub struct RoomChannel;

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
pub struct NewMsg {
    pub body: String,
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
