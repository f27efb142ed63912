//! The V1 (JSON object) text frame decoder. Invariant: a decoded message, encoded back as the server writes V1
//! frames (which the decoder also reads) and decoded again, is the same message less its `join_ref`.
#![no_main]

use channels_runtime::fuzz::Frame;
use channels_runtime::fuzz::{Address, Decoded, decode_v1, encode_message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // WebSocket text frames are UTF-8 by the time they reach the decoder.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some(m) = decode_v1(text) else { return };
    let frame =
        encode_message(false, Address { join_ref: None, ref_: m.ref_.as_deref(), topic: &m.topic }, &m.event, &m.payload).expect("V1 encodes JSON");
    let Frame::Text(text) = frame else { panic!("V1 made a binary frame") };
    let again = decode_v1(&text).unwrap_or_else(|| panic!("V1 cannot decode its own frame {text:?}"));
    assert_eq!(again, Decoded { join_ref: None, ..m });
});
