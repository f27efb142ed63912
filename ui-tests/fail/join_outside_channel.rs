use channels::prelude::*;

struct RoomChannel;

impl RoomChannel {
    #[join("rooms:lobby")]
    async fn lobby() -> JoinResult<Self> {
        JoinResult::ok(RoomChannel)
    }
}

fn main() {}
