//! The LongPoll transport, for networks that block WebSockets (Phoenix's `Phoenix.Transports.LongPoll`).
//!
//! A GET without a session token runs `connect` and opens a session (`{"status":410,"token":..}`); a GET with
//! the token waits up to the poll window for frames; a POST publishes one frame, or up to 100 ndjson lines.
//! Every answer is HTTP 200 with the real status in the JSON body. A session is a task owning the same
//! [`Connection`] a WebSocket has, so channels, PubSub and serializers are shared; frames wait in a bounded
//! buffer between polls and are never lost while the session lives. A session nobody polls for 1.5 windows
//! ends, and its channels terminate.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use tokio::sync::{Notify, oneshot};
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Utf8Bytes;
use warp::reply::Response;

use super::driver::{Gone, Inbound, Transport, drive};
use super::{Refused, connect, connect_info, header_str};
use crate::config::SocketConfig;
use crate::connection::{Connection, SocketShared};
use crate::lifecycle::Lifecycle;
use crate::outbox::{CloseReason, Outbox};
use crate::queue::Queue;
use crate::serializer::{Frame, Message, Serializer};
use crate::socket::{ConnectParams, Socket};
use crate::token::{MaxAge, Token};

/// The most ndjson lines one POST dispatches, as Phoenix.
const MAX_LINES: usize = 100;
/// The salt of session tokens.
const TOKEN_SALT: &str = "channels longpoll session";

pub(crate) struct LongPoll<S> {
    shared: Arc<SocketShared<S>>,
    secret: String,
    lifecycle: Lifecycle,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

/// What the HTTP handlers and the session task share.
struct Session {
    id: String,
    outbox: Arc<Outbox>,
    /// Batches of client messages, each acknowledged once dispatched.
    inbox: Queue<Post>,
    /// Encoded frames waiting for the next poll.
    pending: Mutex<VecDeque<Utf8Bytes>>,
    /// Woken when frames arrive and when the session ends.
    ready: Notify,
    last_poll: Mutex<Instant>,
    polling: AtomicUsize,
    ended: AtomicBool,
}

struct Post {
    messages: Vec<Message>,
    dispatched: oneshot::Sender<()>,
}

impl<S: Socket> LongPoll<S> {
    pub(crate) fn new(shared: Arc<SocketShared<S>>, secret: &str, lifecycle: Lifecycle) -> Self {
        LongPoll { shared, secret: secret.to_owned(), lifecycle, sessions: Mutex::default() }
    }

    pub(crate) async fn serve(self: Arc<Self>, req: Request<Incoming>, peer: SocketAddr) -> Response {
        match *req.method() {
            Method::OPTIONS => return preflight(&req),
            Method::GET | Method::POST => {}
            _ => return with_cors(Response::new(Default::default()), StatusCode::BAD_REQUEST),
        }
        let session = self.session(&req);
        match (req.method().clone(), session) {
            (Method::GET, Some((token, session))) => poll(&token, &session, self.shared.config.longpoll_window).await,
            (Method::GET, None) => self.open(req, peer).await,
            (_, Some((_, session))) => publish(req, &session, &self.shared.config).await,
            (_, None) => status_body(410, None, None),
        }
    }

    /// The live session the request's token names, if any. The header wins over the query parameter.
    fn session(&self, req: &Request<Incoming>) -> Option<(String, Arc<Session>)> {
        let from_query = || ConnectParams::from_query(req.uri().query().unwrap_or("")).get("token").map(str::to_owned);
        let token = header_str(req.headers(), "x-phoenix-longpoll-token").map(str::to_owned).or_else(from_query)?;
        let id: String = Token::verify(&self.secret, TOKEN_SALT, token.as_str(), MaxAge::Infinity).ok()?;
        let session = self.sessions.lock().unwrap_or_else(|e| e.into_inner()).get(&id).cloned()?;
        Some((token, session))
    }

