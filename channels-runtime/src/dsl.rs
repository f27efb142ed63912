//! Support for the code the `channels` macros generate. Everything here is reached through `__private`.
