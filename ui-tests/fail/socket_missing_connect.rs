use channels::prelude::*;

struct UserSocket;

fn _make() -> UserSocket {
    UserSocket
}

#[socket]
impl UserSocket {
    channel!("rooms:*" => RoomChannel);

    fn id(&self) -> Option<String> {
        None
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
