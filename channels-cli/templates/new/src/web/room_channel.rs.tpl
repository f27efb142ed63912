//! The guide's chat room: anyone may join `rooms:lobby`, other rooms are private, and every
//! `new_msg` a client sends is broadcast to everyone in the room.

use channels::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::UserSocket;

/// One client's membership of a room. Its fields would be this join's state; the guide needs none.
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

/// The payload of `new_msg`, from the page and to every page in the room.
#[derive(Debug, Deserialize, Serialize)]
pub struct NewMsg {
    /// The message's text.
    pub body: String,
}
