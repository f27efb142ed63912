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
    #[join("rooms:{id}:{id}")]
    async fn join() -> JoinResult<Self> {
        JoinResult::ok(RoomChannel)
    }
}

fn main() {}
