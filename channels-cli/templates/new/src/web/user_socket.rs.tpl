//! The socket handler: who may connect, and which channel serves each topic.

use channels::prelude::*;
use channels::token::{MaxAge, Token};
use serde_json::json;

use crate::config::{Config, USER_TOKEN_MAX_AGE_SECS, USER_TOKEN_SALT};

// The channel types, which `web/mod.rs` re-exports, for the routes below.
use super::*;

/// A client connection. Its fields are the connection's assigns, which every channel of the
/// connection can read (as an `assigns: &UserSocket` handler parameter).
pub struct UserSocket {
    /// The user a valid token named; `None` for an anonymous visitor.
    pub user_id: Option<String>,
}

#[socket]
impl UserSocket {
    // Topics to channels: an exact topic, or a prefix ending in `*`. The first matching route wins.
    channel!("rooms:*" => RoomChannel);
    // `channels gen channel NAME` adds its route above this line.

    /// Accepts anonymous visitors. A page that knows its user passes a token signed with the same
    /// secret (`Token::sign(&config.secret_key_base, USER_TOKEN_SALT, &user_id)`, then
    /// `new Socket("/socket", {params: {token}})`); a token that does not verify is refused with a
    /// reason, which the client sees as HTTP 401.
    async fn connect(
        params: &ConnectParams,
        _info: &ConnectInfo,
        config: State<Config>,
    ) -> Result<Self, Refuse> {
        let Some(token) = params.get("token") else {
            return Ok(UserSocket { user_id: None });
        };
        let max_age = MaxAge::Seconds(USER_TOKEN_MAX_AGE_SECS);
        match Token::verify(&config.secret_key_base, USER_TOKEN_SALT, token, max_age) {
            Ok(user_id) => Ok(UserSocket {
                user_id: Some(user_id),
            }),
            Err(e) => Err(Refuse::status(401).json(json!({"reason": e.to_string()}))),
        }
    }
}
