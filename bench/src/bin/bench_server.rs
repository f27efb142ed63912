//! The bench server on our runtime: the bench channel (`channels_bench::channel`) with default socket settings, as
//! an app would have.
//!
//! `bench_server [PORT]` (default 4100). Logs warnings (e.g. slow clients) to stderr; `RUST_LOG` overrides. W10
//! sets some limits through the environment (`channels_bench::hostile`); unset, they are the runtime's defaults.

use std::time::Duration;

use channels::endpoint::{Endpoint, HttpConfig};
use channels::socket::SocketConfig;
use channels_bench::channel::BenchSocket;
use channels_bench::hostile::{
    ENV_HEADER_READ_TIMEOUT_MS, ENV_LONGPOLL, ENV_MAX_HTTP_CONNECTIONS, ENV_WRITE_TIMEOUT_MS,
};

/// A number from the environment, if set; a malformed one stops the server rather than run a wrong benchmark.
fn env_num(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(v.parse().unwrap_or_else(|e| panic!("{name}={v}: {e}")))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    channels_bench::raise_nofile();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(channels_bench::PORT_OURS);
    let mut socket = SocketConfig::default().longpoll(env_num(ENV_LONGPOLL) == Some(1));
    if let Some(ms) = env_num(ENV_WRITE_TIMEOUT_MS) {
        socket = socket.write_timeout(Duration::from_millis(ms));
    }
    let mut http = HttpConfig::default();
    if let Some(ms) = env_num(ENV_HEADER_READ_TIMEOUT_MS) {
        http = http.header_read_timeout(Duration::from_millis(ms));
    }
    if let Some(max) = env_num(ENV_MAX_HTTP_CONNECTIONS) {
        http = http.max_connections(max as usize);
    }
    let endpoint = Endpoint::builder().socket::<BenchSocket>("/socket", socket).http_config(http).build();
    endpoint.serve(("127.0.0.1", port)).await
}
