//! The LongPoll transport, for networks that block WebSockets (Phoenix's `Phoenix.Transports.LongPoll`).
//!
//! A GET without a session token runs `connect` and opens a session (`{"status":410,"token":..}`); a GET with
//! the token waits up to the poll window for frames; a POST publishes one frame, or up to 100 ndjson lines.
//! Every answer is HTTP 200 with the real status in the JSON body. A session owns the same [`Connection`] a
//! WebSocket has, so channels, PubSub and serializers are shared; frames wait in a bounded buffer between polls
//! and are never lost while the session lives. A session nobody polls for 1.5 windows ends, and its channels
//! terminate.
//!
//! Hostile clients meet limits: sessions are capped in all and per client address, and a session runs no task
//! before its first poll or post, so opening sessions in a loop holds little; a POST body is decoded as it
//! arrives, within a cap on the body and `max_frame_size` per frame, and never buffered whole.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use tokio::sync::{Notify, oneshot};
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::tungstenite::Utf8Bytes;
use warp::reply::Response;

use super::driver::{Gone, Inbound, Transport, drive};
use super::{Body, Refused, connect, connect_info, header_str};
use crate::config::SocketConfig;
use crate::connection::{Connection, SocketShared};
use crate::lifecycle::Lifecycle;
use crate::outbox::{CloseReason, Outbox};
use crate::queue::Queue;
use crate::serializer::{Frame, Message, Serializer};
use crate::socket::{ConnectParams, Refuse, RefuseBody, Socket};
use crate::token::{MaxAge, Token};

/// The most ndjson lines one POST dispatches, as phoenix.js batches them.
const MAX_LINES: usize = 100;
/// The salt of session tokens.
const TOKEN_SALT: &str = "channels longpoll session";

pub(crate) struct LongPoll<S: Socket> {
    shared: Arc<SocketShared<S>>,
    secret: String,
    lifecycle: Lifecycle,
    sessions: Mutex<Sessions<S>>,
}

/// The open sessions, and what they count against the caps.
struct Sessions<S: Socket> {
    by_id: HashMap<String, Arc<Session<S>>>,
    /// Sessions open or being opened, in all and per client address.
    total: usize,
    per_address: HashMap<IpAddr, usize>,
    /// Sessions in the order they opened, until they start. One never started has no task to notice it
    /// expired: it ends here, when a later request sweeps.
    unstarted: VecDeque<Arc<Session<S>>>,
}

/// What the HTTP handlers and the session task share.
struct Session<S: Socket> {
    id: String,
    peer: SocketAddr,
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
    /// The connection, until the first poll or post starts its task: a session nobody uses costs no task.
    connection: Mutex<Option<Connection<S>>>,
}

struct Post {
    messages: Vec<Message>,
    /// Why the session ends once `messages` are dispatched: the rest of the POST was refused.
    refused: Option<CloseReason>,
    dispatched: oneshot::Sender<()>,
}

