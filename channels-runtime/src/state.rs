//! App state: values the endpoint is given once (a database pool, the app's configuration) that `connect` and
//! every channel can read, so an app needs no globals.
//!
//! [`EndpointBuilder::state`](crate::endpoint::EndpointBuilder::state) stores a value, one per type. `connect`
//! reads it with [`ConnectInfo::state`](crate::socket::ConnectInfo::state), a channel with
//! [`ChannelSocket::state`](crate::channel::ChannelSocket::state), and the handlers the `channels` macros write
//! take it as a [`State<T>`] parameter, filled by type (as axum's `State` extractor).
//!
//! ```
//! use channels_runtime::state::State;
//! # use channels_runtime::channel::{Channel, ChannelSocket, HandleResult, JoinResult};
//! # use channels_runtime::payload::Payload;
//! # use channels_runtime::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
//! use channels_runtime::testing::TestEndpoint;
//!
//! struct Config {
//!     motd: String,
//! }
//!
//! struct UserSocket;
//!
//! impl Socket for UserSocket {
//!     async fn connect(_params: &ConnectParams, info: &ConnectInfo) -> Result<Self, Refuse> {
//!         let config: State<Config> = info.state().ok_or(Refuse)?;
//!         assert_eq!(config.motd, "hello");
//!         Ok(UserSocket)
//!     }
//! #   fn channels() -> Router<Self> { Router::new().channel::<Lobby>("lobby") }
//! }
//! # struct Lobby;
//! # impl Channel for Lobby {
//! #     type Socket = UserSocket;
//! #     type Info = ();
//! #     async fn join(_: &str, _: Payload, _: &mut ChannelSocket<Self>) -> JoinResult<Self> { JoinResult::ok(Lobby) }
//! #     async fn handle_in(&mut self, _: &str, _: Payload, socket: &mut ChannelSocket<Self>) -> HandleResult {
//! #         HandleResult::ok(serde_json::json!({"motd": socket.state::<Config>().unwrap().motd}))
//! #     }
//! # }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // In an app: `Endpoint::builder().state(Config { .. })`; in a test, the same on `TestEndpoint`.
//! let endpoint = TestEndpoint::<UserSocket>::new().state(Config { motd: "hello".into() });
//! assert!(endpoint.connect(&[]).await.is_ok());
//! # }
//! ```

use std::any::{Any, TypeId, type_name};
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A value of the app state, shared by every connection: a handler parameter of this type receives the value of
/// type `T` the endpoint was given (axum's `State` extractor).
///
/// Cloning it clones the [`Arc`], not the value; it dereferences to `T`.
///
/// ```
/// use std::sync::Arc;
/// use channels_runtime::state::State;
///
/// #[derive(Debug)]
/// struct Config {
///     motd: String,
/// }
///
/// let config = State(Arc::new(Config { motd: "hello".into() }));
/// let again = config.clone();
/// assert_eq!(again.motd, "hello");
/// assert!(Arc::ptr_eq(&config.0, &again.0));
/// assert_eq!(format!("{config:?}"), r#"State(Config { motd: "hello" })"#);
/// ```
#[derive(Debug)]
pub struct State<T>(pub Arc<T>);

impl<T> Clone for State<T> {
    fn clone(&self) -> Self {
        State(self.0.clone())
    }
}

impl<T> Deref for State<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// One type of app state that a socket handler's `connect` or one of its channels takes; see
/// [`Socket::required_state`](crate::socket::Socket::required_state).
///
/// ```
/// use channels_runtime::state::StateRequirement;
///
/// struct Config;
///
/// const CONFIG: StateRequirement = StateRequirement::of::<Config>();
/// assert!(CONFIG.type_name().ends_with("Config"));
/// ```
#[derive(Clone, Copy)]
pub struct StateRequirement {
    // Functions, as `TypeId::of` and `type_name` are not callable in constants yet; the requirement is one.
    type_id: fn() -> TypeId,
    type_name: fn() -> &'static str,
}

impl StateRequirement {
    /// The requirement of a `State<T>`.
    pub const fn of<T: Send + Sync + 'static>() -> Self {
        StateRequirement { type_id: TypeId::of::<T>, type_name: type_name::<T> }
    }

    /// The type's name, for messages.
    pub fn type_name(&self) -> &'static str {
        (self.type_name)()
    }
}

impl fmt::Debug for StateRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateRequirement({})", self.type_name())
    }
}

