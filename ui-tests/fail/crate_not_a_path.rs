use channels::prelude::*;

struct UserSocket;

#[socket(crate = "channels")]
impl UserSocket {
    channel!("rooms:*" => RoomChannel);

    fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> {
        Ok(UserSocket)
    }
}

struct RoomChannel;

#[channel(crate = channels::)]
impl RoomChannel {
    #[join("rooms:lobby")]
    fn join() -> JoinResult<Self> {
        JoinResult::ok(RoomChannel)
    }
}

fn main() {}
