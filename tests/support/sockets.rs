//! [`UserSocket`]: the socket handler of the in-process test servers; each test file brings its channels.
//!
//! ```ignore
//! enum App {}
//!
//! impl Routes for App {
//!     fn channels() -> Router<UserSocket> {
//!         Router::new().channel::<RoomChannel>("room:*")
//!     }
//! }
//!
//! type UserSocket = support::sockets::UserSocket<App>;
//! ```

use std::marker::PhantomData;

use channels::channel::{Channel, ChannelSocket, HandleResult, JoinResult};
use channels::payload::Payload;
use channels::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
use serde_json::{Value, json};

/// The channel routes of a [`UserSocket`].
pub trait Routes: Sized + 'static {
    fn channels() -> Router<UserSocket<Self>>;
}

/// A connection of a user: `reject` in the query refuses it (403), `refuse=STATUS` with that status and the body
/// `{"reason": REASON}` (`reason=REASON`) or the text TEXT (`text=TEXT`); `user` in the query (else the auth token)
/// names the user, whose connections share the socket id `users_socket:{user}`.
pub struct UserSocket<R> {
    pub user: Option<String>,
    /// What `connect` was told, for tests that look at it.
    pub info: Value,
    routes: PhantomData<fn() -> R>,
}

impl<R: Routes> Socket for UserSocket<R> {
    async fn connect(params: &ConnectParams, info: &ConnectInfo) -> Result<Self, Refuse> {
        if params.get("reject").is_some() {
            return Err(Refuse);
        }
        if let Some(status) = params.get("refuse") {
            let refuse = Refuse::status(status.parse().expect("refuse=STATUS"));
            return Err(match (params.get("reason"), params.get("text")) {
                (Some(reason), _) => refuse.json(json!({ "reason": reason })),
                (None, Some(text)) => refuse.text(text),
                (None, None) => refuse,
            });
        }
        let user = params.get("user").or(info.auth_token.as_deref()).map(str::to_owned);
        let info = json!({
            "peer": info.peer_addr.map(|a| a.ip().to_string()),
            "uri": info.uri,
            "user_agent": info.user_agent,
            "x_headers": info.x_headers,
            "trace": info.trace_context_headers,
            "auth_token": info.auth_token,
            "params": params.as_map(),
        });
        Ok(UserSocket { user, info, routes: PhantomData })
    }

    fn id(&self) -> Option<String> {
        self.user.as_ref().map(|u| format!("users_socket:{u}"))
    }

    fn channels() -> Router<Self> {
        R::channels()
    }
}

/// A channel every join of which succeeds and that ignores what its clients send: for tests about connections,
/// not channels.
pub struct OpenRoom<R>(PhantomData<fn() -> R>);

impl<R: Routes> Channel for OpenRoom<R> {
    type Socket = UserSocket<R>;
    type Info = ();

    async fn join(_topic: &str, _payload: Payload, _socket: &mut ChannelSocket<Self>) -> JoinResult<Self> {
        JoinResult::ok(OpenRoom(PhantomData))
    }

    async fn handle_in(&mut self, _event: &str, _payload: Payload, _socket: &mut ChannelSocket<Self>) -> HandleResult {
        HandleResult::NoReply
    }
}
