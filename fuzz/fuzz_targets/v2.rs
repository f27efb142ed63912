//! The V2 (JSON array) text frame decoder. Invariants: decode → encode → decode gives the same message, and a
//! reply to it encodes to a frame that decodes to a `phx_reply` whose payload is valid JSON.
#![no_main]

use std::collections::BTreeMap;

use channels_runtime::fuzz::{Address, decode_v2, encode_message, encode_reply};
use channels_runtime::fuzz::Frame;
use channels_runtime::payload::Payload;
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some(m) = decode_v2(text) else { return };
    let frame = encode_message(true, Address { join_ref: m.join_ref.as_deref(), ref_: m.ref_.as_deref(), topic: &m.topic }, &m.event, &m.payload)
        .expect("V2 encodes JSON");
    let Frame::Text(text) = frame else { panic!("a JSON payload made a binary frame") };
    let again = decode_v2(&text).unwrap_or_else(|| panic!("V2 cannot decode its own frame {text:?}"));
    assert_eq!(again, m);

    let frame = encode_reply(true, Address { join_ref: m.join_ref.as_deref(), ref_: m.ref_.as_deref(), topic: &m.topic }, &m.event, &m.payload)
        .expect("V2 encodes JSON replies");
    let Frame::Text(text) = frame else { panic!("a JSON reply made a binary frame") };
    let reply = decode_v2(&text).unwrap_or_else(|| panic!("V2 cannot decode its own reply {text:?}"));
    assert_eq!(
        (reply.join_ref, reply.ref_, reply.topic, reply.event.as_str()),
        (m.join_ref, m.ref_, m.topic, "phx_reply")
    );
    let Payload::Json(payload) = reply.payload else { panic!("reply payload is not JSON") };
    // Raw values: a valid JSON number such as 1e999 has no `Value`.
    let mut fields: BTreeMap<String, Box<RawValue>> = serde_json::from_str(payload.get()).expect("reply is an object");
    let status = fields.remove("status").expect("reply has a status");
    assert_eq!(serde_json::from_str::<String>(status.get()).ok().as_deref(), Some(m.event.as_str()));
    assert_eq!(fields.remove("response").map(|r| r.get().to_owned()).as_deref(), m.payload.as_json());
    assert!(fields.is_empty());
});