/// Locks `mutex`; no lock here is held across code that can leave its data inconsistent, so poisoning is
/// ignored.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl<S: Socket> LongPoll<S> {
    pub(crate) fn new(shared: Arc<SocketShared<S>>, secret: &str, lifecycle: Lifecycle) -> Self {
        let sessions =
            Sessions { by_id: HashMap::new(), total: 0, per_address: HashMap::new(), unstarted: VecDeque::new() };
        LongPoll { shared, secret: secret.to_owned(), lifecycle, sessions: Mutex::new(sessions) }
    }

    pub(crate) async fn serve(self: Arc<Self>, req: Request<Body>, peer: SocketAddr) -> Response {
        match *req.method() {
            Method::OPTIONS => return preflight(&req),
            Method::GET | Method::POST => {}
            _ => return with_cors(Response::new(Default::default()), StatusCode::BAD_REQUEST),
        }
        let session = self.resume(&req);
        match (req.method().clone(), session) {
            (Method::GET, Some((token, session))) => poll(&token, &session, self.shared.config.longpoll_window).await,
            (Method::GET, None) => self.open(req, peer).await,
            (_, Some((_, session))) => publish(req, peer, &session, &self.shared.config).await,
            (_, None) => status_body(410, None, None),
        }
    }

    /// Phoenix ends a session not polled for 1.5 windows.
    fn session_timeout(&self) -> Duration {
        self.shared.config.longpoll_window.mul_f32(1.5)
    }

    /// The live session the request's token names, if any, started if this is its first use. The header wins
    /// over the query parameter.
    fn resume(self: &Arc<Self>, req: &Request<Body>) -> Option<(String, Arc<Session<S>>)> {
        let from_query = || ConnectParams::from_query(req.uri().query().unwrap_or("")).get("token").map(str::to_owned);
        let token = header_str(req.headers(), "x-phoenix-longpoll-token").map(str::to_owned).or_else(from_query)?;
        let id: String = Token::verify(&self.secret, TOKEN_SALT, token.as_str(), MaxAge::Infinity).ok()?;
        let (session, connection) = {
            let mut sessions = lock(&self.sessions);
            sessions.sweep(Instant::now(), self.session_timeout());
            let session = sessions.by_id.get(&id).cloned()?;
            let connection = lock(&session.connection).take();
            (session, connection)
        };
        if let Some(connection) = connection {
            self.clone().start(session.clone(), connection);
        }
        Some((token, session))
    }

    /// Runs `connect` and opens a session, unless the caps are reached.
    async fn open(self: Arc<Self>, req: Request<Body>, peer: SocketAddr) -> Response {
        let Some(place) = Place::take(&self, peer) else {
            crate::metrics::metrics().longpoll_sessions_refused.increment(1);
            let config = &self.shared.config;
            let (max, per_address) = (config.longpoll_max_sessions, config.longpoll_max_sessions_per_address);
            tracing::debug!(%peer, max, per_address, "long-poll session refused: too many sessions");
            // phoenix.js closes on a 403 and reconnects after its backoff; its poll throws on a status it does
            // not know (429, 503), which would leave the client stuck.
            return forbidden();
        };
        let params = ConnectParams::from_query(req.uri().query().unwrap_or(""));
        let auth_token = header_str(req.headers(), "x-phoenix-authtoken").map(str::to_owned);
        let info = connect_info(&req, peer, auth_token, &self.shared.state);
        let (serializer, assigns) = match connect::<S>(&params, &info, peer).await {
            Ok(accepted) => accepted,
            Err(Refused::Socket(refuse)) => return refused(&refuse),
            Err(Refused::Crashed) => {
                return with_cors(Response::new(Default::default()), StatusCode::INTERNAL_SERVER_ERROR);
            }
        };
        let id = random_id();
        let token = Token::sign(&self.secret, TOKEN_SALT, &id);
        let outbox = Outbox::new(serializer, &self.shared.config);
        let connection = Connection::new(assigns, outbox.clone(), self.shared.clone());
        place.fill(Arc::new(Session {
            id,
            peer,
            outbox,
            inbox: Queue::new(8),
            pending: Mutex::default(),
            ready: Notify::new(),
            last_poll: Mutex::new(Instant::now()),
            polling: AtomicUsize::new(0),
            ended: AtomicBool::new(false),
            connection: Mutex::new(Some(connection)),
        }));
        tracing::debug!(%peer, ?serializer, "long-poll session opened");
        status_body(410, Some(&token), Some(&[]))
    }

    /// Runs a session's connection, from its first poll or post on.
    fn start(self: Arc<Self>, session: Arc<Session<S>>, connection: Connection<S>) {
        let guard = self.lifecycle.track();
        let lifecycle = self.lifecycle.clone();
        let transport = SessionTransport { longpoll: self, session, refused: None };
        tokio::spawn(async move {
            let _guard = guard;
            let metrics = crate::metrics::metrics();
            metrics.longpoll_connections.increment(1.0);
            drive(transport, connection, lifecycle).await;
            metrics.longpoll_connections.decrement(1.0);
        });
    }
}

