//! The channel every bench of our runtime serves: `bench_server` over the network, the micro-benchmarks in memory.
//! One `bench:*` channel with the plain `Channel` trait: join is always ok; `broadcast` broadcasts `msg` with the
//! payload to the topic; `ping` replies ok with the payload.

use channels::channel::{Channel, ChannelSocket, HandleResult, JoinResult};
use channels::payload::Payload;
use channels::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};

/// The socket: every connection is accepted, and `bench:*` topics go to [`BenchChannel`].
pub struct BenchSocket;

impl Socket for BenchSocket {
    async fn connect(_params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
        Ok(BenchSocket)
    }

    fn channels() -> Router<Self> {
        Router::new().channel::<BenchChannel>("bench:*")
    }
}

/// The channel: `broadcast` and `ping`, nothing else.
pub struct BenchChannel;

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
