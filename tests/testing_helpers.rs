//! The channel test helpers (`channels::testing`), used as a channel author would.

use std::time::Duration;

use channels::channel::{Channel, ChannelSocket, HandleResult, JoinResult, OutResult, Reply};
use channels::payload::Payload;
use channels::socket::{ConnectInfo, ConnectParams, Refuse, Router, Socket};
use channels::state::{State, StateRequirement};
use channels::testing::{Received, TestEndpoint};
use serde_json::{Value, json};

struct UserSocket {
    user_id: Option<String>,
}

impl Socket for UserSocket {
    async fn connect(params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
        match params.get("user_id") {
            Some("banned") => Err(Refuse),
            user => Ok(UserSocket { user_id: user.map(str::to_owned) }),
        }
    }

    fn channels() -> Router<Self> {
        Router::new().channel::<RoomChannel>("rooms:*")
    }
}

struct RoomChannel;

impl Channel for RoomChannel {
    type Socket = UserSocket;
    type Info = ();
    const INTERCEPTS: &'static [&'static str] = &["shout"];

    async fn join(topic: &str, _payload: Payload, socket: &mut ChannelSocket<Self>) -> JoinResult<Self> {
        if topic == "rooms:secret" && socket.assigns().user_id.is_none() {
            return JoinResult::error(json!({"reason": "unauthorized"}));
        }
        JoinResult::ok_with(RoomChannel, json!({"user_id": socket.assigns().user_id}))
    }

    async fn handle_in(&mut self, event: &str, payload: Payload, socket: &mut ChannelSocket<Self>) -> HandleResult {
        match event {
            "new_msg" => {
                socket.broadcast("new_msg", payload);
                HandleResult::NoReply
            }
            "shout" => {
                socket.broadcast("shout", payload);
                HandleResult::NoReply
            }
            "ping" => HandleResult::ok(json!({"pong": true})),
            "later" => {
                let reply_to = socket.socket_ref().expect("a ref");
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    reply_to.reply(Reply::ok(json!({"later": true})));
                });
                HandleResult::NoReply
            }
            "binary" => HandleResult::ok(payload),
            "crash" => panic!("boom"),
            "stop" => HandleResult::stop(),
            _ => HandleResult::error(json!({"reason": "unhandled event"})),
        }
    }

    async fn handle_out(&mut self, event: &str, payload: &Payload, socket: &mut ChannelSocket<Self>) -> OutResult {
        let mut payload: Value = payload.deserialize().unwrap();
        payload["loud"] = Value::Bool(true);
        socket.push(event, &payload);
        OutResult::NoReply
    }
}

#[tokio::test]
async fn join_push_reply_broadcast_leave() {
    let endpoint = TestEndpoint::<UserSocket>::new();
    let mut client = endpoint.connect(&[("user_id", "7")]).await.unwrap();
    let lobby = client.subscribe_and_join("rooms:lobby", json!({})).await.unwrap();

    let r = client.push(&lobby, "ping", json!({})).await;
    client.assert_reply(&r, "ok", json!({"pong": true})).await;

    client.push(&lobby, "new_msg", json!({"body": "hi"})).await;
    client.assert_broadcast("new_msg", json!({"body": "hi"})).await;
    client.assert_push("new_msg", json!({"body": "hi"})).await;

    client.push(&lobby, "shout", json!({"body": "hey"})).await;
    client.assert_push_matching("shout", |p| p.deserialize::<Value>().unwrap()["loud"] == true).await;

    let r = client.push(&lobby, "later", json!({})).await;
    client.assert_reply(&r, "ok", json!({"later": true})).await;

    let r = client.push(&lobby, "binary", bytes::Bytes::from_static(b"\x01\x02")).await;
    client.assert_reply(&r, "ok", bytes::Bytes::from_static(b"\x01\x02")).await;

    client.refute_push("new_msg", Duration::from_millis(30)).await;
    client.leave(&lobby).await;
}

#[tokio::test]
async fn refusals_crashes_and_stops() {
    let endpoint = TestEndpoint::<UserSocket>::new();
    assert!(endpoint.connect(&[("user_id", "banned")]).await.is_err());

    let mut anonymous = endpoint.connect(&[]).await.unwrap();
    let refused = anonymous.join("rooms:secret", json!({})).await.unwrap_err();
    assert_eq!(refused.deserialize::<Value>().unwrap(), json!({"reason": "unauthorized"}));

    let room = anonymous.subscribe_and_join("rooms:1", json!({})).await.unwrap();
    anonymous.push(&room, "crash", json!({})).await;
    anonymous.assert_error(&room).await;

    let room = anonymous.subscribe_and_join("rooms:2", json!({})).await.unwrap();
    anonymous.push(&room, "stop", json!({})).await;
    anonymous.assert_close(&room).await;
}

