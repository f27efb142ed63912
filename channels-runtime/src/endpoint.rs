//! The endpoint: sockets mounted at paths, the user's own warp routes beside them, PubSub, and the server
//! loop with graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use std::sync::Mutex;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::Semaphore;
use warp::Filter;
use warp::reply::{Reply, Response};

use crate::config::SocketConfig;
use crate::config::setters;
use crate::connection::SocketShared;
pub use crate::lifecycle::Drain;
use crate::lifecycle::Lifecycle;
use crate::payload::IntoPayload;
use crate::presence::{Presence, PresenceConfig, PresenceSlot};
use crate::pubsub::PubSub;
use crate::socket::Socket;
use crate::state::StateMap;
use crate::transport::{Body, Mount, SocketMount, UNKNOWN_PEER, status_response};

/// How long a shutdown waits, past the drain, for connections to finish closing.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Mounts a socket handler once the endpoint is built.
type MountFn = Box<dyn FnOnce(&MountContext) -> Box<dyn Mount>>;

/// What mounting a socket handler needs from the endpoint.
struct MountContext {
    pubsub: PubSub,
    presence: PresenceSlot,
    secret_key_base: String,
    lifecycle: Lifecycle,
    state: StateMap,
}

type HttpService = Box<dyn Fn(Request<SyncBody>) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync>;

/// A request body warp accepts: warp's service wants a `Sync` body, which a boxed one (axum's too) is not. The
/// body is only ever polled through `&mut`, so the mutex is never contended: it only makes the type `Sync`.
struct SyncBody(Mutex<Body>);

impl hyper::body::Body for SyncBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        let body = self.get_mut().0.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        Pin::new(body).poll_frame(cx)
    }
}

/// The server: socket handlers at their paths, the user's warp filters for every other request, and PubSub.
///
/// Cheap to clone; clones share everything, so a clone in an HTTP handler or a background task can
/// [`broadcast`](Endpoint::broadcast).
///
/// ```no_run
/// use channels_runtime::endpoint::Endpoint;
/// use channels_runtime::socket::SocketConfig;
/// # use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
/// # struct UserSocket;
/// # impl Socket for UserSocket {
/// #     async fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> { Ok(UserSocket) }
/// #     fn channels() -> Router<Self> { Router::new() }
/// # }
/// use warp::Filter;
///
/// # #[tokio::main] async fn main() -> std::io::Result<()> {
/// let endpoint = Endpoint::builder()
///     .socket::<UserSocket>("/socket", SocketConfig::default())
///     .routes(warp::path::end().map(|| "hello"))
///     .build();
/// endpoint.serve("127.0.0.1:4000").await
/// # }
/// ```
#[derive(Clone)]
pub struct Endpoint {
    inner: Arc<Inner>,
}

struct Inner {
    pubsub: PubSub,
    presence: PresenceSlot,
    mounts: Vec<Box<dyn Mount>>,
    http: Option<HttpService>,
    http_config: HttpConfig,
    lifecycle: Lifecycle,
}

/// Builds an [`Endpoint`].
///
/// ```
/// use channels_runtime::endpoint::{Endpoint, HttpConfig};
/// use channels_runtime::socket::SocketConfig;
/// # use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
/// # struct UserSocket;
/// # impl Socket for UserSocket {
/// #     async fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> { Ok(UserSocket) }
/// #     fn channels() -> Router<Self> { Router::new() }
/// # }
/// # struct Config;
/// use warp::Filter;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let endpoint = Endpoint::builder()
///     .socket::<UserSocket>("/socket", SocketConfig::default())
///     .state(Config) // app state, for `connect` and the channels
///     .secret_key_base("a long random secret, read from the environment in production")
///     .http_config(HttpConfig::default())
///     .routes(warp::path("health").map(|| "ok"))
///     .build();
/// # drop(endpoint);
/// # }
/// ```
#[must_use]
pub struct EndpointBuilder {
    pubsub: PubSub,
    sockets: Vec<MountFn>,
    http: Option<HttpService>,
    secret_key_base: Option<String>,
    presence_config: PresenceConfig,
    drain: Drain,
    http_config: HttpConfig,
    state: StateMap,
}