impl<S: Socket> Sessions<S> {
    /// Counts a session of `address` in, unless that passes a cap.
    fn reserve(&mut self, address: IpAddr, config: &SocketConfig) -> bool {
        let count = self.per_address.get(&address).copied().unwrap_or(0);
        // Every client whose peer is unknown (`UNKNOWN_PEER`) has the unspecified address: only the total cap
        // can apply to them.
        let per_address_full = !address.is_unspecified() && count >= config.longpoll_max_sessions_per_address;
        if self.total >= config.longpoll_max_sessions || per_address_full {
            return false;
        }
        self.per_address.insert(address, count + 1);
        self.total += 1;
        true
    }

    fn release(&mut self, address: IpAddr) {
        self.total -= 1;
        if let Some(count) = self.per_address.get_mut(&address) {
            *count -= 1;
            if *count == 0 {
                self.per_address.remove(&address);
            }
        }
    }

    fn insert(&mut self, session: Arc<Session<S>>) {
        self.by_id.insert(session.id.clone(), session.clone());
        self.unstarted.push_back(session);
        // Started sessions leave the queue when they reach its front; behind a long-lived unstarted one they
        // could pile up.
        if self.unstarted.len() > 2 * self.total + 64 {
            self.unstarted.retain(|session| lock(&session.connection).is_some());
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some(session) = self.by_id.remove(id) {
            self.release(client_address(session.peer.ip()));
        }
    }

    /// Ends the sessions never started within `timeout` of opening; they expire in the order they opened.
    fn sweep(&mut self, now: Instant, timeout: Duration) {
        while let Some(front) = self.unstarted.front() {
            let unused = {
                let mut connection = lock(&front.connection);
                if connection.is_some() && now < *lock(&front.last_poll) + timeout {
                    break;
                }
                connection.take().is_some()
            };
            let front = self.unstarted.pop_front().expect("the front is there");
            if unused {
                self.remove(&front.id);
            }
        }
    }
}

/// A session's place under the caps, taken before `connect` runs and given back unless a session fills it.
struct Place<'a, S: Socket> {
    longpoll: &'a LongPoll<S>,
    peer: SocketAddr,
    filled: bool,
}

impl<'a, S: Socket> Place<'a, S> {
    fn take(longpoll: &'a LongPoll<S>, peer: SocketAddr) -> Option<Self> {
        let mut sessions = lock(&longpoll.sessions);
        sessions.sweep(Instant::now(), longpoll.session_timeout());
        let taken = sessions.reserve(client_address(peer.ip()), &longpoll.shared.config);
        taken.then(|| Place { longpoll, peer, filled: false })
    }

    fn fill(mut self, session: Arc<Session<S>>) {
        lock(&self.longpoll.sessions).insert(session);
        self.filled = true;
    }
}

impl<S: Socket> Drop for Place<'_, S> {
    fn drop(&mut self) {
        if !self.filled {
            lock(&self.longpoll.sessions).release(client_address(self.peer.ip()));
        }
    }
}

