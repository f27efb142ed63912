//! The runtime of the channels framework: Phoenix Channels, done in Rust.
//!
//! It speaks the Phoenix Channels wire protocol, so the official `phoenix` JavaScript client (and every other
//! Phoenix client) works against it unchanged. An [`Endpoint`] mounts [`Socket`] handlers at paths; a socket
//! handler accepts connections and routes topics to [`Channel`]s; every joined channel runs in its own task;
//! [`PubSub`] carries broadcasts to every subscriber of a topic.
//!
//! Most users depend on the `channels` crate, which re-exports this one together with the macros.

#![deny(missing_docs)]

mod channel;
mod config;
mod connection;
mod endpoint;
mod outbox;
mod payload;
mod pubsub;
mod queue;
mod serializer;
mod socket;
mod transport;

pub use channel::{
    Channel, ChannelHandle, ChannelSocket, HandleResult, JoinResult, OutResult, Reply, SendError, SocketRef,
    StopReason, TerminateReason,
};
pub use config::SocketConfig;
pub use endpoint::{Endpoint, EndpointBuilder, Server};
pub use payload::{IntoPayload, Payload, PayloadError};
pub use pubsub::{Adapter, Broadcast, PubSub, Subscription};
pub use serializer::{DecodeError, EncodeError, Frame, Serializer};
pub use socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
