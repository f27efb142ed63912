//! Every handler kind and extractor, sync and async, a second socket handler, a user capture type and a
//! generic channel.

use std::sync::atomic::{AtomicUsize, Ordering};

use channels::prelude::*;
use channels::channel::HandleResult as Handled;
use channels::dsl::IntoHandleResult;

static TERMINATED: AtomicUsize = AtomicUsize::new(0);

pub struct UserSocket {
    user_id: Option<String>,
}

#[socket]
impl UserSocket {
    channel!("rooms:*" => RoomChannel);
    channel!("generic:*" => Generic<u8>);

    pub async fn connect(params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
        Ok(UserSocket { user_id: params.get("user_id").map(str::to_owned) })
    }

    pub fn id(&self) -> Option<String> {
        self.user_id.as_ref().map(|id| format!("users_socket:{id}"))
    }

    /// Stays an inherent method.
    pub fn is_anonymous(&self) -> bool {
        self.user_id.is_none()
    }
}

pub struct AdminSocket;

#[socket]
impl AdminSocket {
    channel!("admin:lobby" => AdminChannel);

    fn connect(_params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
        Err(Refuse)
    }
}

/// A user capture type.
pub struct RoomId(u32);

impl FromTopicSegment for RoomId {
    fn from_topic_segment(segment: &str) -> Option<Self> {
        segment.strip_prefix('r')?.parse().ok().map(RoomId)
    }
}

/// A user result type.
pub struct Ack;

impl IntoHandleResult for Ack {
    fn into_handle_result(self) -> Handled {
        Handled::ok(Payload::empty())
    }
}

pub enum Info {
    Ping,
    Stop,
}

pub struct RoomChannel {
    room: u32,
}

#[derive(serde::Deserialize, serde::Serialize)]
pub struct UserJoined {
    user_id: String,
}

#[channel]
#[intercept("user_joined", "raw_out")]
impl RoomChannel {
    #[join("rooms:lobby")]
    fn lobby(socket: &ChannelSocket<Self>) -> JoinResult<Self> {
        socket.send_info(Info::Ping);
        JoinResult::ok(RoomChannel { room: 0 })
    }

    #[join("rooms:{id}")]
    async fn by_id(id: RoomId, payload: Payload) -> JoinResult<Self> {
        let _ = payload;
        JoinResult::ok(RoomChannel { room: id.0 })
    }

    #[join("rooms:{_anything}")]
    async fn other(assigns: &UserSocket, topic: &str) -> JoinResult<Self> {
        let _ = (assigns.is_anonymous(), topic);
        JoinResult::error(&serde_json::json!({"reason": "unauthorized"}))
    }

    #[join(_)]
    fn anything_else(topic: &str) -> JoinResult<Self> {
        JoinResult::error(&serde_json::json!({"reason": "unmatched", "topic": topic}))
    }

    #[handle_in("ack")]
    fn ack(&self) -> Ack {
        Ack
    }

    #[handle_in("maybe")]
    async fn maybe(&mut self, n: i64) -> Result<Reply, Reply> {
        if n < 0 {
            return Err(Reply::error(Payload::empty()));
        }
        Ok(Reply::ok(&serde_json::json!({"room": self.room, "n": n})))
    }

    #[handle_in("stop")]
    fn stop() -> HandleResult {
        HandleResult::stop()
    }

    #[handle_in("borrowed")]
    fn borrowed(&mut self, payload: &Payload, topic: &str, assigns: &UserSocket, socket: &mut ChannelSocket<Self>) {
        let _ = (payload, topic, assigns, socket);
    }

    #[handle_out("user_joined")]
    async fn user_joined(&mut self, msg: UserJoined, assigns: &UserSocket, socket: &mut ChannelSocket<Self>) {
        if assigns.user_id.as_deref() != Some(msg.user_id.as_str()) {
            socket.push("user_joined", &msg);
        }
    }

    #[handle_out("raw_out")]
    fn raw_out(&self, payload: &Payload, topic: &str) -> OutResult {
        let _ = (payload, topic);
        OutResult::NoReply
    }

    #[handle_info]
    async fn info(&mut self, info: Info, _socket: &mut ChannelSocket<Self>) -> OutResult {
        match info {
            Info::Ping => OutResult::NoReply,
            Info::Stop => OutResult::Stop(StopReason::Normal),
        }
    }

    #[terminate]
    async fn terminate(&mut self, reason: &TerminateReason, topic: &str, assigns: &UserSocket) {
        let _ = (reason, topic, assigns);
        TERMINATED.fetch_add(1, Ordering::Relaxed);
    }
}

pub struct AdminChannel;

#[channel(socket = AdminSocket)]
impl AdminChannel {
    #[join("admin:{_room}")]
    fn join() -> JoinResult<Self> {
        JoinResult::ok(AdminChannel)
    }
}

pub struct Generic<T>(T);

#[channel]
impl<T: Default + Send + 'static> Generic<T> {
    #[join("generic:{_x}")]
    fn join() -> JoinResult<Self> {
        JoinResult::ok(Generic(T::default()))
    }

    #[handle_in("get")]
    fn get(&self) -> Reply {
        let _ = &self.0;
        Reply::ok(Payload::empty())
    }
}

fn main() {
    assert_eq!(<RoomChannel as Channel>::INTERCEPTS, ["user_joined", "raw_out"]);
    let s = UserSocket { user_id: Some("1".into()) };
    assert_eq!(s.id().as_deref(), Some("users_socket:1"));
    let _endpoint = Endpoint::builder()
        .socket::<UserSocket>("/socket", SocketConfig::default())
        .socket::<AdminSocket>("/admin", SocketConfig::default())
        .build();
}
