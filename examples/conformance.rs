//! The conformance app: the contract in `CONFORMANCE.md`, which must behave the same on Phoenix and here.
//!
//! `cargo run --release --example conformance` listens on 127.0.0.1:4001 (`PORT` overrides it).
//!
//! Events without a handler get the DSL's documented `{"reason":"unhandled event"}` reply, and payloads that do
//! not fit a handler's type get `{"reason":"invalid payload","details":..}`.

use std::time::Duration;

use channels::origin::CheckOrigin;
use channels::prelude::*;
use channels::presence::PresenceConfig;
use channels::pubsub::{PubSub, RedisConfig};
use channels::token::{MaxAge, Token};
use serde_json::{Value, json};

/// The connection's assigns.
struct UserSocket {
    user_id: Option<String>,
}

#[socket]
impl UserSocket {
    channel!("rooms:*" => RoomChannel);
    channel!("test:*" => TestChannel);
    channel!("presence:*" => PresenceChannel);

    async fn connect(params: &ConnectParams, _info: &ConnectInfo, config: State<Config>) -> Result<Self, Refuse> {
        if params.get("reject") == Some("true") {
            return Err(Refuse);
        }
        let user_id = match params.get("token") {
            Some(token) => {
                let verified = Token::verify(&config.secret_key_base, TOKEN_SALT, token, MaxAge::Seconds(86_400));
                Some(verified.map_err(|_| Refuse)?)
            }
            None => None,
        };
        Ok(UserSocket { user_id })
    }

    fn id(&self) -> Option<String> {
        self.user_id.as_ref().map(|id| format!("users_socket:{id}"))
    }
}

/// The guide's chat room.
struct RoomChannel;

#[channel]
impl RoomChannel {
    #[join("rooms:lobby")]
    async fn lobby() -> JoinResult<Self> {
        JoinResult::ok(RoomChannel)
    }

    #[join(_)]
    async fn private() -> JoinResult<Self> {
        JoinResult::error(json!({"reason": "unauthorized"}))
    }

    #[handle_in("new_msg")]
    async fn new_msg(&mut self, msg: NewMsg, socket: &mut ChannelSocket<Self>) {
        socket.broadcast("new_msg", &msg);
    }
}

#[derive(serde::Deserialize, serde::Serialize)]
struct NewMsg {
    body: Value,
}

/// Every reply, push and broadcast shape the protocol has.
struct TestChannel;

#[channel]
#[intercept("intercepted")]
impl TestChannel {
    #[join(_)]
    async fn join(topic: &str, payload: Payload) -> JoinResult<Self> {
        let reject = payload.deserialize::<Value>().is_ok_and(|p| p.get("reject") == Some(&Value::Bool(true)));
        if reject {
            JoinResult::error(json!({"reason": "rejected"}))
        } else {
            JoinResult::ok_with(TestChannel, json!({"topic": topic}))
        }
    }

    #[handle_in("reply_ok")]
    fn reply_ok(payload: Payload) -> Reply {
        Reply::ok(payload)
    }

    #[handle_in("reply_error")]
    fn reply_error(payload: Payload) -> Reply {
        Reply::error(payload)
    }

    #[handle_in("reply_empty")]
    fn reply_empty() -> Reply {
        Reply::ok(Payload::empty())
    }

    #[handle_in("noreply")]
    fn noreply() {}

    #[handle_in("push")]
    fn push(payload: Payload, socket: &mut ChannelSocket<Self>) {
        socket.push("pushed", payload);
    }

    #[handle_in("broadcast")]
    fn broadcast(payload: Payload, socket: &mut ChannelSocket<Self>) {
        socket.broadcast("broadcasted", payload);
    }

    #[handle_in("broadcast_from")]
    fn broadcast_from(payload: Payload, socket: &mut ChannelSocket<Self>) {
        socket.broadcast_from("broadcasted", payload);
    }

    #[handle_in("intercepted")]
    fn intercepted(payload: Payload, socket: &mut ChannelSocket<Self>) {
        socket.broadcast("intercepted", payload);
    }

