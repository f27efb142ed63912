//! The guide's chat, as in the crate docs.

use channels::prelude::*;
use serde::{Deserialize, Serialize};

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

    #[join("rooms:{_private_room_id}")]
    async fn private() -> JoinResult<Self> {
        JoinResult::error(&serde_json::json!({"reason": "unauthorized"}))
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

fn main() {
    let _endpoint = Endpoint::builder().socket::<UserSocket>("/socket", SocketConfig::default()).build();
}
