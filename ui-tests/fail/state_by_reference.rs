use channels::prelude::*;

struct Config {
    motd: String,
}

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
    async fn lobby(config: &State<Config>) -> JoinResult<Self> {
        JoinResult::ok_with(RoomChannel, serde_json::json!({"motd": config.motd}))
    }
}

fn main() {}
