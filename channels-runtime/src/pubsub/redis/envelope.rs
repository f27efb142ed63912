//! The message nodes send each other through Redis: a compact, versioned binary envelope.
//!
//! Why not JSON or Erlang terms: the payload is already JSON text (or raw bytes) and travels verbatim, so
//! nothing is escaped, parsed or copied into a document twice; the header is a handful of length-prefixed
//! strings. The leading version byte lets a node tell a format it does not know (a newer node during a rolling
//! upgrade) from garbage, and ignore it with a clear warning.
//!
//! Layout (integers big-endian):
//!
//! | bytes   | field                                                                                 |
//! |---------|---------------------------------------------------------------------------------------|
//! | 1       | version: 1                                                                            |
//! | 1       | flags: bit 0 direct (only the target node accepts it), bit 1 binary payload (else JSON) |
//! | 1 + n   | origin node name: its length n (1..=255), then UTF-8                                  |
//! | 1 + m   | target node name, direct messages only: length m (1..=255), then UTF-8                |
//! | 4 + t   | topic: length, then UTF-8                                                             |
//! | 4 + e   | event: length, then UTF-8                                                             |
//! | rest    | payload: JSON text or raw bytes                                                       |
//!
//! Decoding trusts nothing: every length is checked against what is left, every string is validated as UTF-8
//! and a JSON payload must parse, so a corrupt or foreign message is an error, never a panic or a bad frame
//! sent to clients.

use std::fmt;

use bytes::Bytes;
use serde_json::value::RawValue;

use crate::payload::Payload;
use crate::pubsub::Broadcast;

/// The format this code writes and reads.
pub(super) const VERSION: u8 = 1;
/// Longest node name the envelope can carry.
pub(super) const MAX_NODE_NAME: usize = u8::MAX as usize;

const DIRECT: u8 = 0b01;
const BINARY: u8 = 0b10;

/// Which nodes accept a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route<'a> {
    /// Every node but the origin (`broadcast`).
    Others,
    /// The named node only, even when it is the origin (`direct_broadcast`).
    Only(&'a str),
}

/// Encodes `broadcast` from the node `origin`. `None` when a field is too long for the format (a node name
/// over 255 bytes, a topic or event over 4 GiB).
pub(super) fn encode(origin: &str, route: Route<'_>, broadcast: &Broadcast) -> Option<Vec<u8>> {
    let (kind, payload) = match &broadcast.payload {
        Payload::Json(raw) => (0, raw.get().as_bytes()),
        Payload::Binary(bytes) => (BINARY, &bytes[..]),
    };
    let target = match route {
        Route::Others => None,
        Route::Only(node) => Some(node),
    };
    let len = 2
        + 1
        + origin.len()
        + target.map_or(0, |t| 1 + t.len())
        + 4
        + broadcast.topic.len()
        + 4
        + broadcast.event.len()
        + payload.len();
    let mut out = Vec::with_capacity(len);
    out.push(VERSION);
    out.push(kind | if target.is_some() { DIRECT } else { 0 });
    put_short(&mut out, origin)?;
    if let Some(target) = target {
        put_short(&mut out, target)?;
    }
    put_long(&mut out, &broadcast.topic)?;
    put_long(&mut out, &broadcast.event)?;
    out.extend_from_slice(payload);
    Some(out)
}

fn put_short(out: &mut Vec<u8>, s: &str) -> Option<()> {
    out.push(u8::try_from(s.len()).ok().filter(|&n| n > 0)?);
    out.extend_from_slice(s.as_bytes());
    Some(())
}

