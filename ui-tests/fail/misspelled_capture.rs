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
    // the one mistake: the parameter is `idd`, the capture `{id}`
    #[join("rooms:{id}")]
    async fn room(idd: u32) -> JoinResult<Self> {
        let _ = idd;
        JoinResult::ok(RoomChannel)
    }
}

fn main() {}
