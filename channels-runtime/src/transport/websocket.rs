//! The WebSocket transport: the upgrade, done here rather than by warp so the read buffer is small and the
//! `phoenix` subprotocol is answered, and the connection loop that reads frames and writes coalesced batches.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::upgrade::Upgraded;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use warp::reply::Response;

use super::driver::{CLOSE_TIMEOUT, Gone, Inbound, Transport, drive};
use super::{Body, Refused, connect, connect_info, refusal_response, status_response};
use crate::connection::{Connection, SocketShared};
use crate::lifecycle::Lifecycle;
use crate::outbox::{CloseReason, Outbox};
use crate::serializer::{Frame, Serializer};
use crate::socket::{ConnectParams, Socket, SocketConfig};

/// The subprotocol prefix phoenix.js uses to carry `authToken`.
const AUTH_TOKEN_PREFIX: &str = "base64url.bearer.phx.";

pub(crate) async fn upgrade<S: Socket>(
    shared: Arc<SocketShared<S>>,
    mut req: Request<Body>,
    peer: SocketAddr,
    lifecycle: Lifecycle,
) -> Response {
    if req.method() != Method::GET {
        return status_response(StatusCode::BAD_REQUEST, "only GET is accepted here");
    }
    let key = match check_upgrade_headers(req.headers()) {
        Ok(key) => key,
        Err(why) => return status_response(StatusCode::BAD_REQUEST, why),
    };
    let params = ConnectParams::from_query(req.uri().query().unwrap_or(""));
    let protocols = offered_protocols(req.headers());
    let auth_token = match protocols.iter().find_map(|p| p.strip_prefix(AUTH_TOKEN_PREFIX)).map(decode_auth_token) {
        Some(Some(token)) => Some(token),
        Some(None) => return status_response(StatusCode::BAD_REQUEST, "malformed auth token subprotocol"),
        None => None,
    };
    let info = connect_info(&req, peer, auth_token, &shared.state);
    let (serializer, assigns) = match connect::<S>(&params, &info, peer).await {
        Ok(accepted) => accepted,
        Err(Refused::Socket(refuse)) => return refusal_response(&refuse),
        Err(Refused::Crashed) => return status_response(StatusCode::INTERNAL_SERVER_ERROR, ""),
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let guard = lifecycle.track();
    // Everything the task keeps lives as long as the connection: settings are read from `shared` when needed,
    // not copied into it.
    tokio::spawn(async move {
        let _guard = guard;
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => return tracing::debug!(%peer, "upgrade failed: {e}"),
        };
        let ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(ws_config(&shared.config)));
        let (ws, outbox) = (ws.await, Outbox::new(serializer, &shared.config));
        let idle_timeout = shared.config.idle_timeout;
        let connection = Connection::new(assigns, outbox, shared);
        tracing::info!(%peer, ?serializer, "connected");
        let metrics = crate::metrics::metrics();
        metrics.websocket_connections.increment(1.0);
        let (sink, stream) = ws.split();
        let transport = WebSocket { sink, stream, serializer, idle_timeout, last_seen: Instant::now(), peer };
        drive(transport, connection, lifecycle).await;
        metrics.websocket_connections.decrement(1.0);
    });

    let mut response = Response::new(Default::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    let accept = derive_accept_key(key.as_bytes());
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, HeaderValue::from_str(&accept).expect("base64 is a valid header"));
    if protocols.iter().any(|p| p == "phoenix") {
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("phoenix"));
    }
    response
}

/// A small read buffer (most sockets idle, most messages small) and the socket's frame limit.
fn ws_config(config: &SocketConfig) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(config.read_buffer_size)
        .write_buffer_size(16 << 10)
        .max_write_buffer_size((16 << 10) + config.max_frame_size)
        .max_message_size(Some(config.max_frame_size))
        .max_frame_size(Some(config.max_frame_size))
}

