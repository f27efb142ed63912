//! The chat of the Phoenix Channels guide inside an axum app: axum serves the page and a JSON API of its own, and
//! the channels endpoint, mounted as the router's fallback, serves the chat socket under `/socket` (WebSocket and
//! LongPoll) and the browser client.
//!
//! `cargo run --example axum`, then open http://127.0.0.1:4000 in two tabs, and post to the lobby from outside:
//! `curl -H 'content-type: application/json' -d '{"body":"hi"}' http://127.0.0.1:4000/api/messages`.
//! `PORT` overrides 4000.

#[path = "chat/page.rs"]
mod page;
#[path = "chat/socket.rs"]
mod socket;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::response::Html;
use axum::routing::{get, post};
use axum::{Json, Router};
use channels::endpoint::{Endpoint, shutdown_signal};
use channels::socket::SocketConfig;
use serde_json::{Value, json};

use socket::{NewMsg, UserSocket};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let port = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(4000u16);

    let endpoint = Endpoint::builder()
        .socket::<UserSocket>("/socket", SocketConfig::default().longpoll(true))
        .routes(channels::client::client_js())
        .build();
    let app = Router::new()
        .route("/", get(|| async { Html(page::html()) }))
        .route("/api/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/api/messages", post(announce))
        .with_state(endpoint.clone())
        // `/socket/websocket`, `/socket/longpoll` and `/js/channels.js`; 404 for the rest.
        .fallback_service(endpoint.clone())
        .layer(axum::middleware::map_request(peer_address));

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    tracing::info!("listening on {addr} (http://{addr})");
    let draining = endpoint.clone();
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            draining.shutdown();
        })
        .await?;
    // Upgraded WebSockets are no longer axum's connections: wait for the endpoint's drain to close them.
    endpoint.closed().await;
    Ok(())
}

/// Broadcasts a message to everyone in the lobby, as if a chat user had sent it.
async fn announce(State(endpoint): State<Endpoint>, Json(msg): Json<NewMsg>) -> Json<Value> {
    endpoint.broadcast("rooms:lobby", "new_msg", &msg);
    Json(json!({"sent": msg.body}))
}

/// Hands the peer's address, which axum knows, to the endpoint (its `connect` sees it in `ConnectInfo`, and
/// LongPoll caps sessions per address).
async fn peer_address(ConnectInfo(peer): ConnectInfo<SocketAddr>, mut req: Request) -> Request {
    req.extensions_mut().insert(peer);
    req
}
