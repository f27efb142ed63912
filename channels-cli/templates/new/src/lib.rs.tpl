//! The realtime side of {{package_name}}: its socket handler and channels, in [`web`], and the
//! settings they share, in [`config`]. `src/main.rs` serves them.
//!
//! A library as well as a binary, so that the tests in `tests/` can connect to
//! [`web::UserSocket`] without a network, through `channels::testing`.

pub mod config;
pub mod web;