/// The `Sec-WebSocket-Key` of a well-formed upgrade request, or why it is not one.
fn check_upgrade_headers(headers: &HeaderMap) -> Result<String, &'static str> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case(token))
    };
    if !has_token(header::CONNECTION, "upgrade") {
        return Err("'connection' header must contain 'upgrade'");
    }
    if !has_token(header::UPGRADE, "websocket") {
        return Err("'upgrade' header must contain 'websocket'");
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes) != Some(b"13") {
        return Err("'sec-websocket-version' header must be '13'");
    }
    headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|k| k.to_str().ok())
        .map(str::to_owned)
        .ok_or("'sec-websocket-key' header is missing")
}

fn offered_protocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

type Ws = WebSocketStream<TokioIo<Upgraded>>;

/// A connection's WebSocket.
struct WebSocket {
    sink: SplitSink<Ws, WsMessage>,
    stream: SplitStream<Ws>,
    serializer: Serializer,
    idle_timeout: Duration,
    /// When the client last sent anything, pings included.
    last_seen: Instant,
    peer: SocketAddr,
}

impl Transport for WebSocket {
    /// Writes everything queued, then flushes once.
    async fn send(&mut self, frames: &mut VecDeque<Frame>) -> Result<(), Gone> {
        let count = frames.len() as u64;
        for frame in frames.drain(..) {
            let message = match frame {
                Frame::Text(text) => WsMessage::Text(text),
                Frame::Binary(bytes) => WsMessage::Binary(bytes),
            };
            self.sink.feed(message).await.map_err(|_| Gone)?;
        }
        crate::metrics::metrics().messages_out.increment(count);
        self.sink.flush().await.map_err(|_| Gone)
    }

    async fn recv(&mut self) -> Inbound {
        loop {
            let msg = self.stream.next().await;
            self.last_seen = Instant::now();
            let peer = self.peer;
            let decoded = match msg {
                Some(Ok(WsMessage::Text(text))) => self.serializer.decode_text(&text),
                Some(Ok(WsMessage::Binary(bytes))) => self.serializer.decode_binary(bytes),
                Some(Ok(WsMessage::Close(_))) | None => return Inbound::Gone,
                Some(Ok(_)) => continue,
                Some(Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake))) => return Inbound::Gone,
                Some(Err(e @ (WsError::Capacity(_) | WsError::Protocol(_) | WsError::Utf8(_)))) => {
                    tracing::warn!(%peer, "frame refused: {e}");
                    return Inbound::Refused(match e {
                        WsError::Capacity(_) => CloseReason::FrameTooBig,
                        WsError::Utf8(_) => CloseReason::InvalidUtf8,
                        _ => CloseReason::ProtocolError,
                    });
                }
                Some(Err(e)) => {
                    tracing::debug!(%peer, "connection failed: {e}");
                    return Inbound::Gone;
                }
            };
            return match decoded {
                Ok(msg) => Inbound::Message(msg),
                Err(e) => {
                    tracing::warn!(%peer, "frame refused: {e}");
                    Inbound::Refused(CloseReason::MalformedFrame)
                }
            };
        }
    }

    fn idle_deadline(&self, now: Instant) -> Option<Instant> {
        let at = self.last_seen + self.idle_timeout;
        (now < at).then_some(at)
    }

    fn peer(&self) -> SocketAddr {
        self.peer
    }

    async fn close(mut self, reason: Option<CloseReason>) {
        match reason {
            // Its socket is full: a close frame would only wait there.
            Some(CloseReason::SlowClient | CloseReason::WriteTimeout) => {}
            Some(reason) => {
                let frame = CloseFrame { code: CloseCode::from(reason.code()), reason: reason.as_str().into() };
                let _ = timeout(CLOSE_TIMEOUT, self.sink.send(WsMessage::Close(Some(frame)))).await;
                let _ = timeout(CLOSE_TIMEOUT, self.sink.close()).await;
            }
            None => {
                let _ = timeout(CLOSE_TIMEOUT, self.sink.close()).await;
            }
        }
        tracing::info!(peer = %self.peer, "disconnected");
    }
}

/// phoenix.js encodes the token with the standard base64 alphabet and strips the padding.
fn decode_auth_token(encoded: &str) -> Option<String> {
    String::from_utf8(super::decode_base64(encoded)?).ok()
}
