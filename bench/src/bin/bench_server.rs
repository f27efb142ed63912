//! The bench server on our runtime: one `bench:*` channel. Join is always ok; `broadcast` broadcasts `msg` with
//! the payload to the topic; `ping` replies ok with the payload. Default socket settings, as an app would have.
//!
//! `bench_server [PORT]` (default 4100). Logs warnings (e.g. slow clients) to stderr; `RUST_LOG` overrides.

use channels::{
    Channel, ChannelSocket, ConnectInfo, ConnectParams, Endpoint, HandleResult, JoinResult, Payload, Refuse, Router,
    Socket, SocketConfig,
};

struct BenchSocket;

impl Socket for BenchSocket {
    async fn connect(_params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
        Ok(BenchSocket)
    }

    fn channels() -> Router<Self> {
        Router::new().channel::<BenchChannel>("bench:*")
    }
}

struct BenchChannel;

impl Channel for BenchChannel {
    type Socket = BenchSocket;
    type Info = ();

    async fn join(_topic: &str, _payload: Payload, _socket: &mut ChannelSocket<Self>) -> JoinResult<Self> {
        JoinResult::ok(BenchChannel)
    }

    async fn handle_in(&mut self, event: &str, payload: Payload, socket: &mut ChannelSocket<Self>) -> HandleResult {
        match event {
            "broadcast" => {
                socket.broadcast("msg", payload);
                HandleResult::NoReply
            }
            "ping" => HandleResult::ok(payload),
            _ => HandleResult::error(serde_json::json!({"reason": "unhandled event"})),
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    channels_bench::raise_nofile();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(channels_bench::PORT_OURS);
    let endpoint = Endpoint::builder().socket::<BenchSocket>("/socket", SocketConfig::default()).build();
    endpoint.serve(("127.0.0.1", port)).await
}
