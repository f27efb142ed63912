//! The socket handler: who may connect, and which channel serves each topic.

use channels::prelude::*;

// The channel types, which `web/mod.rs` re-exports, for the routes below.
use super::*;

/// A client connection. Its fields would be the connection's assigns, which every channel of the
/// connection can read (as an `assigns: &UserSocket` handler parameter).
pub struct UserSocket;

#[socket]
impl UserSocket {
    // Topics to channels: an exact topic, or a prefix ending in `*`. The first matching route wins.
    channel!("rooms:*" => RoomChannel);
    // `channels gen channel NAME` adds its route above this line.

    /// Accepts every connection. To authenticate, pass a token from the page
    /// (`new Socket("/socket", {params: {token}})`), check it here with `channels::Token::verify`,
    /// and return `Err(Refuse)` when it fails.
    async fn connect(_params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
        Ok(UserSocket)
    }
}
