//! Topic patterns of the channels framework, in one place: the router, the macros and the code they generate
//! all read patterns through this crate.
//!
//! - A [`RoutePattern`] (`channel!("rooms:*" => RoomChannel)`, `Router::channel`) is Phoenix's: an exact topic,
//!   or a prefix ending in `*`.
//! - A [`JoinPattern`] (`#[join("rooms:{room_id}")]`) is split on `:` into [`Segment`]s, each literal text or a
//!   capture `{name}` with optional literal text around it; `#[join(_)]` is the catch-all [`JoinPattern::Any`].
//! - The coverage relations ([`RoutePattern::covers`], [`JoinPattern::covers`]) decide which later route or join
//!   clause can never win, and the `const fn` [`route_reaches`] decides, at compile time, whether a route can
//!   reach any join clause of the channel it names.
//!
//! ```
//! use channels_topic::{JoinClause, JoinPattern, RoutePattern, route_reaches};
//!
//! let route = RoutePattern::parse("rooms:*")?;
//! let join = JoinPattern::parse("rooms:{room_id}")?;
//! assert!(route.matches("rooms:42") && join.matches("rooms:42"));
//! assert!(route_reaches("rooms:*", &[JoinClause::Pattern("rooms:{room_id}")]));
//! # Ok::<(), channels_topic::PatternError>(())
//! ```

#![no_std]
#![deny(missing_docs)]

extern crate alloc;

mod join;
mod reach;
mod route;

use alloc::string::String;
use core::fmt;

pub use join::{JoinPattern, Segment, capture_in};
pub use reach::{JoinClause, route_reaches};
pub use route::RoutePattern;

/// Why a pattern does not parse: a message for the person who wrote it, saying how to fix it.
///
/// ```
/// let error = channels_topic::RoutePattern::parse("ro*oms").unwrap_err();
/// assert!(error.to_string().contains("`*` may only end a channel route"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError(String);

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::error::Error for PatternError {}
