//! RoomChannel, through real connections of UserSocket without a network: `channels::testing`,
//! the counterpart of Phoenix's `ChannelTest`.

use std::time::Duration;

use channels::testing::TestEndpoint;
use channels::token::Token;
use serde_json::json;

use {{crate_name}}::config::{Config, USER_TOKEN_SALT};
use {{crate_name}}::web::UserSocket;

#[tokio::test]
async fn new_msg_is_broadcast_to_everyone_in_the_room() {
    let endpoint = TestEndpoint::<UserSocket>::new().state(Config::from_env());
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
    let endpoint = TestEndpoint::<UserSocket>::new().state(Config::from_env());
    let mut client = endpoint.connect(&[]).await.expect("connect");

    let refusal = client.join("rooms:secret", json!({})).await;

    let refusal = refusal.expect_err("rooms:secret must refuse the join");
    let refusal: serde_json::Value = refusal.deserialize().expect("a JSON reply");
    assert_eq!(refusal, json!({"reason": "unauthorized"}));
}

#[tokio::test]
async fn a_message_without_a_body_is_refused_and_not_broadcast() {
    let endpoint = TestEndpoint::<UserSocket>::new().state(Config::from_env());
    let mut client = endpoint.connect(&[]).await.expect("connect");
    let lobby = client.subscribe_and_join("rooms:lobby", json!({})).await;
    let lobby = lobby.expect("join rooms:lobby");

    let push = client.push(&lobby, "new_msg", json!({"text": "hi"})).await;

    client.assert_reply_matching(&push, "error", |_| true).await;
    let within = Duration::from_millis(50);
    client.refute_broadcast("new_msg", within).await;
}

#[tokio::test]
async fn a_token_names_the_user_and_a_forged_one_is_refused() {
    let config = Config::from_env();
    let token = Token::sign(&config.secret_key_base, USER_TOKEN_SALT, "42");
    let endpoint = TestEndpoint::<UserSocket>::new().state(config);

    let alice = endpoint
        .connect(&[("token", &token)])
        .await
        .expect("a valid token connects");
    let anonymous = endpoint.connect(&[]).await.expect("no token connects");
    let forged = endpoint.connect(&[("token", "forged")]).await;

    assert_eq!(alice.assigns().user_id.as_deref(), Some("42"));
    assert_eq!(anonymous.assigns().user_id, None);
    assert_eq!(
        forged.expect_err("a forged token is refused").status_code(),
        401
    );
}
