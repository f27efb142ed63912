//! The chat app of the Phoenix Channels guide.
//!
//! `cargo run --release --example chat`, then open http://127.0.0.1:4000 in two tabs. `PORT` overrides 4000.

#[path = "chat/page.rs"]
mod page;
#[path = "chat/socket.rs"]
mod socket;

use channels::prelude::*;
use warp::Filter;

use socket::UserSocket;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let port = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(4000u16);
    let page = warp::path::end().map(|| warp::reply::html(page::html()));
    // No icon: answered at once, so the browser's console stays clean.
    let favicon = warp::path!("favicon.ico").map(|| warp::http::StatusCode::NO_CONTENT);
    let routes = page.or(favicon).or(channels::client::client_js());
    let endpoint = Endpoint::builder().socket::<UserSocket>("/socket", SocketConfig::default()).routes(routes).build();
    endpoint.serve(("127.0.0.1", port)).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            std::io::Error::new(e.kind(), format!("{e}; run with PORT=4001 (or any free port)"))
        }
        _ => e,
    })
}