    #[handle_in("async_reply")]
    fn async_reply(payload: Payload, socket: &mut ChannelSocket<Self>) {
        if let Some(reply_to) = socket.socket_ref() {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                reply_to.reply(Reply::ok(payload));
            });
        }
    }

    #[handle_in("assigns")]
    fn assigns(assigns: &UserSocket) -> Reply {
        Reply::ok(json!({"user_id": assigns.user_id}))
    }

    #[handle_in("stop")]
    fn stop() -> HandleResult {
        HandleResult::stop()
    }

    #[handle_in("stop_reply")]
    fn stop_reply(payload: Payload) -> HandleResult {
        HandleResult::Stop { reason: StopReason::Normal, reply: Some(Reply::ok(payload)) }
    }

    #[handle_in("crash")]
    fn crash() {
        panic!("crash requested by the client")
    }

    #[handle_in("disconnect_me")]
    fn disconnect_me(assigns: &UserSocket, socket: &mut ChannelSocket<Self>) -> HandleResult {
        match assigns.id() {
            Some(id) => {
                socket.pubsub().broadcast(&id, "disconnect", json!({}));
                HandleResult::NoReply
            }
            None => HandleResult::error(json!({"reason": "no socket id"})),
        }
    }

    #[handle_in("binary_echo")]
    fn binary_echo(payload: Payload) -> Reply {
        Reply::ok(payload)
    }

    #[handle_out("intercepted")]
    fn via_handle_out(&mut self, payload: &Payload, socket: &mut ChannelSocket<Self>) {
        let mut payload: Value = payload.deserialize().unwrap_or_else(|_| json!({}));
        if let Some(map) = payload.as_object_mut() {
            map.insert("via_handle_out".into(), Value::Bool(true));
        }
        socket.push("intercepted", &payload);
    }
}

/// Who is online: tracked right after the join, listed in `presence_state`, changes in `presence_diff`.
struct PresenceChannel {
    user: String,
}

/// Sent to itself by the join, as Phoenix's `send(self(), :after_join)`.
struct AfterJoin;

#[derive(serde::Deserialize)]
struct PresenceJoin {
    user: String,
}

#[channel]
impl PresenceChannel {
    #[join(_)]
    async fn join(payload: Payload, socket: &mut ChannelSocket<Self>) -> JoinResult<Self> {
        match payload.deserialize::<PresenceJoin>() {
            Ok(PresenceJoin { user }) => {
                socket.send_info(AfterJoin);
                JoinResult::ok(PresenceChannel { user })
            }
            Err(_) => JoinResult::error(json!({"reason": "user required"})),
        }
    }

    #[handle_info]
    fn after_join(&mut self, _msg: AfterJoin, socket: &mut ChannelSocket<Self>) {
        let presence = socket.presence();
        let online_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        // Refused only past the entry size limit, which the runtime logs; the state is pushed either way.
        let _ = presence.track(socket, &self.user, json!({"online_at": online_at.as_secs().to_string()}));
        socket.push("presence_state", presence.list(socket.topic()));
    }
}

/// The salt of user tokens, shared with `GET /token`.
const TOKEN_SALT: &str = "user socket";

/// The app's configuration, read once at startup and given to the endpoint as app state.
struct Config {
    /// Signs LongPoll sessions and user tokens.
    secret_key_base: String,
}

impl Config {
    fn from_env() -> Config {
        let secret_key_base = std::env::var("SECRET_KEY_BASE")
            .unwrap_or_else(|_| "conformance-secret-key-base-0123456789-0123456789-0123456789-0123".to_owned());
        Config { secret_key_base }
    }
}

