use channels::prelude::*;

struct RoomChannel;

#[channel]
impl RoomChannel {
    #[join("rooms:lobby")]
    async fn lobby() -> JoinResult<Self> {
        JoinResult::ok(RoomChannel)
    }
}

fn main() {}
