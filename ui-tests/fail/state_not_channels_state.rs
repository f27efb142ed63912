use channels::prelude::*;

struct Config;

/// Not `channels::state::State`.
struct State<T>(T);

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

    #[handle_in("motd")]
    fn motd(&mut self, config: State<Config>) {
        let State(Config) = config;
    }
}

fn main() {}