/// The address sessions are counted under. An IPv6 client commonly holds a whole /64, so a /64 counts as one.
fn client_address(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

/// A session's side of the connection: frames wait in `pending` for the next poll, posts arrive in `inbox`.
struct SessionTransport<S: Socket> {
    longpoll: Arc<LongPoll<S>>,
    session: Arc<Session<S>>,
    /// Why the session ends, after the batch last handed over.
    refused: Option<CloseReason>,
}

impl<S: Socket> Transport for SessionTransport<S> {
    async fn send(&mut self, frames: &mut VecDeque<Frame>) -> Result<(), Gone> {
        let peer = self.session.peer;
        let mut pending = lock(&self.session.pending);
        for frame in frames.drain(..) {
            match frame {
                Frame::Text(text) => pending.push_back(text),
                Frame::Binary(_) => {
                    tracing::warn!(%peer, "binary frame dropped: LongPoll carries text frames only");
                }
            }
        }
        // The frames wait here until polled: the outbox's bounds, in frames and bytes, hold for them too.
        let config = &self.longpoll.shared.config;
        let overflow = pending.len() > config.outbox_capacity
            || (pending.len() > 1 && pending.iter().map(|text| text.len()).sum::<usize>() > config.max_outbox_bytes);
        drop(pending);
        self.session.ready.notify_waiters();
        if overflow {
            tracing::warn!(%peer, "closing long-poll session: slow client");
            return Err(Gone);
        }
        Ok(())
    }

    async fn recv(&mut self) -> Inbound {
        if let Some(reason) = self.refused.take() {
            return Inbound::Refused(reason);
        }
        match self.session.inbox.recv().await {
            Some(post) => {
                self.refused = post.refused;
                Inbound::Batch(post.messages, post.dispatched)
            }
            None => Inbound::Gone,
        }
    }

    /// While a poll waits, the session cannot expire.
    fn idle_deadline(&self, now: Instant) -> Option<Instant> {
        let session_timeout = self.longpoll.session_timeout();
        if self.session.polling.load(Ordering::SeqCst) > 0 {
            return Some(now + session_timeout);
        }
        let at = *lock(&self.session.last_poll) + session_timeout;
        (now < at).then_some(at)
    }

    fn peer(&self) -> SocketAddr {
        self.session.peer
    }

    async fn close(self, _reason: Option<CloseReason>) {
        let session = &self.session;
        lock(&self.longpoll.sessions).remove(&session.id);
        session.ended.store(true, Ordering::SeqCst);
        session.inbox.close();
        session.ready.notify_waiters();
        tracing::debug!(peer = %session.peer, "long-poll session closed");
    }
}

/// Answers a GET: the frames waiting, or those arriving within the window.
async fn poll<S: Socket>(token: &str, session: &Session<S>, window: Duration) -> Response {
    // Dropped when the poll ends, also when the client aborts it and this future is dropped mid-wait.
    let _polling = Polling::start(session);
    let deadline = Instant::now() + window;
    let messages = loop {
        let mut ready = pin!(session.ready.notified());
        ready.as_mut().enable();
        let messages: Vec<Utf8Bytes> = lock(&session.pending).drain(..).collect();
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
struct Polling<'a, S: Socket>(&'a Session<S>);

impl<'a, S: Socket> Polling<'a, S> {
    fn start(session: &'a Session<S>) -> Self {
        session.polling.fetch_add(1, Ordering::SeqCst);
        Polling(session)
    }
}

impl<S: Socket> Drop for Polling<'_, S> {
    fn drop(&mut self) {
        *lock(&self.0.last_poll) = Instant::now();
        self.0.polling.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Answers a POST: decodes the frames as the body arrives, then waits until the session has dispatched them.
async fn publish<S: Socket>(
    req: Request<Body>,
    peer: SocketAddr,
    session: &Session<S>,
    config: &SocketConfig,
) -> Response {
    let ndjson = header_str(req.headers(), header::CONTENT_TYPE.as_str()) == Some("application/x-ndjson");
    let mut frames =
        BodyFrames::new(ndjson, session.outbox.serializer, config.longpoll_max_body, config.max_frame_size);
    let mut body = req.into_body();
    // A body trickled in slowly holds a connection: it must arrive within one poll window (Plug times out a
    // slow `read_body` too).
    let body_deadline = Instant::now() + config.longpoll_window;
    // Past a refusal nothing more is read: the connection closes after the answer.
    let refusal = loop {
        let Ok(frame) = timeout_at(body_deadline, body.frame()).await else {
            tracing::debug!(%peer, "long-poll POST body not received within the window");
            crate::metrics::metrics().longpoll_posts_slow.increment(1);
            return status_body(408, None, None);
        };
        match frame {
            None => break frames.finish().err(),
            Some(Ok(frame)) => {
                if let Ok(Err(refusal)) = frame.into_data().map(|data| frames.push(data)) {
                    break Some(refusal);
                }
            }
            // The client went away, or sent no valid HTTP body: nothing of it is dispatched.
            Some(Err(e)) => {
                tracing::debug!(%peer, "long-poll POST body not received: {e}");
                return status_body(400, None, None);
            }
        }
    };
    // The frames before a refused one are dispatched, then the session ends, as a WebSocket handles the frames
    // before one it refuses and closes (1009, 1011). Phoenix's session crashes on a malformed line too; and
    // phoenix.js drops its session on any POST status but 200, reconnecting with a new one.
    let (status, refused) = match &refusal {
        None => (200, None),
        Some(refusal) => {
            tracing::warn!(%peer, "long-poll POST refused: {refusal}");
            let metrics = crate::metrics::metrics();
            match refusal {
                BodyRefusal::BodyTooLarge | BodyRefusal::FrameTooLarge => {
                    metrics.longpoll_posts_too_large.increment(1);
                    (413, Some(CloseReason::FrameTooBig))
                }
                BodyRefusal::Malformed(_) => {
                    metrics.longpoll_posts_malformed.increment(1);
                    (400, Some(CloseReason::MalformedFrame))
                }
            }
        }
    };
    if frames.messages.is_empty() && refused.is_none() {
        return status_body(200, None, None);
    }
    let (dispatched, done) = oneshot::channel();
    let post = Post { messages: frames.messages, refused, dispatched };
    let deadline = Instant::now() + config.longpoll_window;
    match timeout_at(deadline, session.inbox.push(post)).await {
        Err(_) => return status_body(408, None, None),
        Ok(Err(_)) => return status_body(410, None, None),
        Ok(Ok(())) => {}
    }
    match timeout_at(deadline, done).await {
        Ok(Ok(())) => status_body(status, None, None),
        Ok(Err(_)) => status_body(410, None, None),
        Err(_) => status_body(408, None, None),
    }
}

/// Why a POST body was refused.
#[derive(Debug)]
pub(crate) enum BodyRefusal {
    /// The body is over `longpoll_max_body`.
    BodyTooLarge,
    /// A frame is over `max_frame_size`.
    FrameTooLarge,
    /// A frame is not one: not UTF-8, not base64, or not a message.
    Malformed(String),
}

impl std::fmt::Display for BodyRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyRefusal::BodyTooLarge => f.write_str("body too large"),
            BodyRefusal::FrameTooLarge => f.write_str("frame too large"),
            BodyRefusal::Malformed(e) => f.write_str(e),
        }
    }
}

