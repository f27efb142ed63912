//! The bench server on our runtime: the bench channel (`channels_bench::channel`) with default socket settings, as
//! an app would have.
//!
//! `bench_server [PORT]` (default 4100). Logs warnings (e.g. slow clients) to stderr; `RUST_LOG` overrides.

use channels::endpoint::Endpoint;
use channels::socket::SocketConfig;
use channels_bench::channel::BenchSocket;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    channels_bench::raise_nofile();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(channels_bench::PORT_OURS);
    let endpoint = Endpoint::builder().socket::<BenchSocket>("/socket", SocketConfig::default()).build();
    endpoint.serve(("127.0.0.1", port)).await
}
