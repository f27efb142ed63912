[package]
name = "{{package_name}}"
version = "0.1.0"
edition = "2024"
publish = false

# A workspace of its own, so the project builds wherever it is created, even inside another Cargo workspace (such
# as a checkout of channels).
[workspace]

[dependencies]
# The framework: the package phx-channels, whose library is `channels` (`use channels::prelude::*`). Published, by
# version; or a local checkout of channels, with `path = "/path/to/channels"` in place of `version`.
{{channels_dependency}}
tokio = { version = "1.40", features = ["rt-multi-thread", "macros"] }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
# The page's route beside the socket (the endpoint mounts warp filters).
warp = { version = "0.4", default-features = false }
# Logs to the terminal; RUST_LOG=debug for more.
tracing-subscriber = { version = "0.3", default-features = false, features = ["fmt", "env-filter", "ansi"] }