impl Endpoint {
    /// Starts building an endpoint.
    pub fn builder() -> EndpointBuilder {
        EndpointBuilder {
            pubsub: PubSub::new(),
            sockets: Vec::new(),
            http: None,
            secret_key_base: None,
            presence_config: PresenceConfig::default(),
            drain: Drain::default(),
            http_config: HttpConfig::default(),
            state: StateMap::default(),
        }
    }

    /// The endpoint's PubSub.
    pub fn pubsub(&self) -> &PubSub {
        &self.inner.pubsub
    }

    /// The endpoint's presence tracker (started on first use).
    pub fn presence(&self) -> Presence {
        self.inner.presence.get().clone()
    }

    /// Broadcasts `event` with `payload` to every subscriber of `topic` (Phoenix's `Endpoint.broadcast`).
    pub fn broadcast(&self, topic: &str, event: &str, payload: impl IntoPayload) {
        self.inner.pubsub.broadcast(topic, event, payload);
    }

    /// Binds `addr`; [`Server::run`] then serves.
    ///
    /// An address that cannot be bound (one in use, most often) gives an error that names it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use channels_runtime::endpoint::Endpoint;
    ///
    /// let endpoint = Endpoint::builder().build();
    /// let server = endpoint.bind("127.0.0.1:0").await.unwrap();
    /// let taken = server.local_addr().unwrap();
    /// let error = endpoint.bind(taken).await.unwrap_err();
    /// assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
    /// assert!(error.to_string().starts_with(&format!("cannot listen on {taken}: ")));
    /// # }
    /// ```
    pub async fn bind(&self, addr: impl ToSocketAddrs) -> io::Result<Server> {
        let mut failed = None;
        for addr in tokio::net::lookup_host(addr).await? {
            match TcpListener::bind(addr).await {
                Ok(listener) => return Ok(Server { listener, endpoint: self.clone() }),
                Err(e) => failed = Some(io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"))),
            }
        }
        Err(failed.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to listen on")))
    }

    /// Binds `addr`, logs `listening on ADDR (http://ADDR)` (the URL for a terminal to make clickable), and serves
    /// until Ctrl-C or SIGTERM, then shuts down gracefully.
    pub async fn serve(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let server = self.bind(addr).await?;
        let addr = server.local_addr()?;
        tracing::info!("listening on {addr} (http://{addr})");
        let endpoint = self.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            endpoint.shutdown();
        });
        server.run().await
    }

    /// Starts a graceful shutdown: no new connections; open ones close with code 1012 after their channels
    /// terminate.
    pub fn shutdown(&self) {
        // Other nodes drop this node's presences now rather than after the down period.
        if let Some(presence) = self.inner.presence.started() {
            presence.shutdown();
        }
        self.inner.lifecycle.shutdown();
    }

    /// Waits until the connections left open by [`shutdown`](Endpoint::shutdown) have closed (or the drain's
    /// timeout passed): what [`Server::run`] does after its accept loop, for an endpoint mounted in another server.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use channels_runtime::endpoint::Endpoint;
    ///
    /// let endpoint = Endpoint::builder().build();
    /// endpoint.shutdown();
    /// endpoint.closed().await; // nothing was open
    /// # }
    /// ```
    pub async fn closed(&self) {
        self.inner.lifecycle.closed(CLOSE_GRACE).await;
    }

