//! `{{channel_type}}`, through a real connection of UserSocket without a network
//! (`channels::testing`).

use channels::testing::{Joined, TestClient, TestEndpoint};
use serde_json::json;

use {{crate_name}}::config::Config;
use {{crate_name}}::web::UserSocket;

type Client = TestClient<UserSocket>;

/// A client of a fresh endpoint, joined to `{{topic}}:lobby` and subscribed to its broadcasts.
async fn joined() -> (TestEndpoint<UserSocket>, Client, Joined) {
    let endpoint = TestEndpoint::<UserSocket>::new().state(Config::from_env());
    let mut client = endpoint.connect(&[]).await.expect("connect");
    let topic = client.subscribe_and_join("{{topic}}:lobby", json!({})).await;
    (endpoint, client, topic.expect("join {{topic}}:lobby"))
}

#[tokio::test]
async fn ping_replies_with_status_ok() {
    let (_endpoint, mut client, topic) = joined().await;
    let hello = json!({"hello": "there"});
    let push = client.push(&topic, "ping", &hello).await;
    client.assert_reply(&push, "ok", hello).await;
}

#[tokio::test]
async fn shout_broadcasts_to_the_topic() {
    let (_endpoint, mut client, topic) = joined().await;
    let hello = json!({"hello": "all"});
    client.push(&topic, "shout", &hello).await;
    client.assert_broadcast("shout", hello).await;
}

#[tokio::test]
async fn broadcasts_are_pushed_to_the_client() {
    let (endpoint, mut client, _topic) = joined().await;
    let payload = json!({"some": "data"});
    let pubsub = endpoint.pubsub();
    pubsub.broadcast("{{topic}}:lobby", "broadcast", &payload);
    client.assert_push("broadcast", payload).await;
}