/// The frames of a POST body, decoded as the body arrives: one text frame, or ndjson lines (text frames start
/// with `[`, other lines are base64 binary frames), at most [`MAX_LINES`] of them as Phoenix. Only the line
/// being received is buffered, and a body or frame over its limit is refused before the rest is read.
pub(crate) struct BodyFrames {
    serializer: Serializer,
    ndjson: bool,
    max_body: usize,
    max_frame_size: usize,
    received: usize,
    /// The line received so far; without ndjson, the body.
    partial: BytesMut,
    lines: usize,
    /// The frames decoded so far, in order.
    messages: Vec<Message>,
}

impl BodyFrames {
    pub(crate) fn new(ndjson: bool, serializer: Serializer, max_body: usize, max_frame_size: usize) -> Self {
        let (received, lines, messages) = (0, 0, Vec::new());
        BodyFrames { serializer, ndjson, max_body, max_frame_size, received, partial: BytesMut::new(), lines, messages }
    }

    /// Takes the next piece of the body.
    pub(crate) fn push(&mut self, mut chunk: Bytes) -> Result<(), BodyRefusal> {
        self.received = self.received.saturating_add(chunk.len());
        if self.received > self.max_body {
            return Err(BodyRefusal::BodyTooLarge);
        }
        if self.ndjson {
            while let Some(end) = chunk.iter().position(|b| *b == b'\n') {
                let mut line = chunk.split_to(end + 1);
                line.truncate(end);
                if !self.partial.is_empty() {
                    self.partial.extend_from_slice(&line);
                    line = self.partial.split().freeze();
                }
                self.line(line)?;
            }
        }
        // Lines past the last one dispatched are read, not kept.
        if self.lines < MAX_LINES {
            self.partial.extend_from_slice(&chunk);
            if self.too_large(&self.partial) {
                return Err(BodyRefusal::FrameTooLarge);
            }
        }
        Ok(())
    }

