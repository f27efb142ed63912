//! The chat app of the Phoenix Channels guide, on the channels framework.
//!
//! `cargo run`, then open http://127.0.0.1:4000 in two tabs. `PORT` overrides 4000.

use channels::prelude::*;
use warp::Filter;

use {{crate_name}}::config::Config;
use {{crate_name}}::web::UserSocket;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let port = match std::env::var("PORT") {
        Ok(port) => port.parse::<u16>().map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("PORT={port} is not a port number: {e}"),
            )
        })?,
        Err(_) => 4000,
    };

    // The chat page at /, and the browser client it imports at /js/channels.js (served by the
    // framework, with the API of the official `phoenix` npm client).
    let page = warp::path::end().map(|| warp::reply::html(include_str!("../assets/index.html")));
    let routes = page.or(channels::client::client_js());
    // Handlers read it as a `State<Config>` parameter.
    let config = Config::from_env();
    let endpoint = Endpoint::builder()
        .secret_key_base(config.secret_key_base.clone())
        .state(config)
        .socket::<UserSocket>("/socket", SocketConfig::default())
        .routes(routes)
        .build();
    // Logs `listening on 127.0.0.1:PORT`. Ctrl-C shuts down gracefully: clients are told to
    // reconnect, and do when the server is back.
    endpoint.serve(("127.0.0.1", port)).await
}
