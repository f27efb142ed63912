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

impl RoomChannel {
    fn _new() -> Self {
        RoomChannel
    }
}

#[channel]
impl RoomChannel {
    #[handle_in("ping")]
    async fn ping(&mut self) -> Reply {
        Reply::ok(Payload::empty())
    }
}

fn main() {}
