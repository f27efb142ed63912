//! Serializers: how messages become frames and frames become messages.
//!
//! Phoenix negotiates one serializer per connection from the `vsn` query parameter: `1.0.x` (or no `vsn`) is the
//! legacy JSON object format, `2.0.x` the JSON array format that the `phoenix` npm client speaks, which also
//! carries binary payloads in binary frames. Outgoing frames are built by hand from payloads that are already
//! JSON text, so encoding never walks a value tree.

mod binary;
mod v1;
mod v2;

use std::fmt;

use bytes::Bytes;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::payload::Payload;

/// A wire format, chosen per connection from the `vsn` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Serializer {
    /// `vsn=1.0.x` or no `vsn`: JSON objects `{"topic","event","payload","ref"}`.
    V1,
    /// `vsn=2.0.x`: JSON arrays `[join_ref, ref, topic, event, payload]`, and binary frames.
    V2,
}

/// Number of serializers, for per-serializer caches indexed by [`Serializer::index`].
pub(crate) const COUNT: usize = 2;

/// Where a message goes: the channel incarnation (`join_ref`), the client message it answers (`ref_`), the topic.
#[derive(Debug, Clone, Copy)]
pub struct Address<'a> {
    /// The join_ref of the channel, if any.
    pub join_ref: Option<&'a str>,
    /// The ref of the message answered, if any.
    pub ref_: Option<&'a str>,
    /// The topic.
    pub topic: &'a str,
}

impl Serializer {
    /// Picks the serializer for a `vsn` query value the way Phoenix does: `~> 1.0.0` or `~> 2.0.0`, absent
    /// meaning `1.0.0`. Anything else (for example `2.1.0` or `abc`) has no serializer.
    pub fn negotiate(vsn: Option<&str>) -> Option<Self> {
        let vsn = vsn.unwrap_or("1.0.0");
        let mut parts = vsn.splitn(3, '.');
        let major = parts.next()?;
        let minor = parts.next()?;
        let patch = parts.next()?;
        // The patch may carry a pre-release or build suffix, as in semver.
        let patch_digits = patch.split(['-', '+']).next()?;
        if !is_number(patch_digits) || minor != "0" {
            return None;
        }
        match major {
            "1" => Some(Serializer::V1),
            "2" => Some(Serializer::V2),
            _ => None,
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Serializer::V1 => 0,
            Serializer::V2 => 1,
        }
    }

    /// Decodes a text frame.
    pub(crate) fn decode_text(self, text: &str) -> Result<Message, DecodeError> {
        match self {
            Serializer::V1 => v1::decode(text),
            Serializer::V2 => v2::decode(text),
        }
    }

    /// Decodes a binary frame; only V2 has binary frames.
    pub(crate) fn decode_binary(self, bytes: Bytes) -> Result<Message, DecodeError> {
        match self {
            Serializer::V1 => Err(DecodeError::new("binary frames need vsn 2.0.0")),
            Serializer::V2 => binary::decode(bytes),
        }
    }

    /// A message that is not a reply: a push (`ref` null), or `phx_close`/`phx_error` (`ref` = join_ref).
    pub(crate) fn encode_message(self, to: Address<'_>, event: &str, payload: &Payload) -> Result<Frame, EncodeError> {
        match (self, payload) {
            (Serializer::V1, Payload::Json(p)) => Ok(v1::message(to, event, p.get())),
            (Serializer::V2, Payload::Json(p)) => Ok(v2::message(to, event, p.get())),
            (Serializer::V2, Payload::Binary(b)) => binary::push(to, event, b),
            (Serializer::V1, Payload::Binary(_)) => Err(EncodeError::BinaryNeedsV2),
        }
    }

    /// A `phx_reply` to the message whose ref is `to.ref_`.
    pub(crate) fn encode_reply(self, to: Address<'_>, status: &str, response: &Payload) -> Result<Frame, EncodeError> {
        match (self, response) {
            (Serializer::V1, Payload::Json(p)) => Ok(v1::reply(to, status, p.get())),
            (Serializer::V2, Payload::Json(p)) => Ok(v2::reply(to, status, p.get())),
            (Serializer::V2, Payload::Binary(b)) => binary::reply(to, status, b),
            (Serializer::V1, Payload::Binary(_)) => Err(EncodeError::BinaryNeedsV2),
        }
    }

    pub(crate) fn encode_broadcast(self, topic: &str, event: &str, payload: &Payload) -> Result<Frame, EncodeError> {
        match (self, payload) {
            (Serializer::V2, Payload::Binary(b)) => binary::broadcast(topic, event, b),
            _ => self.encode_message(Address { join_ref: None, ref_: None, topic }, event, payload),
        }
    }
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// One decoded client message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    pub join_ref: Option<String>,
    pub ref_: Option<String>,
    pub topic: String,
    pub event: String,
    pub payload: Payload,
}

/// An encoded frame, cheap to clone: the same bytes go to every subscriber of a broadcast.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    /// A text frame.
    Text(Utf8Bytes),
    /// A binary frame.
    Binary(Bytes),
}

impl Frame {
    /// The frame's size in bytes.
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(t) => t.len(),
            Frame::Binary(b) => b.len(),
        }
    }

    /// Whether the frame has no bytes (never the case for frames the serializers make).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A frame that is not a valid message for the connection's serializer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(String);

impl DecodeError {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        DecodeError(reason.into())
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed frame: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

/// A message that cannot be put in a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// Binary payloads exist only in the V2 serializer.
    BinaryNeedsV2,
    /// A binary frame's header field is longer than 255 bytes.
    FieldTooLong(&'static str),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BinaryNeedsV2 => f.write_str("binary payloads need the V2 serializer"),
            EncodeError::FieldTooLong(field) => {
                write!(f, "{field} is longer than 255 bytes, the limit of binary frames")
            }
        }
    }
}

impl std::error::Error for EncodeError {}

/// Appends `s` as a JSON string.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // Writing a &str into a Vec cannot fail.
    serde_json::to_writer(&mut *out, s).expect("writing a string to a Vec");
}

fn push_json_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => push_json_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn text_frame(bytes: Vec<u8>) -> Frame {
    // Only ever called with JSON built from &str pieces, so the bytes are UTF-8.
    let text = String::from_utf8(bytes).expect("frames are built from UTF-8 pieces");
    Frame::Text(Utf8Bytes::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_like_phoenix() {
        assert_eq!(Serializer::negotiate(None), Some(Serializer::V1));
        assert_eq!(Serializer::negotiate(Some("1.0.0")), Some(Serializer::V1));
        assert_eq!(Serializer::negotiate(Some("2.0.7")), Some(Serializer::V2));
        assert_eq!(Serializer::negotiate(Some("2.0.0-rc.1")), Some(Serializer::V2));
        for bad in ["2.1.0", "3.0.0", "123.1.1", "2.0", "", "abc", "2.0.x", "1.1.0"] {
            assert_eq!(Serializer::negotiate(Some(bad)), None, "{bad}");
        }
    }
}