    /// Decodes what the end of the body completes: the last line, or the one frame.
    pub(crate) fn finish(&mut self) -> Result<(), BodyRefusal> {
        let rest = self.partial.split().freeze();
        if self.ndjson {
            return self.line(rest);
        }
        let message = self.decode(&rest)?;
        self.messages.push(message);
        Ok(())
    }

    fn line(&mut self, line: Bytes) -> Result<(), BodyRefusal> {
        let line = match line.strip_suffix(b"\r") {
            Some(stripped) => line.slice(..stripped.len()),
            None => line,
        };
        if line.is_empty() || self.lines >= MAX_LINES {
            return Ok(());
        }
        if self.too_large(&line) {
            return Err(BodyRefusal::FrameTooLarge);
        }
        self.lines += 1;
        let message = self.decode(&line)?;
        self.messages.push(message);
        Ok(())
    }

    fn is_text(&self, frame: &[u8]) -> bool {
        !self.ndjson || frame.starts_with(b"[")
    }

    /// Whether `frame`, whole or its beginning, is over `max_frame_size`: a base64 line by its decoded size.
    fn too_large(&self, frame: &[u8]) -> bool {
        let frame = frame.strip_suffix(b"\r").unwrap_or(frame);
        let size = if self.is_text(frame) { frame.len() } else { frame.len() / 4 * 3 };
        size > self.max_frame_size
    }

    fn decode(&self, frame: &Bytes) -> Result<Message, BodyRefusal> {
        let malformed = |why: &str| BodyRefusal::Malformed(why.to_owned());
        let text = std::str::from_utf8(frame).map_err(|_| malformed("a frame is not UTF-8"))?;
        let decoded = if self.is_text(frame) {
            self.serializer.decode_text(text)
        } else {
            let bytes = super::decode_base64(text).ok_or_else(|| malformed("a line is neither a frame nor base64"))?;
            self.serializer.decode_binary(Bytes::from(bytes))
        };
        decoded.map_err(|e| BodyRefusal::Malformed(e.to_string()))
    }
}

/// The frames of a whole POST body, without size limits.
pub(crate) fn decode_body(body: &Bytes, ndjson: bool, serializer: Serializer) -> Result<Vec<Message>, String> {
    let mut frames = BodyFrames::new(ndjson, serializer, usize::MAX, usize::MAX);
    frames.push(body.clone()).and_then(|()| frames.finish()).map_err(|e| e.to_string())?;
    Ok(frames.messages)
}

/// `{"status":403}`, for a refused origin or connection.
pub(crate) fn forbidden() -> Response {
    status_body(403, None, None)
}

/// A refused connection: `{"status":403}` (what the `phoenix` client reads), with the refusal's JSON object fields,
/// or its text as `"reason"`, added. The plain [`Refuse`] answers HTTP 200 as Phoenix does; one with a status or
/// body of its own answers its status.
fn refused(refuse: &Refuse) -> Response {
    if *refuse == Refuse {
        return forbidden();
    }
    let mut body = serde_json::Map::new();
    body.insert("status".to_owned(), 403.into());
    match refuse.body() {
        RefuseBody::Empty => {}
        RefuseBody::Text(text) => {
            body.insert("reason".to_owned(), text.as_str().into());
        }
        RefuseBody::Json(serde_json::Value::Object(fields)) => {
            body.extend(fields.iter().filter(|(key, _)| *key != "status").map(|(k, v)| (k.clone(), v.clone())));
        }
        RefuseBody::Json(other) => {
            body.insert("reason".to_owned(), other.clone());
        }
    }
    let mut response = Response::new(serde_json::Value::Object(body).to_string().into());
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    with_cors(response, StatusCode::from_u16(refuse.status_code()).expect("Refuse keeps a 4xx or 5xx status"))
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
    let mut response = Response::new(body.into());
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    with_cors(response, StatusCode::OK)
}