    /// Runs `connect` and starts a session.
    async fn open(self: Arc<Self>, req: Request<Incoming>, peer: SocketAddr) -> Response {
        let params = ConnectParams::from_query(req.uri().query().unwrap_or(""));
        let auth_token = header_str(req.headers(), "x-phoenix-authtoken").map(str::to_owned);
        let info = connect_info(&req, peer, auth_token);
        let (serializer, assigns) = match connect::<S>(&params, &info, peer).await {
            Ok(accepted) => accepted,
            Err(Refused::Forbidden) => return status_body(403, None, None),
            Err(Refused::Crashed) => {
                return with_cors(Response::new(Default::default()), StatusCode::INTERNAL_SERVER_ERROR);
            }
        };
        let id = random_id();
        let token = Token::sign(&self.secret, TOKEN_SALT, &id);
        let outbox = Outbox::new(serializer, &self.shared.config);
        let session = Arc::new(Session {
            id: id.clone(),
            outbox: outbox.clone(),
            inbox: Queue::new(8),
            pending: Mutex::default(),
            ready: Notify::new(),
            last_poll: Mutex::new(Instant::now()),
            polling: AtomicUsize::new(0),
            ended: AtomicBool::new(false),
        });
        self.sessions.lock().unwrap_or_else(|e| e.into_inner()).insert(id, session.clone());
        let connection = Connection::new(assigns, outbox, self.shared.clone());
        tracing::info!(%peer, ?serializer, "long-poll session opened");
        let guard = self.lifecycle.track();
        let lifecycle = self.lifecycle.clone();
        let transport = SessionTransport { longpoll: self, session, peer };
        tokio::spawn(async move {
            let _guard = guard;
            let metrics = crate::metrics::metrics();
            metrics.longpoll_connections.increment(1.0);
            drive(transport, connection, lifecycle).await;
            metrics.longpoll_connections.decrement(1.0);
        });
        status_body(410, Some(&token), Some(&[]))
    }
}

/// A session's side of the connection: frames wait in `pending` for the next poll, posts arrive in `inbox`.
struct SessionTransport<S> {
    longpoll: Arc<LongPoll<S>>,
    session: Arc<Session>,
    peer: SocketAddr,
}

impl<S: Socket> Transport for SessionTransport<S> {
    async fn send(&mut self, frames: &mut VecDeque<Frame>) -> Result<(), Gone> {
        let mut pending = self.session.pending.lock().unwrap_or_else(|e| e.into_inner());
        for frame in frames.drain(..) {
            match frame {
                Frame::Text(text) => pending.push_back(text),
                Frame::Binary(_) => {
                    tracing::warn!(peer = %self.peer, "binary frame dropped: LongPoll carries text frames only");
                }
            }
        }
        let overflow = pending.len() > self.longpoll.shared.config.outbox_capacity;
        drop(pending);
        self.session.ready.notify_waiters();
        if overflow {
            tracing::warn!(peer = %self.peer, "closing long-poll session: slow client");
            return Err(Gone);
        }
        Ok(())
    }

    async fn recv(&mut self) -> Inbound {
        match self.session.inbox.recv().await {
            Some(post) => Inbound::Batch(post.messages, post.dispatched),
            None => Inbound::Gone,
        }
    }

    /// Phoenix ends a session not polled for 1.5 windows; while a poll waits, the session cannot expire.
    fn idle_deadline(&self, now: Instant) -> Option<Instant> {
        let session_timeout = self.longpoll.shared.config.longpoll_window.mul_f32(1.5);
        if self.session.polling.load(Ordering::SeqCst) > 0 {
            return Some(now + session_timeout);
        }
        let at = *self.session.last_poll.lock().unwrap_or_else(|e| e.into_inner()) + session_timeout;
        (now < at).then_some(at)
    }

    fn peer(&self) -> SocketAddr {
        self.peer
    }

    async fn close(self, _reason: Option<CloseReason>) {
        let session = &self.session;
        self.longpoll.sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(&session.id);
        session.ended.store(true, Ordering::SeqCst);
        session.inbox.close();
        session.ready.notify_waiters();
        tracing::info!(peer = %self.peer, "long-poll session closed");
    }
}

/// Answers a GET: the frames waiting, or those arriving within the window.
async fn poll(token: &str, session: &Session, window: Duration) -> Response {
    // Dropped when the poll ends, also when the client aborts it and this future is dropped mid-wait.
    let _polling = Polling::start(session);
    let deadline = Instant::now() + window;
    let messages = loop {
        let mut ready = pin!(session.ready.notified());
        ready.as_mut().enable();
        let messages: Vec<Utf8Bytes> = session.pending.lock().unwrap_or_else(|e| e.into_inner()).drain(..).collect();
        if !messages.is_empty() || session.ended.load(Ordering::SeqCst) {
            break messages;
        }
        if timeout(deadline.saturating_duration_since(Instant::now()), ready).await.is_err() {
            break messages;
        }
    };
    match (messages.is_empty(), session.ended.load(Ordering::SeqCst)) {
        (false, _) => {
            crate::metrics::metrics().messages_out.increment(messages.len() as u64);
            status_body(200, Some(token), Some(&messages))
        }
        (true, true) => status_body(410, None, None),
        (true, false) => status_body(204, Some(token), Some(&[])),
    }
}

/// A poll in flight: the session does not expire while one waits, and its end counts as the last poll.
struct Polling<'a>(&'a Session);

impl<'a> Polling<'a> {
    fn start(session: &'a Session) -> Self {
        session.polling.fetch_add(1, Ordering::SeqCst);
        Polling(session)
    }
}

