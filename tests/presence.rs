//! Presence on one node: presence_state after join, presence_diff on every change, updates, several metas per
//! key, automatic untrack when the channel ends, and diffs that stay proportional to the change.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use channels::testing::TestEndpoint;
use channels::{
    Channel, ChannelSocket, ConnectInfo, ConnectParams, Endpoint, HandleResult, JoinResult, OutResult, Payload, Refuse,
    Router, Socket, SocketConfig,
};
use serde_json::{Value, json};
use support::{Client, Frame};

struct UserSocket;

impl Socket for UserSocket {
    async fn connect(_params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
        Ok(UserSocket)
    }

    fn channels() -> Router<Self> {
        Router::new().channel::<PresenceChannel>("presence:*")
    }
}

struct PresenceChannel {
    user: String,
}

enum Info {
    AfterJoin,
}

impl Channel for PresenceChannel {
    type Socket = UserSocket;
    type Info = Info;

    async fn join(_topic: &str, payload: Payload, socket: &mut ChannelSocket<Self>) -> JoinResult<Self> {
        match payload.deserialize::<Value>().ok().and_then(|p| p["user"].as_str().map(str::to_owned)) {
            Some(user) => {
                socket.send_info(Info::AfterJoin);
                JoinResult::ok(PresenceChannel { user })
            }
            None => JoinResult::error(json!({"reason": "user required"})),
        }
    }

    async fn handle_info(&mut self, Info::AfterJoin: Info, socket: &mut ChannelSocket<Self>) -> OutResult {
        let presence = socket.presence();
        presence.track(socket, &self.user, json!({"status": "online"}));
        socket.push("presence_state", presence.list(socket.topic()));
        OutResult::NoReply
    }

    async fn handle_in(&mut self, event: &str, payload: Payload, socket: &mut ChannelSocket<Self>) -> HandleResult {
        let presence = socket.presence();
        match event {
            "status" => {
                let status = payload.deserialize::<Value>().unwrap()["status"].clone();
                presence.update(socket, &self.user.clone(), json!({"status": status}));
                HandleResult::NoReply
            }
            "untrack" => {
                presence.untrack(socket, &self.user.clone());
                HandleResult::NoReply
            }
            "crash" => panic!("crash"),
            _ => HandleResult::error(json!({"reason": "unhandled event"})),
        }
    }
}

async fn start() -> SocketAddr {
    let endpoint = Endpoint::builder().socket::<UserSocket>("/socket", SocketConfig::default()).build();
    let server = endpoint.bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(server.run());
    addr
}

/// Receives frames until one with `event`; returns its payload.
async fn next_event(client: &mut Client, event: &str) -> Value {
    loop {
        match client.recv().await {
            Frame::Text(text) => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame[3] == event {
                    return frame[4].clone();
                }
            }
            other => panic!("waiting for {event}: {}", other.describe()),
        }
    }
}

