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

    #[handle_in("ping")]
    async fn ping(&mut self) -> Result<(), String> {
        Err("no pong".to_owned())
    }
}

fn main() {}