fn with_cors(mut response: Response, status: StatusCode) -> Response {
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// CORS preflight: allow what the client asks for.
fn preflight(req: &Request<Body>) -> Response {
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

    /// Feeds `body` to a fresh [`BodyFrames`] in pieces of `size` bytes.
    fn feed(body: &[u8], size: usize, max_body: usize, max_frame_size: usize) -> (BodyFrames, Result<(), String>) {
        let mut frames = BodyFrames::new(true, Serializer::V2, max_body, max_frame_size);
        let fed = body.chunks(size).try_for_each(|piece| frames.push(Bytes::copy_from_slice(piece)));
        let result = fed.and_then(|()| frames.finish()).map_err(|e| e.to_string());
        (frames, result)
    }

    #[test]
    fn lines_split_across_pieces_decode_as_whole_ones() {
        let body = b"[\"1\",\"1\",\"t\",\"phx_join\",{}]\r\n\nAAEBAQExMnRl\n[null,\"2\",\"t\",\"e\",{\"a\":1}]";
        let whole = decode_body(&Bytes::from_static(body), true, Serializer::V2).unwrap();
        for size in [1, 2, 3, 7, 64] {
            let (frames, result) = feed(body, size, usize::MAX, usize::MAX);
            assert_eq!(result, Ok(()));
            let events: Vec<_> = frames.messages.iter().map(|m| (m.ref_.clone(), m.event.clone())).collect();
            let expected: Vec<_> = whole.iter().map(|m| (m.ref_.clone(), m.event.clone())).collect();
            assert_eq!(events, expected, "pieces of {size}");
        }
    }

    #[test]
    fn frames_and_bodies_over_their_limit_are_refused_before_they_end() {
        let line = "[null,\"1\",\"phoenix\",\"heartbeat\",{}]\n";
        // A text line over the frame limit, refused before its end arrives; the line before it is kept.
        let body = format!("{line}[{}", "1,".repeat(100));
        let (frames, result) = feed(body.as_bytes(), 8, usize::MAX, 64);
        assert_eq!((frames.messages.len(), result), (1, Err("frame too large".to_owned())));
        // Base64 by its decoded size: 84 digits are 63 bytes, 88 are 66.
        let too_large = Err("frame too large".to_owned());
        assert_ne!(feed(&[b'A'; 84], 8, usize::MAX, 64).1, too_large);
        assert_eq!(feed(&[b'A'; 88], 8, usize::MAX, 64).1, too_large);
        // The body cap counts every byte, lines past the 100th included.
        let many = line.repeat(150);
        assert_eq!(feed(many.as_bytes(), 100, many.len(), 64).1, Ok(()));
        let (frames, result) = feed(many.as_bytes(), 100, many.len() - 1, 64);
        assert_eq!((frames.messages.len(), result), (MAX_LINES, Err("body too large".to_owned())));
        // Without ndjson the body is one frame.
        let mut single = BodyFrames::new(false, Serializer::V2, usize::MAX, 8);
        assert!(single.push(Bytes::from_static(b"[null,\"1\"")).is_err());
    }

    #[test]
    fn the_lines_before_a_malformed_one_are_kept() {
        let body = b"[null,\"1\",\"t\",\"a\",{}]\n[null,\"2\",\"t\",\"b\",{}]\n%%%\n[null,\"3\",\"t\",\"c\",{}]\n";
        let (frames, result) = feed(body, 5, usize::MAX, usize::MAX);
        assert_eq!(result, Err("a line is neither a frame nor base64".to_owned()));
        let events: Vec<&str> = frames.messages.iter().map(|m| m.event.as_str()).collect();
        assert_eq!(events, ["a", "b"]);
    }

    #[test]
    fn sessions_count_per_ipv4_address_and_ipv6_64() {
        let v6 = |s: &str| client_address(s.parse().unwrap());
        assert_eq!(v6("2001:db8::1"), v6("2001:db8::ffff:1"));
        assert_ne!(v6("2001:db8::1"), v6("2001:db8:0:1::1"));
        assert_eq!(v6("::ffff:10.0.0.1"), v6("10.0.0.1"));
        assert_ne!(v6("10.0.0.1"), v6("10.0.0.2"));
    }
}
