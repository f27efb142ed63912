//! Entry points for the fuzz targets (`fuzz/`) and the property tests (`tests/properties.rs`): thin wrappers
//! over the crate-private parsers and encoders, with no logic of their own. Not a public API: hidden, unstable,
//! and free to change with the parsers.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use serde_json::Value;

use crate::origin::{AllowedOrigin, CheckOrigin};
use crate::payload::Payload;
use crate::serializer::Message;
pub use crate::serializer::{Address, EncodeError, Frame, Serializer};
use crate::socket::ConnectParams;
use crate::token::{MaxAge, Token, TokenError, VerifyOptions};

/// A decoded client message, as the connection would dispatch it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// `join_ref`, `None` when null (text) or empty (binary).
    pub join_ref: Option<String>,
    /// `ref`, `None` when null (text) or empty (binary).
    pub ref_: Option<String>,
    /// The topic.
    pub topic: String,
    /// The event.
    pub event: String,
    /// The payload: JSON text for text frames, bytes for binary frames.
    pub payload: Payload,
}

impl From<Message> for Decoded {
    fn from(m: Message) -> Self {
        Decoded { join_ref: m.join_ref, ref_: m.ref_, topic: m.topic, event: m.event, payload: m.payload }
    }
}

fn serializer(v2: bool) -> Serializer {
    if v2 { Serializer::V2 } else { Serializer::V1 }
}

/// A V1 text frame, decoded (`{"topic","event","payload","ref"}`).
pub fn decode_v1(text: &str) -> Option<Decoded> {
    Serializer::V1.decode_text(text).ok().map(Decoded::from)
}

/// A V2 text frame, decoded (`[join_ref, ref, topic, event, payload]`).
pub fn decode_v2(text: &str) -> Option<Decoded> {
    Serializer::V2.decode_text(text).ok().map(Decoded::from)
}

/// A V2 binary frame from a client, decoded.
pub fn decode_binary(bytes: &[u8]) -> Option<Decoded> {
    Serializer::V2.decode_binary(Bytes::copy_from_slice(bytes)).ok().map(Decoded::from)
}

/// A message frame as the server encodes it (a push, `phx_close`, `phx_error`).
pub fn encode_message(v2: bool, to: Address<'_>, event: &str, payload: &Payload) -> Result<Frame, EncodeError> {
    serializer(v2).encode_message(to, event, payload)
}

/// A `phx_reply` frame as the server encodes it.
pub fn encode_reply(v2: bool, to: Address<'_>, status: &str, response: &Payload) -> Result<Frame, EncodeError> {
    serializer(v2).encode_reply(to, status, response)
}

/// A fastlaned broadcast frame as the server encodes it.
pub fn encode_broadcast(v2: bool, topic: &str, event: &str, payload: &Payload) -> Result<Frame, EncodeError> {
    serializer(v2).encode_broadcast(topic, event, payload)
}

/// The messages of a LongPoll POST body (one frame, or ndjson lines), or why it was refused.
pub fn longpoll_body(body: &[u8], ndjson: bool, v2: bool) -> Result<Vec<Decoded>, String> {
    let messages = crate::transport::longpoll::decode_body(&Bytes::copy_from_slice(body), ndjson, serializer(v2))?;
    Ok(messages.into_iter().map(Decoded::from).collect())
}

/// The connect params of a query string.
pub fn connect_params(query: &str) -> ConnectParams {
    ConnectParams::from_query(query)
}

/// [`Token::verify`] of `token` into JSON data.
pub fn verify_token(secret_key_base: &str, salt: &str, token: &str, max_age: MaxAge) -> Result<Value, TokenError> {
    Token::verify(secret_key_base, salt, token, max_age)
}

/// [`Token::verify_with`] with the max age embedded in the token.
pub fn verify_token_embedded_age(secret_key_base: &str, salt: &str, token: &str) -> Result<Value, TokenError> {
    Token::verify_with(secret_key_base, salt, token, VerifyOptions::new())
}

/// [`Token::sign`] of JSON data.
pub fn sign_token(secret_key_base: &str, salt: &str, data: &Value) -> String {
    Token::sign(secret_key_base, salt, data)
}

/// A token whose payload is `payload` as given (any bytes, not necessarily an Erlang term), correctly signed:
/// what reaches the term decoder once the signature check passes.
pub fn sign_raw_payload(secret_key_base: &str, salt: &str, payload: &[u8]) -> String {
    crate::token::sign_payload(&crate::token::derive_key(secret_key_base, salt), payload)
}

/// Whether a request with this `Origin` and `Host` may connect: checked against the host when `allowed` is
/// `None`, else against those patterns; `None` when a pattern is invalid.
pub fn check_origin(allowed: Option<&[&str]>, origin: Option<&str>, host: Option<&str>) -> Option<bool> {
    let check = match allowed {
        None => CheckOrigin::RequestHost,
        Some(patterns) => {
            CheckOrigin::Allow(patterns.iter().map(|p| AllowedOrigin::parse(p)).collect::<Option<Vec<_>>>()?)
        }
    };
    Some(check.allows(origin, host))
}

/// Standard or URL-safe base64, padded or not (LongPoll binary lines).
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    crate::transport::decode_base64(text)
}

/// URL-safe base64 without padding, as Phoenix.Token reads it.
pub fn base64_decode_url(text: &str) -> Option<Vec<u8>> {
    crate::token::decode_url(text)
}

/// URL-safe base64 without padding, as Phoenix.Token writes it.
pub fn base64_encode_url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