fn put_long(out: &mut Vec<u8>, s: &str) -> Option<()> {
    out.extend_from_slice(&u32::try_from(s.len()).ok()?.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Some(())
}

/// A decoded header, borrowing the message; the payload is checked only by [`into_broadcast`], so messages
/// meant for other nodes cost no JSON validation.
///
/// [`into_broadcast`]: Envelope::into_broadcast
#[derive(Debug)]
pub(super) struct Envelope<'a> {
    pub(super) origin: &'a str,
    pub(super) route: Route<'a>,
    pub(super) topic: &'a str,
    pub(super) event: &'a str,
    binary: bool,
    payload: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// Reads the header of `message`.
    pub(super) fn decode(message: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader(message);
        let version = r.byte()?;
        if version != VERSION {
            return Err(DecodeError::Version(version));
        }
        let flags = r.byte()?;
        if flags & !(DIRECT | BINARY) != 0 {
            return Err(DecodeError::Flags(flags));
        }
        let origin = r.short("origin")?;
        let route = if flags & DIRECT != 0 { Route::Only(r.short("target")?) } else { Route::Others };
        let topic = r.long("topic")?;
        let event = r.long("event")?;
        Ok(Envelope { origin, route, topic, event, binary: flags & BINARY != 0, payload: r.0 })
    }

    /// Whether the node named `node` should deliver this message.
    pub(super) fn is_for(&self, node: &str) -> bool {
        match self.route {
            Route::Others => self.origin != node,
            Route::Only(target) => target == node,
        }
    }

    /// The broadcast, after checking that a JSON payload is valid JSON.
    pub(super) fn into_broadcast(self) -> Result<Broadcast, DecodeError> {
        let payload = if self.binary {
            Payload::Binary(Bytes::copy_from_slice(self.payload))
        } else {
            let text = std::str::from_utf8(self.payload).map_err(|_| DecodeError::Utf8("payload"))?;
            Payload::Json(RawValue::from_string(text.to_owned()).map_err(DecodeError::Json)?)
        };
        Ok(Broadcast { topic: self.topic.to_owned(), event: self.event.to_owned(), payload })
    }
}