#[tokio::test]
async fn clients_of_one_endpoint_talk_to_each_other() {
    let endpoint = TestEndpoint::<UserSocket>::new();
    let mut alice = endpoint.connect(&[("user_id", "alice")]).await.unwrap();
    let mut bob = endpoint.connect(&[("user_id", "bob")]).await.unwrap();
    let a = alice.subscribe_and_join("rooms:lobby", json!({})).await.unwrap();
    bob.subscribe_and_join("rooms:lobby", json!({})).await.unwrap();
    alice.push(&a, "new_msg", json!({"body": "hello bob"})).await;
    bob.assert_push("new_msg", json!({"body": "hello bob"})).await;
    // A broadcast from the test itself reaches both.
    endpoint.pubsub().broadcast("rooms:lobby", "announcement", json!({"text": "maintenance"}));
    alice.assert_push("announcement", json!({"text": "maintenance"})).await;
    bob.assert_push("announcement", json!({"text": "maintenance"})).await;
    assert!(bob.received().iter().all(|r| !matches!(r, Received::Push { event, .. } if event == "announcement")));
}

#[tokio::test]
#[should_panic(expected = "received and unmatched")]
async fn a_failed_assertion_shows_what_arrived() {
    let endpoint = TestEndpoint::<UserSocket>::new();
    let mut client = endpoint.connect(&[]).await.unwrap();
    let lobby = client.subscribe_and_join("rooms:lobby", json!({})).await.unwrap();
    let r = client.push(&lobby, "ping", json!({})).await;
    client.assert_reply(&r, "error", json!({})).await;
}

/// The app state of the tests below.
struct Motd {
    text: String,
}

/// Reads `Motd` in `connect` and in its channel, and declares it, as `#[socket]` would.
struct StateSocket;

impl Socket for StateSocket {
    async fn connect(_params: &ConnectParams, info: &ConnectInfo) -> Result<Self, Refuse> {
        let motd: State<Motd> = info.state().ok_or(Refuse)?;
        if motd.text.is_empty() { Err(Refuse) } else { Ok(StateSocket) }
    }

    fn channels() -> Router<Self> {
        Router::new().channel::<MotdChannel>("motd")
    }

    fn required_state() -> Vec<StateRequirement> {
        vec![StateRequirement::of::<Motd>()]
    }
}

struct MotdChannel;

impl Channel for MotdChannel {
    type Socket = StateSocket;
    type Info = ();

    async fn join(_topic: &str, _payload: Payload, socket: &mut ChannelSocket<Self>) -> JoinResult<Self> {
        let motd = socket.state::<Motd>().expect("checked at connect");
        JoinResult::ok_with(MotdChannel, json!({"motd": motd.text}))
    }

    async fn handle_in(&mut self, _event: &str, _payload: Payload, _socket: &mut ChannelSocket<Self>) -> HandleResult {
        HandleResult::NoReply
    }
}

#[tokio::test]
async fn a_test_endpoint_gives_its_state_to_connect_and_channels() {
    let endpoint = TestEndpoint::<StateSocket>::new().state(Motd { text: "hi".into() });
    let mut client = endpoint.connect(&[]).await.unwrap();
    let (_, reply) = client.join("motd", json!({})).await.unwrap();
    assert_eq!(reply.deserialize::<Value>().unwrap(), json!({"motd": "hi"}));
    // `connect_with`'s info carries the endpoint's state, whatever the test's info holds.
    assert!(endpoint.connect_with(&ConnectParams::default(), &ConnectInfo::default()).await.is_ok());
    // A later value of the same type replaces it.
    let endpoint = endpoint.state(Motd { text: String::new() });
    assert!(endpoint.connect(&[]).await.is_err());
}

#[tokio::test]
#[should_panic(expected = "socket handler `testing_helpers::StateSocket` takes `State<testing_helpers::Motd>`, but \
                           the endpoint was given no `testing_helpers::Motd`: add \
                           `.state(testing_helpers::Motd { .. })` to the TestEndpoint")]
async fn a_test_endpoint_without_the_state_its_socket_takes_panics_at_connect() {
    let _ = TestEndpoint::<StateSocket>::new().connect(&[]).await;
}
