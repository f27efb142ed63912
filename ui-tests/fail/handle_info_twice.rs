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

    #[handle_info]
    async fn tick(&mut self, tick: u32) {
        let _ = tick;
    }

    #[handle_info]
    async fn tock(&mut self, tock: u64) {
        let _ = tock;
    }
}

fn main() {}