impl Drop for Polling<'_> {
    fn drop(&mut self) {
        *self.0.last_poll.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.0.polling.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Answers a POST: decodes the frames and waits until the session has dispatched them.
async fn publish(req: Request<Incoming>, session: &Session, config: &SocketConfig) -> Response {
    let max_frame_size = config.max_frame_size;
    let ndjson = header_str(req.headers(), header::CONTENT_TYPE.as_str()) == Some("application/x-ndjson");
    // A batch of 100 frames of the largest allowed size, as base64, at most.
    let limit = if ndjson { max_frame_size.saturating_mul(MAX_LINES).saturating_mul(4) / 3 } else { max_frame_size };
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            tracing::warn!("long-poll POST body refused: {e}");
            return error_body(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
        }
    };
    let messages = match decode_body(&body, ndjson, session.outbox.serializer) {
        Ok(messages) => messages,
        Err(e) => {
            tracing::warn!("long-poll POST refused: {e}");
            return error_body(StatusCode::BAD_REQUEST, &e);
        }
    };
    if messages.is_empty() {
        return status_body(200, None, None);
    }
    let (dispatched, done) = oneshot::channel();
    let deadline = Instant::now() + config.longpoll_window;
    let queued = tokio::time::timeout_at(deadline, session.inbox.push(Post { messages, dispatched })).await;
    match queued {
        Err(_) => return status_body(408, None, None),
        Ok(Err(_)) => return status_body(410, None, None),
        Ok(Ok(())) => {}
    }
    match tokio::time::timeout_at(deadline, done).await {
        Ok(Ok(())) => status_body(200, None, None),
        Ok(Err(_)) => status_body(410, None, None),
        Err(_) => status_body(408, None, None),
    }
}

/// The frames of a POST body: one text frame, or ndjson lines (text frames start with `[`, other lines are
/// base64 binary frames), at most [`MAX_LINES`] of them as Phoenix.
pub(crate) fn decode_body(body: &Bytes, ndjson: bool, serializer: Serializer) -> Result<Vec<Message>, String> {
    fn text(bytes: &[u8]) -> Result<&str, String> {
        std::str::from_utf8(bytes).map_err(|_| "a frame is not UTF-8".to_owned())
    }
    if !ndjson {
        return Ok(vec![serializer.decode_text(text(body)?).map_err(|e| e.to_string())?]);
    }
    body.split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty())
        .take(MAX_LINES)
        .map(|line| {
            let decoded = if line.starts_with(b"[") {
                serializer.decode_text(text(line)?)
            } else {
                let bytes = crate::base64::decode(text(line)?).ok_or("a line is neither a frame nor base64")?;
                serializer.decode_binary(Bytes::from(bytes))
            };
            decoded.map_err(|e| e.to_string())
        })
        .collect()
}

/// `{"status":403}`, for a refused origin.
pub(crate) fn forbidden() -> Response {
    status_body(403, None, None)
}

/// A JSON body `{"status":S,"token":T,"messages":[...]}`, HTTP 200 as Phoenix answers every long poll.
fn status_body(status: u16, token: Option<&str>, messages: Option<&[Utf8Bytes]>) -> Response {
    let mut body = format!("{{\"status\":{status}");
    if let Some(token) = token {
        body.push_str(",\"token\":");
        body.push_str(&serde_json::to_string(token).expect("a string serializes"));
    }
    if let Some(messages) = messages {
        let texts: Vec<&str> = messages.iter().map(Utf8Bytes::as_str).collect();
        body.push_str(",\"messages\":");
        body.push_str(&serde_json::to_string(&texts).expect("strings serialize"));
    }
    body.push('}');
    json_response(StatusCode::OK, body)
}

fn error_body(status: StatusCode, error: &str) -> Response {
    json_response(status, serde_json::json!({"status": status.as_u16(), "error": error}).to_string())
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(body.into());
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    with_cors(response, status)
}

fn with_cors(mut response: Response, status: StatusCode) -> Response {
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// CORS preflight: allow what the client asks for.
fn preflight(req: &Request<Incoming>) -> Response {
    let mut response = with_cors(Response::new(Default::default()), StatusCode::OK);
    let headers = response.headers_mut();
    if let Some(asked) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("get, post, options"));
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("3600"));
    response
}

/// 128 random bits, hex: a session id nobody can guess.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_ndjson_batches() {
        let body = Bytes::from_static(b"[\"1\",\"1\",\"t\",\"phx_join\",{}]\r\n\nAAEBAQExMnRl\n");
        let messages = decode_body(&body, true, Serializer::V2).unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].event, "phx_join");
        assert_eq!((messages[1].topic.as_str(), messages[1].event.as_str()), ("t", "e"));
        let many: Vec<u8> = "[null,\"1\",\"phoenix\",\"heartbeat\",{}]\n".repeat(150).into_bytes();
        assert_eq!(decode_body(&Bytes::from(many), true, Serializer::V2).unwrap().len(), MAX_LINES);
        assert!(decode_body(&Bytes::from_static(b"%%%"), true, Serializer::V2).is_err());
        let single = Bytes::from_static(br#"{"topic":"t","event":"e","payload":{},"ref":"1"}"#);
        assert_eq!(decode_body(&single, false, Serializer::V1).unwrap().len(), 1);
    }
}
