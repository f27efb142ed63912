use channels::prelude::*;

struct UserSocket;

#[socket]
impl UserSocket {
    channel!("rooms:*" => RoomChannel);

    fn connect(_params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
        Ok(UserSocket)
    }
}

struct RoomId(u32);

struct RoomChannel(RoomId);

#[channel]
impl RoomChannel {
    #[join("rooms:{id}")]
    async fn numbered(id: RoomId) -> JoinResult<Self> {
        JoinResult::ok(RoomChannel(id))
    }
}

fn main() {}
