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
    #[join("rooms:{room_id}")]
    async fn private(room_id: String, user_id: String) -> JoinResult<Self> {
        let _ = (room_id, user_id);
        JoinResult::ok(RoomChannel)
    }
}

fn main() {}