/// `GET /token?user_id=ID`: a token for that user, as a page would embed it.
fn token_route(
    secret_key_base: String,
) -> impl warp::Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    use warp::Filter;
    #[derive(serde::Deserialize)]
    struct Query {
        user_id: String,
    }
    warp::path("token")
        .and(warp::path::end())
        .and(warp::get())
        .and(warp::query::<Query>())
        .map(move |q: Query| Token::sign(&secret_key_base, TOKEN_SALT, &q.user_id))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let port = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(4001u16);
    let config = SocketConfig::default()
        .idle_timeout(Duration::from_secs(60))
        .max_channels(100)
        .check_origin(CheckOrigin::Off)
        .longpoll(true);
    // Tests of several nodes shorten presence replication's periods.
    let env_ms = |name| std::env::var(name).ok().and_then(|v| v.parse().ok()).map(Duration::from_millis);
    let mut presence = PresenceConfig::default();
    if let Some(period) = env_ms("PRESENCE_BROADCAST_MS") {
        presence = presence.broadcast_period(period);
    }
    if let Some(period) = env_ms("PRESENCE_DOWN_MS") {
        presence = presence.down_period(period);
    }
    let app = Config::from_env();
    let mut endpoint = Endpoint::builder()
        .socket::<UserSocket>("/socket", config)
        .presence_config(presence)
        .secret_key_base(app.secret_key_base.clone())
        .routes(warp::Filter::or(token_route(app.secret_key_base.clone()), channels::client::client_js()))
        .state(app);
    // Several nodes share broadcasts (and presence) through Redis when REDIS_URL is set.
    if let Some(redis) = RedisConfig::from_env() {
        let pubsub = PubSub::redis(redis).await.map_err(std::io::Error::other)?;
        endpoint = endpoint.pubsub(pubsub);
    }
    endpoint.build().serve(("127.0.0.1", port)).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use channels::testing::TestEndpoint;
    use serde_json::{Value, json};

    use super::*;

    #[tokio::test]
    async fn test_channel_replies_pushes_and_broadcasts() {
        let endpoint = TestEndpoint::<UserSocket>::new().state(Config::from_env());
        let mut client = endpoint.connect(&[]).await.unwrap();
        let topic = client.subscribe_and_join("test:unit", json!({})).await.unwrap();
        let r = client.push(&topic, "reply_ok", json!({"a": 1})).await;
        client.assert_reply(&r, "ok", json!({"a": 1})).await;
        let r = client.push(&topic, "reply_error", json!({"b": 2})).await;
        client.assert_reply(&r, "error", json!({"b": 2})).await;
        client.push(&topic, "push", json!({"p": 1})).await;
        client.assert_push("pushed", json!({"p": 1})).await;
        client.push(&topic, "broadcast", json!({"n": 1})).await;
        client.assert_broadcast("broadcasted", json!({"n": 1})).await;
        client.push(&topic, "intercepted", json!({"i": 1})).await;
        client.assert_push("intercepted", json!({"i": 1, "via_handle_out": true})).await;
        client.set_timeout(Duration::from_millis(500));
        let r = client.push(&topic, "async_reply", json!({"later": true})).await;
        client.assert_reply(&r, "ok", json!({"later": true})).await;
        let r = client.push(&topic, "assigns", json!({})).await;
        client.assert_reply(&r, "ok", json!({"user_id": null})).await;
        client.push(&topic, "crash", json!({})).await;
        client.assert_error(&topic).await;
    }

    #[tokio::test]
    async fn tokens_rejections_and_presence() {
        let endpoint = TestEndpoint::<UserSocket>::new().state(Config::from_env());
        assert!(endpoint.connect(&[("reject", "true")]).await.is_err());
        assert!(endpoint.connect(&[("token", "forged")]).await.is_err());
        let token = Token::sign(&Config::from_env().secret_key_base, TOKEN_SALT, "42");
        let mut client = endpoint.connect(&[("token", &token)]).await.unwrap();
        let topic = client.join("test:user", json!({})).await.unwrap().0;
        let r = client.push(&topic, "assigns", json!({})).await;
        client.assert_reply(&r, "ok", json!({"user_id": "42"})).await;
        let refused = client.join("test:no", json!({"reject": true})).await.unwrap_err();
        assert_eq!(refused.deserialize::<Value>().unwrap(), json!({"reason": "rejected"}));

        let refused = client.join("presence:lobby", json!({})).await.unwrap_err();
        assert_eq!(refused.deserialize::<Value>().unwrap(), json!({"reason": "user required"}));
        client.join("presence:lobby", json!({"user": "ann"})).await.unwrap();
        let state: Value = client.assert_push_matching("presence_state", |_| true).await.deserialize().unwrap();
        assert!(state["ann"]["metas"][0]["online_at"].is_string());
    }
}
