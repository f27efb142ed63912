//! Phoenix Channels, done in Rust.
//!
//! This crate is the one users depend on: it re-exports the runtime ([`channels_runtime`]) and, as they land,
//! the macros.

#![deny(missing_docs)]

pub use channels_runtime::*;
