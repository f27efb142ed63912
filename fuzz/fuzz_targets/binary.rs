//! The V2 binary frame decoder. Invariants: a frame that decodes is exactly the push frame rebuilt from the
//! decoded message (decoding loses nothing), and the server can encode that message back as a binary push and
//! reply whose headers hold the same fields.
#![no_main]

use channels_runtime::fuzz::{Address, decode_binary, encode_message, encode_reply};
use channels_runtime::fuzz::Frame;
use channels_runtime::payload::Payload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(m) = decode_binary(data) else { return };
    let join_ref = m.join_ref.as_deref().unwrap_or("");
    let ref_ = m.ref_.as_deref().unwrap_or("");
    assert!(m.join_ref.as_deref() != Some("") && m.ref_.as_deref() != Some(""), "empty refs decode as None");
    let Payload::Binary(payload) = &m.payload else { panic!("binary frame with a JSON payload") };
    let fields = [join_ref, ref_, m.topic.as_str(), m.event.as_str()];
    let mut rebuilt = vec![0u8];
    rebuilt.extend(fields.iter().map(|f| u8::try_from(f.len()).expect("fields come from u8 lengths")));
    for f in fields {
        rebuilt.extend_from_slice(f.as_bytes());
    }
    rebuilt.extend_from_slice(payload);
    assert_eq!(rebuilt, data);

    let Ok(Frame::Binary(push)) = encode_message(true, Address { join_ref: m.join_ref.as_deref(), ref_: None, topic: &m.topic }, &m.event, &m.payload)
    else {
        panic!("a decoded message does not encode as a binary push")
    };
    let head = [0, join_ref.len() as u8, m.topic.len() as u8, m.event.len() as u8];
    assert_eq!(push[..4], head);
    assert_eq!(
        push[4..push.len() - payload.len()],
        [join_ref, m.topic.as_str(), m.event.as_str()].concat().into_bytes()[..]
    );
    assert_eq!(push[push.len() - payload.len()..], payload[..]);

    let Ok(Frame::Binary(reply)) =
        encode_reply(true, Address { join_ref: m.join_ref.as_deref(), ref_: m.ref_.as_deref(), topic: &m.topic }, &m.event, &m.payload)
    else {
        panic!("a decoded message does not encode as a binary reply")
    };
    assert_eq!(reply[0], 1);
    assert_eq!(reply.len(), data.len());
});
