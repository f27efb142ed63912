//! `#[intercept]` written above `#[channel]` is handed down to it.

use channels::prelude::*;

struct UserSocket;

#[socket]
impl UserSocket {
    channel!("rooms:*" => RoomChannel);

    fn connect(_params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
        Ok(UserSocket)
    }
}

struct RoomChannel;

#[intercept("user_joined")]
#[channel]
impl RoomChannel {
    #[join("rooms:lobby")]
    async fn lobby() -> JoinResult<Self> {
        JoinResult::ok(RoomChannel)
    }

    #[handle_out("user_joined")]
    async fn user_joined(&mut self, payload: &Payload, socket: &mut ChannelSocket<Self>) {
        socket.push("user_joined", payload);
    }
}

fn main() {
    // above or below `#[channel]`: either order works
    assert_eq!(<RoomChannel as Channel>::INTERCEPTS, ["user_joined"]);
}
