//! The V1 JSON object format. The server never sends `join_ref` in it; keys are written sorted, as Phoenix's
//! JSON library does.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Address, DecodeError, Frame, Message, push_json_opt_str, push_json_str, text_frame};
use crate::payload::Payload;

#[derive(Deserialize)]
struct Object<'a> {
    topic: String,
    event: String,
    #[serde(borrow)]
    payload: &'a RawValue,
    #[serde(rename = "ref")]
    ref_: Option<String>,
    #[serde(default)]
    join_ref: Option<String>,
}

pub(super) fn decode(text: &str) -> Result<Message, DecodeError> {
    let o: Object<'_> = serde_json::from_str(text).map_err(|e| DecodeError::new(e.to_string()))?;
    Ok(Message {
        join_ref: o.join_ref,
        ref_: o.ref_,
        topic: o.topic,
        event: o.event,
        payload: Payload::Json(o.payload.to_owned()),
    })
}

pub(super) fn message(to: Address<'_>, event: &str, payload: &str) -> Frame {
    let mut out = Vec::with_capacity(48 + to.topic.len() + event.len() + payload.len());
    out.extend_from_slice(br#"{"event":"#);
    push_json_str(&mut out, event);
    out.extend_from_slice(br#","payload":"#);
    out.extend_from_slice(payload.as_bytes());
    push_tail(&mut out, to);
    text_frame(out)
}

pub(super) fn reply(to: Address<'_>, status: &str, response: &str) -> Frame {
    let mut out = Vec::with_capacity(80 + to.topic.len() + response.len());
    out.extend_from_slice(br#"{"event":"phx_reply","payload":{"response":"#);
    out.extend_from_slice(response.as_bytes());
    out.extend_from_slice(br#","status":"#);
    push_json_str(&mut out, status);
    out.push(b'}');
    push_tail(&mut out, to);
    text_frame(out)
}

/// `,"ref":..,"topic":..}`: how every V1 object the server sends ends (V1 has no join_ref).
fn push_tail(out: &mut Vec<u8>, to: Address<'_>) {
    out.extend_from_slice(br#","ref":"#);
    push_json_opt_str(out, to.ref_);
    out.extend_from_slice(br#","topic":"#);
    push_json_str(out, to.topic);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_with_and_without_join_ref() {
        let m = decode(r#"{"topic":"t","event":"e","payload":{},"ref":"1"}"#).unwrap();
        assert_eq!((m.join_ref, m.ref_.as_deref()), (None, Some("1")));
        let m = decode(r#"{"topic":"t","event":"e","payload":{},"ref":"2","join_ref":"1"}"#).unwrap();
        assert_eq!(m.join_ref.as_deref(), Some("1"));
        assert!(decode(r#"{"topic":"t","payload":{},"ref":"1"}"#).is_err());
        assert!(decode("[]").is_err());
    }

    #[test]
    fn encodes_sorted_keys() {
        assert_eq!(
            reply(Address { join_ref: None, ref_: Some("4"), topic: "t" }, "ok", r#"{"a":1}"#),
            Frame::Text(
                r#"{"event":"phx_reply","payload":{"response":{"a":1},"status":"ok"},"ref":"4","topic":"t"}"#.into()
            )
        );
        assert_eq!(
            message(Address { join_ref: None, ref_: None, topic: "t" }, "pushed", "{}"),
            Frame::Text(r#"{"event":"pushed","payload":{},"ref":null,"topic":"t"}"#.into())
        );
    }
}
