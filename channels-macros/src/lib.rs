//! Procedural macros of the channels framework (see the `channels` crate).