/// The app state an endpoint was given: at most one value per type, shared by every connection and channel of
/// it. A handful of types at most, so a list is searched.
#[derive(Clone, Default)]
pub(crate) struct StateMap {
    entries: Arc<Vec<Entry>>,
}

#[derive(Clone)]
struct Entry {
    type_id: TypeId,
    type_name: &'static str,
    value: Arc<dyn Any + Send + Sync>,
}

impl StateMap {
    /// Stores `value`, replacing the value of the same type if there is one.
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        let entry = Entry { type_id: TypeId::of::<T>(), type_name: type_name::<T>(), value: Arc::new(value) };
        let entries = Arc::make_mut(&mut self.entries);
        match entries.iter_mut().find(|e| e.type_id == entry.type_id) {
            Some(slot) => *slot = entry,
            None => entries.push(entry),
        }
    }

    /// The value of type `T`, if there is one.
    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<State<T>> {
        let entry = self.entries.iter().find(|e| e.type_id == TypeId::of::<T>())?;
        entry.value.clone().downcast().ok().map(State)
    }

    /// Checks, when an endpoint is built, that the socket handler `socket` will find every state it takes.
    ///
    /// # Panics
    /// When a type of `required` is missing, with a message that names the socket handler, the type, and the
    /// fix: add `.state(..)` to `builder`. A configuration error, found at startup rather than at some request.
    pub(crate) fn check(&self, socket: &str, required: &[StateRequirement], builder: &str) {
        let mut missing: Vec<&str> = required
            .iter()
            .filter(|r| !self.entries.iter().any(|e| e.type_id == (r.type_id)()))
            .map(StateRequirement::type_name)
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if missing.is_empty() {
            return;
        }
        let fixes: Vec<String> = missing
            .iter()
            .map(|t| {
                format!(
                    "socket handler `{socket}` takes `State<{t}>`, but the endpoint was given no `{t}`: add \
                     `.state({t} {{ .. }})` to {builder}"
                )
            })
            .collect();
        panic!("{}", fixes.join("; "));
    }
}

impl fmt::Debug for StateMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries.iter().map(|e| e.type_name)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Config(u32);
    struct Pool;

    #[test]
    fn one_value_per_type_the_last_wins() {
        let mut map = StateMap::default();
        assert!(map.get::<Config>().is_none());
        map.insert(Config(1));
        map.insert(Pool);
        map.insert(Config(2));
        assert_eq!(*map.get::<Config>().unwrap(), Config(2));
        assert!(map.get::<Pool>().is_some());
        assert!(map.get::<u32>().is_none());
        assert_eq!(format!("{map:?}"), format!("[{:?}, {:?}]", type_name::<Config>(), type_name::<Pool>()));
    }

    #[test]
    fn clones_share_the_values_and_inserting_into_one_leaves_the_others() {
        let mut map = StateMap::default();
        map.insert(Config(1));
        let shared = map.clone();
        map.insert(Pool);
        assert!(Arc::ptr_eq(&map.get::<Config>().unwrap().0, &shared.get::<Config>().unwrap().0));
        assert!(shared.get::<Pool>().is_none());
    }

    #[test]
    fn check_passes_when_every_requirement_is_met() {
        let mut map = StateMap::default();
        map.insert(Config(1));
        map.check("S", &[StateRequirement::of::<Config>(), StateRequirement::of::<Config>()], "B");
        map.check("S", &[], "B");
    }

    #[test]
    fn check_names_the_socket_each_missing_type_once_and_the_fix() {
        let map = StateMap::default();
        let required =
            [StateRequirement::of::<Pool>(), StateRequirement::of::<Config>(), StateRequirement::of::<Pool>()];
        let check = || map.check("app::UserSocket", &required, "Endpoint::builder()");
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(check));
        let message = *panic.unwrap_err().downcast::<String>().unwrap();
        let (config, pool) = (type_name::<Config>(), type_name::<Pool>());
        assert_eq!(
            message,
            format!(
                "socket handler `app::UserSocket` takes `State<{config}>`, but the endpoint was given no `{config}`: \
                 add `.state({config} {{ .. }})` to Endpoint::builder(); socket handler `app::UserSocket` takes \
                 `State<{pool}>`, but the endpoint was given no `{pool}`: add `.state({pool} {{ .. }})` to \
                 Endpoint::builder()"
            )
        );
    }
}
