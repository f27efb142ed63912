//! App state through `State<T>`: in `connect` after params and info (sync here, two types), in every handler kind,
//! by the full path, in a generic channel; the socket handler's `required_state` lists every type its `connect`
//! and channels take, each channel's types once. A user type named `State` without a type argument stays a
//! payload.

use std::sync::Arc;

use channels::prelude::*;

pub struct Config {
    motd: String,
}

pub struct Pool;

pub struct Metrics;

pub struct UserSocket;

#[socket]
impl UserSocket {
    channel!("rooms:*" => RoomChannel);
    channel!("generic:*" => Generic<u8>);

    fn connect(_: &ConnectParams, _: &ConnectInfo, config: State<Config>, _pool: State<Pool>) -> Result<Self, Refuse> {
        if config.motd.is_empty() { Err(Refuse) } else { Ok(UserSocket) }
    }
}

pub struct RoomChannel;

mod machine {
    #[derive(serde::Deserialize)]
    pub enum State {
        On,
        Off,
    }
}

pub struct Ping;

#[channel]
#[intercept("shout")]
impl RoomChannel {
    #[join("rooms:{_id}")]
    async fn join(_config: State<Config>, payload: Payload, _pool: channels::state::State<Pool>) -> JoinResult<Self> {
        let _ = payload;
        JoinResult::ok(RoomChannel)
    }

    #[handle_in("motd")]
    fn motd(&self, config: State<Config>, socket: &mut ChannelSocket<Self>) -> Reply {
        let same = socket.state::<Config>().is_some_and(|c| Arc::ptr_eq(&c.0, &config.0));
        Reply::ok(serde_json::json!({"motd": config.motd, "same": same}))
    }

    #[handle_in("switch")]
    fn switch(&mut self, state: machine::State) -> Reply {
        Reply::ok(serde_json::json!({"on": matches!(state, machine::State::On)}))
    }

    #[handle_out("shout")]
    fn shout(&mut self, payload: &Payload, _metrics: State<Metrics>, socket: &mut ChannelSocket<Self>) {
        socket.push("shout", payload);
    }

    #[handle_info]
    async fn info(&mut self, _ping: Ping, _config: State<Config>) {}

    #[terminate]
    fn bye(&mut self, _reason: &TerminateReason, _metrics: State<Metrics>) {}
}

pub struct Generic<T>(T);

#[channel]
impl<T: Default + Send + 'static> Generic<T> {
    #[join("generic:{_x}")]
    fn join(_config: State<Config>) -> JoinResult<Self> {
        JoinResult::ok(Generic(T::default()))
    }
}

fn main() {
    // connect's, then each route's channel's
    let required = UserSocket::required_state();
    let names: Vec<&str> = required.iter().map(|r| r.type_name().rsplit("::").next().unwrap()).collect();
    assert_eq!(names, ["Config", "Pool", "Config", "Pool", "Metrics", "Config"]);
    let _endpoint = Endpoint::builder()
        .state(Metrics)
        .socket::<UserSocket>("/socket", SocketConfig::default())
        .state(Pool)
        .state(Config { motd: "hello".into() })
        .build();
}
