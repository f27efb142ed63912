//! The V2 JSON array format: `[join_ref, ref, topic, event, payload]`.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{Address, DecodeError, Frame, Message, push_json_opt_str, push_json_str, text_frame};
use crate::payload::Payload;

pub(super) fn decode(text: &str) -> Result<Message, DecodeError> {
    let frame: Array<'_> = serde_json::from_str(text).map_err(|e| DecodeError::new(e.to_string()))?;
    Ok(Message {
        join_ref: frame.join_ref.map(Cow::into_owned),
        ref_: frame.ref_.map(Cow::into_owned),
        topic: frame.topic.into_owned(),
        event: frame.event.into_owned(),
        payload: Payload::Json(frame.payload.to_owned()),
    })
}

pub(super) fn message(to: Address<'_>, event: &str, payload: &str) -> Frame {
    let mut out = Vec::with_capacity(16 + to.topic.len() + event.len() + payload.len());
    push_head(&mut out, to);
    out.push(b',');
    push_json_str(&mut out, event);
    out.push(b',');
    out.extend_from_slice(payload.as_bytes());
    out.push(b']');
    text_frame(out)
}

pub(super) fn reply(to: Address<'_>, status: &str, response: &str) -> Frame {
    let mut out = Vec::with_capacity(64 + to.topic.len() + response.len());
    push_head(&mut out, to);
    out.extend_from_slice(br#","phx_reply",{"response":"#);
    out.extend_from_slice(response.as_bytes());
    out.extend_from_slice(br#","status":"#);
    push_json_str(&mut out, status);
    out.extend_from_slice(b"}]");
    text_frame(out)
}

/// `[join_ref,ref,topic`: how every V2 frame the server sends begins.
fn push_head(out: &mut Vec<u8>, to: Address<'_>) {
    out.push(b'[');
    push_json_opt_str(out, to.join_ref);
    out.push(b',');
    push_json_opt_str(out, to.ref_);
    out.push(b',');
    push_json_str(out, to.topic);
}

/// The five leading elements of a V2 frame; like Phoenix, extra elements are ignored.
struct Array<'a> {
    join_ref: Option<Cow<'a, str>>,
    ref_: Option<Cow<'a, str>>,
    topic: Cow<'a, str>,
    event: Cow<'a, str>,
    payload: &'a RawValue,
}

impl<'de: 'a, 'a> Deserialize<'de> for Array<'a> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ArrayVisitor;

        impl<'de> Visitor<'de> for ArrayVisitor {
            type Value = Array<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array [join_ref, ref, topic, event, payload]")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let missing = |i| de::Error::invalid_length(i, &self);
                let join_ref: Option<Str<'de>> = seq.next_element()?.ok_or_else(|| missing(0))?;
                let ref_: Option<Str<'de>> = seq.next_element()?.ok_or_else(|| missing(1))?;
                let topic: Str<'de> = seq.next_element()?.ok_or_else(|| missing(2))?;
                let event: Str<'de> = seq.next_element()?.ok_or_else(|| missing(3))?;
                let payload: &'de RawValue = seq.next_element()?.ok_or_else(|| missing(4))?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Array {
                    join_ref: join_ref.map(|s| s.0),
                    ref_: ref_.map(|s| s.0),
                    topic: topic.0,
                    event: event.0,
                    payload,
                })
            }
        }

        deserializer.deserialize_seq(ArrayVisitor)
    }
}

/// A string borrowed from the frame when it has no escapes.
struct Str<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;

        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
        }

        deserializer.deserialize_str(StrVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_ignores_extra_elements() {
        let m = decode(r#"["1","2","room:1","new_msg",{"body":"hi"},"extra",3]"#).unwrap();
        assert_eq!(m.join_ref.as_deref(), Some("1"));
        assert_eq!(m.ref_.as_deref(), Some("2"));
        assert_eq!(m.topic, "room:1");
        assert_eq!(m.event, "new_msg");
        assert_eq!(m.payload.as_json(), Some(r#"{"body":"hi"}"#));
    }

    #[test]
    fn decodes_escaped_strings_and_null_refs() {
        let m = decode(r#"[null,null,"a\"b","e\u00e9",[1]]"#).unwrap();
        assert_eq!(m.join_ref, None);
        assert_eq!(m.topic, "a\"b");
        assert_eq!(m.event, "eé");
        assert_eq!(m.payload.as_json(), Some("[1]"));
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "{}", "[1,2,3]", r#"["1","2","t","e"]"#, r#"[1,"2","t","e",{}]"#, "[", "nope"] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn encodes_exact_frames() {
        let f = reply(Address { join_ref: Some("1"), ref_: Some("6"), topic: "test:frames" }, "ok", r#"{"a":1}"#);
        assert_eq!(f, Frame::Text(r#"["1","6","test:frames","phx_reply",{"response":{"a":1},"status":"ok"}]"#.into()));
        let f = message(Address { join_ref: None, ref_: None, topic: "t\"" }, "e", "{}");
        assert_eq!(f, Frame::Text(r#"[null,null,"t\"","e",{}]"#.into()));
    }
}
