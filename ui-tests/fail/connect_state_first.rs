use channels::prelude::*;

struct Config {
    open: bool,
}

struct UserSocket;

#[socket]
impl UserSocket {
    channel!("rooms:*" => RoomChannel);

    async fn connect(config: State<Config>, _params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
        if config.open { Ok(UserSocket) } else { Err(Refuse) }
    }
}

struct RoomChannel;

#[channel]
impl RoomChannel {
    #[join("rooms:lobby")]
    async fn lobby() -> JoinResult<Self> {
        JoinResult::ok(RoomChannel)
    }
}

fn main() {}
