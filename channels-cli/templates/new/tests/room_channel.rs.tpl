//! RoomChannel, through real connections of UserSocket without a network: `channels::testing`,
//! the counterpart of Phoenix's `ChannelTest`.

use std::time::Duration;

use channels::testing::TestEndpoint;
use serde_json::json;

use {{crate_name}}::web::UserSocket;

#[tokio::test]
async fn new_msg_is_broadcast_to_everyone_in_the_room() {
    let endpoint = TestEndpoint::<UserSocket>::new();
    let mut alice = endpoint.connect(&[]).await.expect("connect");
    let mut bob = endpoint.connect(&[]).await.expect("connect");
    let lobby = alice.subscribe_and_join("rooms:lobby", json!({})).await;
    let lobby = lobby.expect("join rooms:lobby");
    bob.join("rooms:lobby", json!({})).await.expect("join");

    let msg = json!({"body": "hi"});
    alice.push(&lobby, "new_msg", &msg).await;

    alice.assert_broadcast("new_msg", &msg).await;
    alice.assert_push("new_msg", &msg).await;
    bob.assert_push("new_msg", &msg).await;
}

#[tokio::test]
async fn other_rooms_are_private() {
    let endpoint = TestEndpoint::<UserSocket>::new();
    let mut client = endpoint.connect(&[]).await.expect("connect");

    let refusal = client.join("rooms:secret", json!({})).await;

    let refusal = refusal.expect_err("rooms:secret must refuse the join");
    let refusal: serde_json::Value = refusal.deserialize().expect("a JSON reply");
    assert_eq!(refusal, json!({"reason": "unauthorized"}));
}

#[tokio::test]
async fn a_message_without_a_body_is_refused_and_not_broadcast() {
    let endpoint = TestEndpoint::<UserSocket>::new();
    let mut client = endpoint.connect(&[]).await.expect("connect");
    let lobby = client.subscribe_and_join("rooms:lobby", json!({})).await;
    let lobby = lobby.expect("join rooms:lobby");

    let push = client.push(&lobby, "new_msg", json!({"text": "hi"})).await;

    client.assert_reply_matching(&push, "error", |_| true).await;
    let within = Duration::from_millis(50);
    client.refute_broadcast("new_msg", within).await;
}
