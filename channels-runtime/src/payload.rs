//! Payloads: the body of every message, either JSON text or raw bytes.

use std::fmt;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

/// The payload of a message: JSON (kept as its text, parsed only when a handler asks for a type) or binary.
///
/// Incoming payloads arrive as they were on the wire; outgoing payloads are serialized once, when they are
/// made, so a broadcast to many subscribers never serializes twice.
///
/// ```
/// use channels_runtime::payload::Payload;
///
/// let p = Payload::json(&serde_json::json!({"body": "hi"}));
/// assert_eq!(p.as_json(), Some(r#"{"body":"hi"}"#));
/// let v: serde_json::Value = p.deserialize().unwrap();
/// assert_eq!(v["body"], "hi");
/// ```
#[derive(Clone)]
pub enum Payload {
    /// JSON text, valid by construction.
    Json(Box<RawValue>),
    /// Raw bytes, sent in a binary frame.
    Binary(Bytes),
}

impl Payload {
    /// The empty JSON object `{}`.
    pub fn empty() -> Self {
        Payload::Json(empty_object())
    }

    /// Serializes `value` to JSON.
    ///
    /// # Panics
    /// When `value` cannot be represented as JSON (a map with non-string keys, a failing `Serialize` impl). Inside
    /// a channel callback the panic crashes only that channel, as Phoenix does when a payload is not a map.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Self {
        match Self::try_json(value) {
            Ok(p) => p,
            Err(e) => panic!("payload is not serializable to JSON: {e}"),
        }
    }

    /// Serializes `value` to JSON, returning the error instead of panicking.
    pub fn try_json<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::value::to_raw_value(value).map(Payload::Json)
    }

    /// Wraps raw bytes as a binary payload.
    pub fn binary(bytes: impl Into<Bytes>) -> Self {
        Payload::Binary(bytes.into())
    }

    /// The JSON text, if this is a JSON payload.
    pub fn as_json(&self) -> Option<&str> {
        match self {
            Payload::Json(raw) => Some(raw.get()),
            Payload::Binary(_) => None,
        }
    }

    /// The bytes, if this is a binary payload.
    pub fn as_binary(&self) -> Option<&Bytes> {
        match self {
            Payload::Json(_) => None,
            Payload::Binary(b) => Some(b),
        }
    }

    /// Deserializes a JSON payload into `T`. A binary payload is an error.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        match self {
            Payload::Json(raw) => serde_json::from_str(raw.get()).map_err(PayloadError::Json),
            Payload::Binary(_) => Err(PayloadError::Binary),
        }
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Payload::Json(a), Payload::Json(b)) => a.get() == b.get(),
            (Payload::Binary(a), Payload::Binary(b)) => a == b,
            _ => false,
        }
    }
}

impl Default for Payload {
    fn default() -> Self {
        Payload::empty()
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Payload::Json(raw) => write!(f, "Json({})", raw.get()),
            Payload::Binary(b) => write!(f, "Binary({} bytes)", b.len()),
        }
    }
}

impl From<serde_json::Value> for Payload {
    fn from(value: serde_json::Value) -> Self {
        Payload::json(&value)
    }
}

impl From<Bytes> for Payload {
    fn from(bytes: Bytes) -> Self {
        Payload::Binary(bytes)
    }
}

/// Why a payload could not be turned into the type a handler asked for.
#[derive(Debug)]
pub enum PayloadError {
    /// The JSON did not match the type.
    Json(serde_json::Error),
    /// A JSON type was asked for, but the payload is binary.
    Binary,
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadError::Json(e) => write!(f, "{e}"),
            PayloadError::Binary => f.write_str("expected a JSON payload, got a binary one"),
        }
    }
}

impl std::error::Error for PayloadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PayloadError::Json(e) => Some(e),
            PayloadError::Binary => None,
        }
    }
}

pub(crate) fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).expect("`{}` is valid JSON")
}

/// Anything that can be sent as a payload: a [`Payload`], [`Bytes`] (binary), or a reference to any
/// `Serialize` value (serialized to JSON once, here).
///
/// ```
/// use channels_runtime::payload::{IntoPayload, Payload};
///
/// #[derive(serde::Serialize)]
/// struct Msg { body: &'static str }
///
/// assert_eq!((&Msg { body: "hi" }).into_payload().as_json(), Some(r#"{"body":"hi"}"#));
/// assert!(bytes::Bytes::from_static(b"\x01").into_payload().as_binary().is_some());
/// ```
pub trait IntoPayload {
    /// Makes the payload.
    fn into_payload(self) -> Payload;
}

impl IntoPayload for Payload {
    fn into_payload(self) -> Payload {
        self
    }
}

impl IntoPayload for &Payload {
    fn into_payload(self) -> Payload {
        self.clone()
    }
}

impl IntoPayload for serde_json::Value {
    fn into_payload(self) -> Payload {
        Payload::json(&self)
    }
}

impl IntoPayload for Bytes {
    fn into_payload(self) -> Payload {
        Payload::Binary(self)
    }
}

impl<T: Serialize + ?Sized> IntoPayload for &T {
    fn into_payload(self) -> Payload {
        Payload::json(self)
    }
}