    async fn handle(&self, req: Request<Body>, peer: SocketAddr) -> Response {
        let path = req.uri().path();
        if let Some(mount) = self.inner.mounts.iter().find(|m| m.handles(path)) {
            // Mounted in another server, requests keep coming after shutdown: new connections would not be drained.
            if self.inner.lifecycle.is_shutting_down() {
                return status_response(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
            }
            return mount.serve(req, peer, self.inner.lifecycle.clone()).await;
        }
        match &self.inner.http {
            Some(http) => http(req.map(|body| SyncBody(Mutex::new(body)))).await,
            None => status_response(StatusCode::NOT_FOUND, ""),
        }
    }
}

/// The endpoint as a [`tower_service::Service`] over `http::Request`s with any body, so it can be mounted in an
/// axum `Router` (`route_service`, `fallback_service`) or served by a hyper server of one's own: it answers its
/// sockets' transports and its own warp [`routes`](EndpointBuilder::routes), and 404 otherwise.
///
/// The peer's address is read from a [`SocketAddr`] in the request's extensions: insert it where the connection is
/// accepted (as [`Server`] does). Without it, [`ConnectInfo::peer_addr`](crate::socket::ConnectInfo::peer_addr) is
/// `None` and LongPoll's per-address session cap does not apply (the total cap still does).
///
/// At shutdown, call [`shutdown`](Endpoint::shutdown) (socket paths then answer 503) and wait for
/// [`closed`](Endpoint::closed): upgraded WebSockets are not the HTTP server's connections any more, so its own
/// graceful shutdown does not wait for them.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use channels_runtime::endpoint::Endpoint;
/// use tower_service::Service;
///
/// let mut endpoint = Endpoint::builder().build();
/// let request = hyper::Request::get("/nothing-here").body(http_body_util::Empty::<bytes::Bytes>::new()).unwrap();
/// let response = endpoint.call(request).await.unwrap();
/// assert_eq!(response.status(), 404);
/// # }
/// ```
impl<B> tower_service::Service<Request<B>> for Endpoint
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let peer = req.extensions().get::<SocketAddr>().copied().unwrap_or(UNKNOWN_PEER);
        let req = req.map(|body| body.map_err(Into::into).boxed_unsync());
        let endpoint = self.clone();
        Box::pin(async move { Ok(endpoint.handle(req, peer).await) })
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("sockets", &self.inner.mounts.iter().flat_map(|m| m.paths()).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl EndpointBuilder {
    /// Mounts the socket handler `S` at `path`: its WebSocket is served at `{path}/websocket`, and its LongPoll
    /// transport, when [`SocketConfig::longpoll`] enables it, at `{path}/longpoll`.
    ///
    /// [`build`](Self::build) panics if `S` takes app state the endpoint is not given (see
    /// [`state`](Self::state)).
    pub fn socket<S: Socket>(mut self, path: &str, config: SocketConfig) -> Self {
        let path = path.to_owned();
        self.sockets.push(Box::new(move |cx| {
            cx.state.check(std::any::type_name::<S>(), &S::required_state(), "Endpoint::builder()");
            let shared = Arc::new(SocketShared {
                router: S::channels(),
                pubsub: cx.pubsub.clone(),
                presence: cx.presence.clone(),
                config,
                state: cx.state.clone(),
            });
            Box::new(SocketMount::new(&path, shared, &cx.secret_key_base, &cx.lifecycle))
        }));
        self
    }

    /// Gives the app a shared value (a database pool, its configuration) that `connect` and every channel can
    /// read: as a [`State<T>`](crate::state::State) handler parameter in code written with the `channels`
    /// macros, or with [`ConnectInfo::state`](crate::socket::ConnectInfo::state) and
    /// [`ChannelSocket::state`](crate::channel::ChannelSocket::state). The value is kept in an `Arc` and
    /// shared, never cloned.
    ///
    /// One value per type: several types may be given, and a second value of the same type replaces the first
    /// (wrap two values of one type in types of their own). The order of `.state` and
    /// [`.socket`](Self::socket) does not matter.
    ///
    /// Every type a socket handler's `connect` or one of its channels takes as `State<T>` must be given:
    /// [`build`](Self::build) checks, and panics with the socket handler, the missing type and this fix. The
    /// check runs at startup, not at compile time: making it a compile error would thread the endpoint's state
    /// type through every `Socket` and `Channel`.
    ///
    /// ```
    /// use channels_runtime::endpoint::Endpoint;
    ///
    /// struct Config {
    ///     motd: String,
    /// }
    ///
    /// let endpoint = Endpoint::builder()
    ///     .state(Config { motd: "hello".into() })
    ///     .state(42u32)
    ///     .state(43u32) // replaces 42
    ///     .build();
    /// # drop(endpoint);
    /// ```
    pub fn state<T: Send + Sync + 'static>(mut self, state: T) -> Self {
        self.state.insert(state);
        self
    }

    /// The secret that signs tokens (LongPoll session tokens; use it for [`Token`](crate::token::Token) too). Without
    /// one, a random secret is made at startup, so tokens do not outlive the process.
    pub fn secret_key_base(mut self, secret: impl Into<String>) -> Self {
        self.secret_key_base = Some(secret.into());
        self
    }

    /// Serves every other request with these warp filters (static files, HTTP routes).
    pub fn routes<F>(mut self, filter: F) -> Self
    where
        F: Filter + Clone + Send + Sync + 'static,
        F::Extract: Reply,
    {
        use tower_service::Service;
        let service = warp::service(filter);
        self.http = Some(Box::new(move |req| {
            let response = service.clone().call(req);
            Box::pin(async move {
                match response.await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            })
        }));
        self
    }

    /// Uses `pubsub` (for example one with a Redis adapter) instead of a node-local one.
    pub fn pubsub(mut self, pubsub: PubSub) -> Self {
        self.pubsub = pubsub;
        self
    }

    /// Sets the presence replication timing (heartbeat and down periods).
    pub fn presence_config(mut self, config: PresenceConfig) -> Self {
        self.presence_config = config;
        self
    }

    /// How connections are closed at shutdown.
    pub fn drain(mut self, drain: Drain) -> Self {
        self.drain = drain;
        self
    }

    /// Limits on plain HTTP connections (before a WebSocket upgrade, and LongPoll's).
    pub fn http_config(mut self, config: HttpConfig) -> Self {
        self.http_config = config;
        self
    }

    /// Builds the endpoint.
    ///
    /// # Panics
    /// When a socket handler takes app state the endpoint was not given (a `State<T>` parameter of its
    /// `connect` or of one of its channels' handlers, see [`state`](Self::state)): the message names the socket
    /// handler, the type, and the `.state(..)` to add.
    pub fn build(self) -> Endpoint {
        // Resolve the metric handles against the recorder installed by now.
        crate::metrics::metrics();
        let secret_key_base = self.secret_key_base.unwrap_or_else(random_secret);
        let presence = PresenceSlot::new(self.pubsub.clone(), self.presence_config);
        let lifecycle = Lifecycle::new(self.drain);
        let cx = MountContext { pubsub: self.pubsub, presence, secret_key_base, lifecycle, state: self.state };
        let mounts = self.sockets.into_iter().map(|mount| mount(&cx)).collect();
        let MountContext { pubsub, presence, lifecycle, .. } = cx;
        let http_config = self.http_config;
        Endpoint { inner: Arc::new(Inner { pubsub, presence, mounts, http: self.http, http_config, lifecycle }) }
    }
}

fn random_secret() -> String {
    let mut bytes = [0u8; 48];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A bound endpoint, ready to serve.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    endpoint: Endpoint,
}

impl Server {
    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until [`Endpoint::shutdown`], then drains the open connections (see [`Drain`]).
    pub async fn run(self) -> io::Result<()> {
        let Server { listener, endpoint } = self;
        let lifecycle = endpoint.inner.lifecycle.clone();
        let config = endpoint.inner.http_config.clone();
        let http_slots = Arc::new(Semaphore::new(config.max_connections));
        let mut accept_backoff = Backoff::default();
        loop {
            let (tcp, peer) = tokio::select! {
                () = lifecycle.shutting_down() => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        accept_backoff.failed(&e).await;
                        continue;
                    }
                },
            };
            accept_backoff.reset();
            // Held until the connection ends or upgrades: clients that never finish a request cannot take every
            // file descriptor.
            let Ok(slot) = http_slots.clone().try_acquire_owned() else {
                crate::metrics::metrics().http_refused.increment(1);
                tracing::debug!(%peer, max = config.max_connections, "connection refused: too many HTTP connections");
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let endpoint = endpoint.clone();
            let guard = lifecycle.track();
            let header_read_timeout = config.header_read_timeout;
            tokio::spawn(async move {
                let _guards = (guard, slot);
                let lifecycle = endpoint.inner.lifecycle.clone();
                let service = service_fn(move |mut req: Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(peer);
                    tower_service::Service::call(&mut endpoint.clone(), req)
                });
                // The header-read timeout also ends a keep-alive connection idle between requests.
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_read_timeout)
                    .serve_connection(TokioIo::new(tcp), service)
                    .with_upgrades();
                let mut conn = std::pin::pin!(conn);
                let result = tokio::select! {
                    result = conn.as_mut() => result,
                    () = lifecycle.shutting_down() => {
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    }
                };
                match result {
                    Err(e) if e.is_timeout() => {
                        crate::metrics::metrics().http_timeouts.increment(1);
                        tracing::debug!(%peer, "HTTP connection closed: no request within the header-read timeout");
                    }
                    Err(e) => tracing::debug!(%peer, "HTTP connection ended: {e}"),
                    Ok(()) => {}
                }
            });
        }
        drop(listener);
        lifecycle.closed(CLOSE_GRACE).await;
        Ok(())
    }
}

