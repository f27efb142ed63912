//! The WebSocket transport: the upgrade, done here rather than by warp so the read buffer is small and the
//! `phoenix` subprotocol is answered, and the connection loop that reads frames and writes coalesced batches.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::upgrade::Upgraded;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use warp::reply::Response;

use super::{Refused, connect, connect_info, status_response};
use crate::channel::TerminateReason;
use crate::connection::{Connection, SocketShared};
use crate::endpoint::Lifecycle;
use crate::outbox::{CloseReason, Out, Outbox};
use crate::queue::recycle;
use crate::serializer::Frame;
use crate::socket::{ConnectParams, Socket};

/// The subprotocol prefix phoenix.js uses to carry `authToken`.
const AUTH_TOKEN_PREFIX: &str = "base64url.bearer.phx.";

/// How long a closing handshake may take before the TCP connection is simply dropped.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub(crate) async fn upgrade<S: Socket>(
    shared: Arc<SocketShared<S>>,
    mut req: Request<Incoming>,
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
    let info = connect_info(&req, peer, auth_token);
    let (serializer, assigns) = match connect::<S>(&params, &info, peer).await {
        Ok(accepted) => accepted,
        Err(Refused::Forbidden) => return status_response(StatusCode::FORBIDDEN, ""),
        Err(Refused::Crashed) => return status_response(StatusCode::INTERNAL_SERVER_ERROR, ""),
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let config = shared.config.clone();
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(config.read_buffer_size)
        .write_buffer_size(16 << 10)
        .max_write_buffer_size((16 << 10) + config.max_frame_size)
        .max_message_size(Some(config.max_frame_size))
        .max_frame_size(Some(config.max_frame_size));
    let guard = lifecycle.track();
    tokio::spawn(async move {
        let _guard = guard;
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => return tracing::debug!(%peer, "upgrade failed: {e}"),
        };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(ws_config)).await;
        let outbox = Outbox::new(serializer, config.outbox_capacity);
        let connection = Connection::new(assigns, outbox.clone(), shared);
        tracing::info!(%peer, ?serializer, "connected");
        let metrics = crate::metrics::metrics();
        metrics.websocket_connections.increment(1.0);
        run(ws, connection, outbox, config.idle_timeout, lifecycle, peer).await;
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

/// Why the connection loop ended, and what to tell the client.
enum End {
    /// The client closed, or the TCP connection failed: nothing more to send.
    Gone,
    /// Close with this code and reason.
    Close(u16, &'static str),
    /// The server is shutting down and this connection's turn has come.
    Drain,
}

async fn run<S: Socket>(
    ws: Ws,
    mut connection: Connection<S>,
    outbox: Arc<Outbox>,
    idle_timeout: std::time::Duration,
    lifecycle: Lifecycle,
    peer: SocketAddr,
) {
    let (mut sink, mut stream) = ws.split();
    let mut batch = VecDeque::new();
    let mut last_seen = Instant::now();
    let serializer = outbox.serializer;
    // One timer for both deadlines (idle, and this connection's drain turn at shutdown), and the two close
    // signals made once: this loop wakes for every frame written, so each wake-up must stay cheap.
    let mut drain_at: Option<Instant> = None;
    let mut timer = pin!(sleep_until(last_seen + idle_timeout));
    let mut shutting_down = pin!(lifecycle.shutting_down());
    let mut shut = pin!(outbox.shut_down());
    let end = loop {
        tokio::select! {
            biased;
            () = &mut shutting_down, if drain_at.is_none() => {
                let at = Instant::now() + lifecycle.drain_delay();
                drain_at = Some(at);
                timer.as_mut().reset(at.min(last_seen + idle_timeout));
            }
            open = outbox.queue.recv_all(&mut batch) => {
                if let Some(reason) = outbox.close_reason() {
                    tracing::info!(%peer, reason = reason.as_str(), "closing connection");
                    break End::Close(reason.code(), reason.as_str());
                }
                if !open {
                    break End::Gone;
                }
                // A client that stops reading blocks this write; the close request must still get through.
                let written = tokio::select! {
                    biased;
                    reason = &mut shut => Err(reason),
                    result = write_batch(&mut sink, &mut batch, &mut connection) => Ok(result),
                };
                match written {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => break End::Gone,
                    Err(reason) => {
                        tracing::info!(%peer, reason = reason.as_str(), "closing connection");
                        break End::Close(reason.code(), reason.as_str());
                    }
                }
            }
            msg = stream.next() => {
                last_seen = Instant::now();
                let decoded = match msg {
                    Some(Ok(WsMessage::Text(text))) => serializer.decode_text(&text),
                    Some(Ok(WsMessage::Binary(bytes))) => serializer.decode_binary(bytes),
                    Some(Ok(WsMessage::Close(_))) | None => break End::Gone,
                    Some(Ok(_)) => continue,
                    Some(Err(WsError::Capacity(e))) => {
                        tracing::warn!(%peer, "closing connection: {e}");
                        break End::Close(1009, "message too big");
                    }
                    Some(Err(e)) => {
                        tracing::debug!(%peer, "connection failed: {e}");
                        break End::Gone;
                    }
                };
                match decoded {
                    Ok(msg) => connection.handle(msg).await,
                    Err(e) => {
                        // Phoenix's transport crashes on a malformed frame, which closes the connection.
                        tracing::warn!(%peer, "closing connection: {e}");
                        break End::Close(1011, "malformed frame");
                    }
                }
            }
            () = &mut timer => {
                let now = Instant::now();
                if drain_at.is_some_and(|at| at <= now) {
                    break End::Drain;
                }
                if now >= last_seen + idle_timeout {
                    tracing::info!(%peer, "closing idle connection");
                    break End::Gone;
                }
                let next = last_seen + idle_timeout;
                timer.as_mut().reset(drain_at.map_or(next, |at| at.min(next)));
            }
        }
    };
    // The ending is rare and has futures of its own: kept out of the state every open connection holds.
    Box::pin(finish(end, sink, connection, &outbox, peer)).await;
}

/// Closes the connection the way `end` says.
async fn finish<S: Socket>(
    end: End,
    mut sink: futures_util::stream::SplitSink<Ws, WsMessage>,
    mut connection: Connection<S>,
    outbox: &Outbox,
    peer: SocketAddr,
) {
    let end = match end {
        End::Drain => {
            // Channels terminate first and finish what they were doing: their last replies still go out.
            let channels = connection.close(TerminateReason::Shutdown);
            let flushed = drain_channels(&mut sink, outbox, &mut connection, channels);
            if timeout(CLOSE_TIMEOUT, flushed).await.is_err() {
                tracing::warn!(%peer, "channels did not end in time during shutdown");
            }
            End::Close(CloseReason::Shutdown.code(), CloseReason::Shutdown.as_str())
        }
        end => end,
    };
    outbox.queue.close();
    outbox.queue.clear();
    connection.close(TerminateReason::Closed);
    match end {
        // Its socket is full: a close frame would only wait there.
        End::Close(_, reason) if reason == CloseReason::SlowClient.as_str() => {}
        End::Close(code, reason) => {
            let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
            let _ = timeout(CLOSE_TIMEOUT, sink.send(WsMessage::Close(Some(frame)))).await;
            let _ = timeout(CLOSE_TIMEOUT, sink.close()).await;
        }
        End::Gone | End::Drain => {
            let _ = timeout(CLOSE_TIMEOUT, sink.close()).await;
        }
    }
    tracing::info!(%peer, "disconnected");
}

/// Writes what the outbox holds until `channels` channel tasks have ended.
async fn drain_channels<S: Socket>(
    sink: &mut futures_util::stream::SplitSink<Ws, WsMessage>,
    outbox: &Outbox,
    connection: &mut Connection<S>,
    mut channels: usize,
) {
    let mut batch = VecDeque::new();
    while channels > 0 && outbox.queue.recv_all(&mut batch).await {
        channels -= batch.iter().filter(|out| matches!(out, Out::ChannelExit { .. })).count().min(channels);
        if write_batch(sink, &mut batch, connection).await.is_err() {
            return;
        }
    }
}

/// Writes everything queued, then flushes once.
async fn write_batch<S: Socket>(
    sink: &mut futures_util::stream::SplitSink<Ws, WsMessage>,
    batch: &mut VecDeque<Out>,
    connection: &mut Connection<S>,
) -> Result<(), WsError> {
    let mut frames = 0;
    for out in batch.drain(..) {
        match out {
            Out::Frame(Frame::Text(text)) => {
                frames += 1;
                sink.feed(WsMessage::Text(text)).await?
            }
            Out::Frame(Frame::Binary(bytes)) => {
                frames += 1;
                sink.feed(WsMessage::Binary(bytes)).await?
            }
            Out::ChannelExit { topic, instance } => connection.channel_exited(&topic, instance),
        }
    }
    recycle(batch);
    crate::metrics::metrics().messages_out.increment(frames);
    sink.flush().await
}

/// phoenix.js encodes the token with the standard base64 alphabet and strips the padding.
fn decode_auth_token(encoded: &str) -> Option<String> {
    String::from_utf8(crate::base64::decode(encoded)?).ok()
}