/// Reads fields off the front of a message.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated(field));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1, "header")?[0])
    }

    fn short(&mut self, field: &'static str) -> Result<&'a str, DecodeError> {
        let n = self.take(1, field)?[0] as usize;
        if n == 0 {
            return Err(DecodeError::Empty(field));
        }
        self.string(n, field)
    }

    fn long(&mut self, field: &'static str) -> Result<&'a str, DecodeError> {
        let len = self.take(4, field)?;
        let n = u32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        // A length that does not fit in usize cannot fit in what is left either.
        self.string(usize::try_from(n).unwrap_or(usize::MAX), field)
    }

    fn string(&mut self, n: usize, field: &'static str) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.take(n, field)?).map_err(|_| DecodeError::Utf8(field))
    }
}

/// Why a message from Redis was ignored.
#[derive(Debug)]
pub(super) enum DecodeError {
    /// A format version this node does not speak.
    Version(u8),
    /// Unknown flag bits.
    Flags(u8),
    /// The message ends inside this field.
    Truncated(&'static str),
    /// A node name of length 0.
    Empty(&'static str),
    /// This field is not UTF-8.
    Utf8(&'static str),
    /// The payload is flagged JSON but is not.
    Json(serde_json::Error),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Version(v) => write!(f, "envelope version {v}, this node speaks {VERSION}"),
            DecodeError::Flags(flags) => write!(f, "unknown flags {flags:#04x}"),
            DecodeError::Truncated(field) => write!(f, "message ends inside the {field}"),
            DecodeError::Empty(field) => write!(f, "empty {field}"),
            DecodeError::Utf8(field) => write!(f, "the {field} is not UTF-8"),
            DecodeError::Json(e) => write!(f, "the payload is not JSON: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(topic: &str, event: &str, text: &str) -> Broadcast {
        Broadcast {
            topic: topic.into(),
            event: event.into(),
            payload: Payload::Json(RawValue::from_string(text.into()).unwrap()),
        }
    }

    fn roundtrip(origin: &str, route: Route<'_>, b: &Broadcast) -> Broadcast {
        let bytes = encode(origin, route, b).unwrap();
        let env = Envelope::decode(&bytes).unwrap();
        assert_eq!((env.origin, env.route), (origin, route));
        env.into_broadcast().unwrap()
    }

    #[test]
    fn json_binary_and_direct_round_trip() {
        let b = json("rooms:lobby", "new_msg", r#"{"body":"héllo"}"#);
        assert_eq!(roundtrip("node-a", Route::Others, &b), b);
        let bin = Broadcast { topic: "t".into(), event: "e".into(), payload: Payload::binary(vec![0u8, 255, 1]) };
        assert_eq!(roundtrip("a", Route::Only("b"), &bin), bin);
        let empty_topic = json("", "", "{}");
        assert_eq!(roundtrip("a", Route::Only("a"), &empty_topic), empty_topic);
    }

    #[test]
    fn layout_is_the_documented_one() {
        let bytes = encode("a", Route::Only("bc"), &json("t", "ev", "1")).unwrap();
        assert_eq!(bytes, b"\x01\x01\x01a\x02bc\0\0\0\x01t\0\0\0\x02ev1");
    }

    #[test]
    fn routes_pick_their_nodes() {
        let b = json("t", "e", "{}");
        let others = encode("a", Route::Others, &b).unwrap();
        let direct = encode("a", Route::Only("b"), &b).unwrap();
        let to_self = encode("a", Route::Only("a"), &b).unwrap();
        let accepts = |bytes: &[u8], node| Envelope::decode(bytes).unwrap().is_for(node);
        assert!(!accepts(&others, "a") && accepts(&others, "b") && accepts(&others, "c"));
        assert!(!accepts(&direct, "a") && accepts(&direct, "b") && !accepts(&direct, "c"));
        assert!(accepts(&to_self, "a") && !accepts(&to_self, "b"));
    }

    #[test]
    fn names_too_long_for_the_format_are_refused() {
        let b = json("t", "e", "{}");
        assert!(encode(&"n".repeat(MAX_NODE_NAME), Route::Others, &b).is_some());
        assert!(encode(&"n".repeat(MAX_NODE_NAME + 1), Route::Others, &b).is_none());
        assert!(encode("a", Route::Only(""), &b).is_none());
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = encode("a", Route::Only("b"), &json("topic", "event", r#"{"k":[1,2]}"#)).unwrap();
        for n in 0..bytes.len() {
            let decoded = Envelope::decode(&bytes[..n]).and_then(Envelope::into_broadcast);
            assert!(decoded.is_err(), "prefix of {n} bytes decoded");
        }
    }

    #[test]
    fn corrupt_messages_are_errors() {
        let good = encode("a", Route::Others, &json("t", "e", "{}")).unwrap();
        let with = |i: usize, v: u8| {
            let mut m = good.clone();
            m[i] = v;
            Envelope::decode(&m).and_then(Envelope::into_broadcast).unwrap_err().to_string()
        };
        assert_eq!(with(0, 2), "envelope version 2, this node speaks 1");
        assert_eq!(with(1, 4), "unknown flags 0x04");
        assert_eq!(with(2, 0), "empty origin");
        assert_eq!(with(3, 0xff), "the origin is not UTF-8");
        assert!(with(good.len() - 1, b'{').starts_with("the payload is not JSON"));
        assert_eq!(with(7, 0xff), "message ends inside the topic");
    }

    #[test]
    fn random_bytes_never_panic() {
        // xorshift: deterministic, no dependency.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let good = encode("node", Route::Only("other"), &json("rooms:1", "msg", r#"{"a":1}"#)).unwrap();
        for _ in 0..20_000 {
            let mut message = if next() % 2 == 0 { good.clone() } else { vec![0; (next() % 40) as usize] };
            for _ in 0..1 + next() % 4 {
                if !message.is_empty() {
                    let i = (next() % message.len() as u64) as usize;
                    message[i] = next() as u8;
                }
            }
            let _ = Envelope::decode(&message).and_then(Envelope::into_broadcast);
        }
    }
}
