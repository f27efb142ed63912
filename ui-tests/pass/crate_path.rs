//! `crate = path`: generated code reaches the runtime through the given path. This path leads to a
//! `__private` that differs from `channels::__private` in two items, and the file compiles only if both macros
//! use them.

extern crate channels as chans;

use chans::prelude::*;

mod runtime {
    pub mod __private {
        pub use chans::__private::*;

        /// Through `::channels`, the route below would be an error: it reaches no join clause.
        pub const fn route_reaches(_: &str, _: &[JoinClause<'_>]) -> bool {
            true
        }

        /// Through `::channels`, `Ping` would be no payload: it does not implement `Deserialize`.
        pub fn decode<T: Default>(_: &Payload) -> Result<T, PayloadError> {
            Ok(T::default())
        }
    }
}

struct UserSocket;

#[socket(crate = crate::runtime)]
impl UserSocket {
    channel!("lobby:*" => RoomChannel);

    fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> {
        Ok(UserSocket)
    }
}

#[derive(Default)]
struct Ping;

struct RoomChannel;

#[channel(crate = crate::runtime)]
impl RoomChannel {
    #[join("rooms:lobby")]
    fn join() -> JoinResult<Self> {
        JoinResult::ok(RoomChannel)
    }

    #[handle_in("ping")]
    fn ping(&mut self, _ping: Ping) {}
}

fn main() {}