async fn join(addr: SocketAddr, topic: &str, user: &str) -> Client {
    let mut c = Client::connect(&format!("ws://{addr}/socket/websocket?vsn=2.0.0")).await;
    c.send_text(&format!(r#"["1","1","{topic}","phx_join",{{"user":"{user}"}}]"#)).await;
    c.expect_text(&format!(r#"["1","1","{topic}","phx_reply",{{"response":{{}},"status":"ok"}}]"#)).await;
    c
}

fn keys(map: &Value) -> Vec<String> {
    let mut keys: Vec<String> = map.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn state_diffs_updates_and_automatic_untrack() {
    let addr = start().await;
    let topic = "presence:lobby";
    let mut alice = join(addr, topic, "alice").await;
    let state = next_event(&mut alice, "presence_state").await;
    assert_eq!(keys(&state), ["alice"]);
    let meta = &state["alice"]["metas"][0];
    assert_eq!(meta["status"], "online");
    assert_eq!(meta["phx_ref"].as_str().unwrap().len(), 16);

    let mut bob = join(addr, topic, "bob").await;
    let state = next_event(&mut bob, "presence_state").await;
    assert_eq!(keys(&state), ["alice", "bob"]);
    // Alice's own join diff came before her presence_state and was skipped; clients apply both idempotently.
    let diff = next_event(&mut alice, "presence_diff").await;
    assert_eq!((keys(&diff["joins"]), keys(&diff["leaves"])), (vec!["bob".to_owned()], vec![]));

    // A second tab of bob: two metas under one key.
    let mut bob2 = join(addr, topic, "bob").await;
    let state = next_event(&mut bob2, "presence_state").await;
    assert_eq!(state["bob"]["metas"].as_array().unwrap().len(), 2);

    // An update is a leave of the old meta and a join of the new one carrying phx_ref_prev.
    let old_ref = state["bob"]["metas"][1]["phx_ref"].clone();
    bob2.send_text(r#"["1","2","presence:lobby","status",{"status":"away"}]"#).await;
    let diff = loop {
        let diff = next_event(&mut alice, "presence_diff").await;
        if diff["leaves"].get("bob").is_some() {
            break diff;
        }
    };
    assert_eq!(diff["leaves"]["bob"]["metas"][0]["phx_ref"], old_ref);
    assert_eq!(diff["joins"]["bob"]["metas"][0]["status"], "away");
    assert_eq!(diff["joins"]["bob"]["metas"][0]["phx_ref_prev"], old_ref);

    // Closing, crashing and untracking all remove the entries.
    bob.close().await;
    let diff = next_event(&mut alice, "presence_diff").await;
    assert_eq!(keys(&diff["leaves"]), ["bob"]);
    bob2.send_text(r#"["1","3","presence:lobby","crash",{}]"#).await;
    let diff = next_event(&mut alice, "presence_diff").await;
    assert_eq!(keys(&diff["leaves"]), ["bob"]);
    alice.send_text(r#"["1","4","presence:lobby","untrack",{}]"#).await;
    let diff = next_event(&mut alice, "presence_diff").await;
    assert_eq!(keys(&diff["leaves"]), ["alice"]);

    let mut carol = join(addr, topic, "carol").await;
    assert_eq!(keys(&next_event(&mut carol, "presence_state").await), ["carol"]);
}

#[tokio::test]
async fn join_without_user_is_refused() {
    let endpoint = TestEndpoint::<UserSocket>::new();
    let mut client = endpoint.connect(&[]).await.unwrap();
    let refused = client.join("presence:x", json!({})).await.unwrap_err();
    assert_eq!(refused.deserialize::<Value>().unwrap(), json!({"reason": "user required"}));
}

#[tokio::test]
async fn a_thousand_users_and_diffs_proportional_to_the_change() {
    let endpoint = TestEndpoint::<UserSocket>::new();
    let mut watcher = endpoint.connect(&[]).await.unwrap();
    watcher.set_timeout(Duration::from_secs(5));
    watcher.join("presence:big", json!({"user": "watcher"})).await.unwrap();
    let state: Value = watcher.assert_push_matching("presence_state", |_| true).await.deserialize().unwrap();
    assert_eq!(keys(&state), ["watcher"]);
    let mut clients = Vec::new();
    for i in 0..1000 {
        let mut c = endpoint.connect(&[]).await.unwrap();
        c.join("presence:big", json!({"user": format!("user{i}")})).await.unwrap();
        clients.push(c);
    }
    let mut joins = 0;
    while joins < 1001 {
        // The watcher's own join, then one per user.
        let diff: Value = watcher.assert_push_matching("presence_diff", |_| true).await.deserialize().unwrap();
        let size = diff["joins"].as_object().unwrap().len() + diff["leaves"].as_object().unwrap().len();
        assert_eq!(size, 1, "each join's diff carries that join only: {diff}");
        joins += 1;
    }
    let last: Value = clients[999].assert_push_matching("presence_state", |_| true).await.deserialize().unwrap();
    assert_eq!(last.as_object().unwrap().len(), 1001);
    drop(clients.remove(500));
    let diff: Value = watcher.assert_push_matching("presence_diff", |_| true).await.deserialize().unwrap();
    assert_eq!(keys(&diff["leaves"]), ["user500"]);
    assert_eq!(diff["joins"], json!({}));
}
