//! The socket handler and its channels, one module each (a Phoenix app's
//! `lib/my_app_web/channels/`).
//!
//! Clients connect to [`UserSocket`] at `/socket`; its `channel!` routes send each topic to a
//! channel.

pub mod user_socket;
pub use user_socket::UserSocket;

pub mod room_channel;
pub use room_channel::RoomChannel;

// `channels gen channel NAME` adds its module above this line.
