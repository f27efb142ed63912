use channels::prelude::*;

struct UserSocket;

#[socket]
impl UserSocket {
    channel!("rooms:*" => RoomChannel);

    fn connect(_params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
        Ok(UserSocket)
    }
}

#[derive(serde::Deserialize, serde::Serialize)]
struct NewMsg {
    body: String,
}

struct RoomChannel {
    sent: usize,
}

#[channel]
#[intercept("user_joined")]
impl RoomChannel {
    #[join("rooms:lobby")]
    async fn lobby() -> JoinResult<Self> {
        JoinResult::ok(RoomChannel { sent: 0 })
    }

    #[join("rooms:{room_id}")]
    async fn private(room_id: u32) -> JoinResult<Self> {
        JoinResult::error(&serde_json::json!({"reason": "unauthorized", "room": room_id}))
    }

    // the one mistake: `socket` by value
    #[handle_in("new_msg")]
    async fn new_msg(&mut self, msg: NewMsg, socket: ChannelSocket<Self>) {
        self.count();
        socket.broadcast("new_msg", &msg);
    }

    #[handle_out("user_joined")]
    async fn user_joined(&mut self, payload: &Payload, socket: &mut ChannelSocket<Self>) {
        socket.push("user_joined", payload);
    }

    fn count(&mut self) {
        self.sent += 1;
    }
}

fn main() {}
