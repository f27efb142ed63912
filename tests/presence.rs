//! Presence on one node: presence_state after join, presence_diff on every change, updates, several metas per
//! key, automatic untrack when the channel ends, and diffs that stay proportional to the change.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use channels::channel::{Channel, ChannelSocket, HandleResult, JoinResult, OutResult};
use channels::endpoint::Endpoint;
use channels::payload::Payload;
use channels::presence::PresenceConfig;
use channels::pubsub::{PubSub, RedisConfig};
use channels::socket::{Router, SocketConfig};
use channels::testing::TestEndpoint;
use serde_json::{Value, json};
use support::free_port;
use support::process::conformance_node;
use support::redis::{RedisServer, SHARED_REDIS_PORT, shared_redis, unique_channel};
use support::server::TestServer;
use support::sockets::Routes;
use support::ws::{Client, Frame, ws_url};

enum App {}

impl Routes for App {
    fn channels() -> Router<UserSocket> {
        Router::new().channel::<PresenceChannel>("presence:*")
    }
}

type UserSocket = support::sockets::UserSocket<App>;

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
        presence.track(socket, &self.user, json!({"status": "online"})).unwrap();
        socket.push("presence_state", presence.list(socket.topic()));
        OutResult::NoReply
    }

    async fn handle_in(&mut self, event: &str, payload: Payload, socket: &mut ChannelSocket<Self>) -> HandleResult {
        let presence = socket.presence();
        match event {
            "status" => {
                let status = payload.deserialize::<Value>().unwrap()["status"].clone();
                presence.update(socket, &self.user.clone(), json!({"status": status})).unwrap();
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

async fn start() -> TestServer {
    TestServer::serve(Endpoint::builder().socket::<UserSocket>("/socket", SocketConfig::default()).build()).await
}

/// Presence replication fast enough for tests.
fn quick_presence() -> PresenceConfig {
    PresenceConfig::default().broadcast_period(Duration::from_millis(100)).down_period(Duration::from_millis(1000))
}

/// A node of a cluster sharing `channel` on the Redis at `port`.
async fn node(port: u16, channel: &str, name: &str) -> TestServer {
    node_with(port, channel, name, quick_presence()).await
}

async fn node_with(port: u16, channel: &str, name: &str, presence: PresenceConfig) -> TestServer {
    let config = RedisConfig::new(format!("redis://127.0.0.1:{port}")).channel(channel).node_name(name);
    let endpoint = Endpoint::builder()
        .pubsub(PubSub::redis(config).await.unwrap())
        .presence_config(presence)
        .socket::<UserSocket>("/socket", SocketConfig::default())
        .build();
    TestServer::serve(endpoint).await
}

/// Folds presence_state and presence_diff frames into who is online (key → number of metas), until `done`.
async fn watch_until(
    client: &mut Client,
    online: &mut BTreeMap<String, usize>,
    done: impl Fn(&BTreeMap<String, usize>) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done(online) {
        let frame = match client.try_recv(deadline.saturating_duration_since(tokio::time::Instant::now())).await {
            Some(Frame::Text(text)) => serde_json::from_str::<Value>(&text).unwrap(),
            Some(other) => panic!("{}", other.describe()),
            None => panic!("presence never became as expected; last seen {online:?}"),
        };
        let count = |v: &Value| v["metas"].as_array().map_or(0, Vec::len);
        match frame[3].as_str() {
            Some("presence_state") => {
                online.clear();
                for (key, v) in frame[4].as_object().unwrap() {
                    online.insert(key.clone(), count(v));
                }
            }
            Some("presence_diff") => {
                for (key, v) in frame[4]["joins"].as_object().unwrap() {
                    *online.entry(key.clone()).or_default() += count(v);
                }
                for (key, v) in frame[4]["leaves"].as_object().unwrap() {
                    let n = online.entry(key.clone()).or_default();
                    *n = n.checked_sub(count(v)).unwrap_or_else(|| panic!("{key} left more metas than it had"));
                    if *n == 0 {
                        online.remove(key);
                    }
                }
            }
            _ => {}
        }
    }
}

fn users(online: &BTreeMap<String, usize>) -> Vec<(&str, usize)> {
    online.iter().map(|(k, n)| (k.as_str(), *n)).collect()
}

/// Receives frames until one with `event`; returns its payload.
async fn next_event(client: &mut Client, event: &str) -> Value {
    loop {
        let frame = client.recv_json().await;
        if frame[3] == event {
            return frame[4].clone();
        }
    }
}

async fn join(addr: SocketAddr, topic: &str, user: &str) -> Client {
    let mut c = Client::connect(&ws_url(addr, "vsn=2.0.0")).await;
    c.join("1", topic, &format!(r#"{{"user":"{user}"}}"#), "{}").await;
    c
}

fn keys(map: &Value) -> Vec<String> {
    let mut keys: Vec<String> = map.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn state_diffs_updates_and_automatic_untrack() {
    let server = start().await;
    let addr = server.addr;
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

#[tokio::test]
async fn presence_spans_two_nodes() {
    let (port, channel) = (shared_redis(), unique_channel());
    let a = node(port, &channel, "a").await;
    let b = node(port, &channel, "b").await;
    let topic = "presence:cluster";
    let mut alice = join(a.addr, topic, "alice").await;
    let mut alice_sees = BTreeMap::new();
    watch_until(&mut alice, &mut alice_sees, |o| o.contains_key("alice")).await;
    let mut bob = join(b.addr, topic, "bob").await;
    let mut bob_sees = BTreeMap::new();
    watch_until(&mut bob, &mut bob_sees, |o| users(o) == [("alice", 1), ("bob", 1)]).await;
    watch_until(&mut alice, &mut alice_sees, |o| users(o) == [("alice", 1), ("bob", 1)]).await;
    // Bob in a second tab on node A: one key, two metas, seen on both nodes.
    let _bob2 = join(a.addr, topic, "bob").await;
    watch_until(&mut bob, &mut bob_sees, |o| users(o) == [("alice", 1), ("bob", 2)]).await;
    watch_until(&mut alice, &mut alice_sees, |o| users(o) == [("alice", 1), ("bob", 2)]).await;
    bob.close().await;
    watch_until(&mut alice, &mut alice_sees, |o| users(o) == [("alice", 1), ("bob", 1)]).await;
}

#[tokio::test]
async fn a_partition_heals_without_duplicates_or_zombies() {
    let redis = RedisServer::start(free_port());
    let channel = unique_channel();
    let a = node(redis.port, &channel, "a").await;
    let b = node(redis.port, &channel, "b").await;
    let topic = "presence:partition";
    let mut alice = join(a.addr, topic, "alice").await;
    let bob = join(b.addr, topic, "bob").await;
    let carol = join(b.addr, topic, "carol").await;
    let mut seen = BTreeMap::new();
    watch_until(&mut alice, &mut seen, |o| users(o) == [("alice", 1), ("bob", 1), ("carol", 1)]).await;

    // The partition: Redis hangs, no heartbeat crosses, node A finds node B down and its users leave.
    redis.signal("STOP");
    watch_until(&mut alice, &mut seen, |o| users(o) == [("alice", 1)]).await;
    // Carol leaves while node A cannot hear of it.
    carol.close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.signal("CONT");
    // Healed: bob is back once, carol is not resurrected.
    watch_until(&mut alice, &mut seen, |o| users(o) == [("alice", 1), ("bob", 1)]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    watch_until(&mut alice, &mut seen, |o| users(o) == [("alice", 1), ("bob", 1)]).await;
    alice.send_text(r#"["1","9","presence:partition","untrack",{}]"#).await;
    watch_until(&mut alice, &mut seen, |o| users(o) == [("bob", 1)]).await;
    drop(bob);
}

#[tokio::test]
async fn a_killed_node_s_users_leave_within_the_down_period() {
    let port = shared_redis();
    assert_eq!(port, SHARED_REDIS_PORT);
    let channel = unique_channel();
    let presence = [("PRESENCE_BROADCAST_MS", "200"), ("PRESENCE_DOWN_MS", "1500")];
    let node_a = conformance_node(port, &channel, "a", &presence);
    let node_b = conformance_node(port, &channel, "b", &presence);
    let topic = "presence:killed";
    let mut alice = join(node_a.addr(), topic, "alice").await;
    let _bob = join(node_b.addr(), topic, "bob").await;
    let mut seen = BTreeMap::new();
    watch_until(&mut alice, &mut seen, |o| users(o) == [("alice", 1), ("bob", 1)]).await;
    // Dropping the process handle kills it with SIGKILL: no goodbye to the other node.
    let killed_at = std::time::Instant::now();
    drop(node_b);
    watch_until(&mut alice, &mut seen, |o| users(o) == [("alice", 1)]).await;
    let took = killed_at.elapsed();
    assert!(took < Duration::from_millis(1500 + 2000), "bob left {took:?} after the kill");
}

#[tokio::test]
async fn a_node_shutting_down_takes_its_users_with_it_at_once() {
    let (port, channel) = (shared_redis(), unique_channel());
    // A down period far longer than the test: only the goodbye can make bob leave in time.
    let slow_down =
        PresenceConfig::default().broadcast_period(Duration::from_millis(100)).down_period(Duration::from_secs(600));
    let a = node_with(port, &channel, "a", slow_down.clone()).await;
    let b = node_with(port, &channel, "b", slow_down).await;
    let topic = "presence:goodbye";
    let mut alice = join(a.addr, topic, "alice").await;
    let _bob = join(b.addr, topic, "bob").await;
    let mut seen = BTreeMap::new();
    watch_until(&mut alice, &mut seen, |o| users(o) == [("alice", 1), ("bob", 1)]).await;
    b.endpoint.shutdown();
    watch_until(&mut alice, &mut seen, |o| users(o) == [("alice", 1)]).await;
    // And bob stays gone: the departed node's heartbeats no longer bring him back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    watch_until(&mut alice, &mut seen, |o| users(o) == [("alice", 1)]).await;
    alice.expect_silence(Duration::from_millis(300)).await;
}