/// Waits longer after each failed accept (out of file descriptors, most likely) until one succeeds, and logs the
/// first failure of a run only, so a full descriptor table does not flood the log.
#[derive(Default)]
struct Backoff {
    delay: Option<Duration>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_secs(1);

    async fn failed(&mut self, e: &io::Error) {
        crate::metrics::metrics().accept_errors.increment(1);
        let delay = match self.delay {
            None => {
                tracing::warn!("accept failed: {e}; backing off until accepting works again");
                Self::FIRST
            }
            Some(delay) => {
                tracing::debug!("accept failed: {e}");
                (delay * 2).min(Self::MAX)
            }
        };
        self.delay = Some(delay);
        tokio::time::sleep(delay).await;
    }

    fn reset(&mut self) {
        if self.delay.take().is_some() {
            tracing::info!("accepting connections again");
        }
    }
}

/// Limits on plain HTTP connections: before a WebSocket upgrade, and LongPoll's. Both bound what a client that
/// opens connections and sends nothing can hold.
///
/// ```
/// use std::time::Duration;
/// use channels_runtime::endpoint::{Endpoint, HttpConfig};
///
/// let http = HttpConfig::default().header_read_timeout(Duration::from_secs(5)).max_connections(2_000);
/// let endpoint = Endpoint::builder().http_config(http);
/// # drop(endpoint);
/// ```
#[derive(Debug, Clone)]
pub struct HttpConfig {
    header_read_timeout: Duration,
    max_connections: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { header_read_timeout: Duration::from_secs(10), max_connections: 10_000 }
    }
}

setters! {
    HttpConfig {
        /// A connection must send a whole request head within this long of opening, and of its previous response
        /// (the keep-alive idle limit); otherwise it is closed. Default 10 s.
        header_read_timeout: Duration;
        /// The most HTTP connections open at once, not counting upgraded WebSockets; past it new connections are
        /// closed at once. Default 10,000.
        max_connections: usize;
    }
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM: what [`Endpoint::serve`] waits for before shutting down, for a server
/// of one's own that mounts the endpoint.
///
/// ```no_run
/// # #[tokio::main] async fn main() {
/// let endpoint = channels_runtime::endpoint::Endpoint::builder().build();
/// channels_runtime::endpoint::shutdown_signal().await;
/// endpoint.shutdown();
/// endpoint.closed().await;
/// # }
/// ```
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
