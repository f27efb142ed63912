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

#[channel]
impl RoomChannel {
    #[join("rooms:lobby")]
    async fn lobby() -> JoinResult<Self> {
        JoinResult::ok(RoomChannel)
    }

    #[handle_in("new_msg")]
    async fn new_msg(&mut self, payload: Payload, socket: &mut ChannelSocket<Self>) {
        socket.broadcast("new_msg", payload);
    }

    #[handle_in("new_msg")]
    async fn new_msg_again(&mut self) -> HandleResult {
        HandleResult::NoReply
    }
}

fn main() {}
