//! V2 binary frames: a kind byte, u8 lengths, the strings, then the raw payload.
//!
//! | kind | direction | header |
//! |---|---|---|
//! | 0 push | client → server | join_ref, ref, topic, event |
//! | 0 push | server → client | join_ref, topic, event (no ref) |
//! | 1 reply | server → client | join_ref, ref, topic, status |
//! | 2 broadcast | server → client | topic, event |

use bytes::Bytes;

use super::{Address, DecodeError, EncodeError, Frame, Message};
use crate::payload::Payload;

const PUSH: u8 = 0;
const REPLY: u8 = 1;
const BROADCAST: u8 = 2;

pub(super) fn decode(frame: Bytes) -> Result<Message, DecodeError> {
    let (&kind, rest) = frame.split_first().ok_or_else(|| DecodeError::new("empty binary frame"))?;
    if kind != PUSH {
        return Err(DecodeError::new(format!("binary frame kind {kind}, clients may only send pushes (0)")));
    }
    let header = rest.get(..4).ok_or_else(|| DecodeError::new("binary push header is shorter than 4 bytes"))?;
    let lens = [header[0], header[1], header[2], header[3]].map(usize::from);
    let mut at = 5;
    let mut field = |name: &str, len: usize| -> Result<String, DecodeError> {
        let bytes =
            frame.get(at..at + len).ok_or_else(|| DecodeError::new(format!("binary push {name} is cut short")))?;
        at += len;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::new(format!("binary push {name} is not UTF-8")))
    };
    let join_ref = field("join_ref", lens[0])?;
    let ref_ = field("ref", lens[1])?;
    let topic = field("topic", lens[2])?;
    let event = field("event", lens[3])?;
    let payload = frame.slice(at..);
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    Ok(Message {
        join_ref: non_empty(join_ref),
        ref_: non_empty(ref_),
        topic,
        event,
        payload: Payload::Binary(payload),
    })
}

pub(super) fn push(to: Address<'_>, event: &str, payload: &Bytes) -> Result<Frame, EncodeError> {
    let fields = [("join_ref", to.join_ref.unwrap_or("")), ("topic", to.topic), ("event", event)];
    build(PUSH, &fields, payload)
}

pub(super) fn reply(to: Address<'_>, status: &str, payload: &Bytes) -> Result<Frame, EncodeError> {
    let (join_ref, ref_) = (to.join_ref.unwrap_or(""), to.ref_.unwrap_or(""));
    let fields = [("join_ref", join_ref), ("ref", ref_), ("topic", to.topic), ("status", status)];
    build(REPLY, &fields, payload)
}

pub(super) fn broadcast(topic: &str, event: &str, payload: &Bytes) -> Result<Frame, EncodeError> {
    build(BROADCAST, &[("topic", topic), ("event", event)], payload)
}

fn build(kind: u8, fields: &[(&'static str, &str)], payload: &Bytes) -> Result<Frame, EncodeError> {
    let strings: usize = fields.iter().map(|(_, s)| s.len()).sum();
    let mut out = Vec::with_capacity(1 + fields.len() + strings + payload.len());
    out.push(kind);
    for (name, s) in fields {
        out.push(u8::try_from(s.len()).map_err(|_| EncodeError::FieldTooLong(name))?);
    }
    for (_, s) in fields {
        out.extend_from_slice(s.as_bytes());
    }
    out.extend_from_slice(payload);
    Ok(Frame::Binary(out.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_phoenix_example() {
        let mut f = vec![0, 2, 3, 5, 5];
        f.extend_from_slice(b"12123topicevent");
        f.extend_from_slice(&[0x65, 0x66, 0x67]);
        let m = decode(Bytes::from(f)).unwrap();
        assert_eq!(m.join_ref.as_deref(), Some("12"));
        assert_eq!(m.ref_.as_deref(), Some("123"));
        assert_eq!((m.topic.as_str(), m.event.as_str()), ("topic", "event"));
        assert_eq!(m.payload, Payload::binary(&b"efg"[..]));
    }

    #[test]
    fn rejects_truncated_and_wrong_kinds() {
        for bad in [&[][..], &[1, 0, 0, 0, 0], &[0, 1, 2], &[0, 5, 0, 0, 0, b'a'], &[0, 0, 0, 1, 0, 0xff]] {
            assert!(decode(Bytes::copy_from_slice(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn encodes_phoenix_examples() {
        let p = Bytes::from_static(b"efg");
        let Frame::Binary(b) =
            reply(Address { join_ref: Some("12"), ref_: Some("123"), topic: "topic" }, "ok", &p).unwrap()
        else {
            panic!()
        };
        assert_eq!(&b[..], b"\x01\x02\x03\x05\x0212123topicokefg");
        let Frame::Binary(b) = broadcast("topic", "event", &p).unwrap() else { panic!() };
        assert_eq!(&b[..], b"\x02\x05\x05topiceventefg");
        let long = "x".repeat(256);
        assert_eq!(
            push(Address { join_ref: None, ref_: None, topic: &long }, "e", &p),
            Err(EncodeError::FieldTooLong("topic"))
        );
    }
}
