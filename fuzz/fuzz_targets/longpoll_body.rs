//! The LongPoll POST body parser. The first input byte picks the request: bit 0 ndjson, bit 1 vsn 2.0.0; the
//! rest is the body. Invariants: at most 100 messages; a plain body is exactly one frame, decoded as the
//! serializer decodes it; binary messages only under V2.
#![no_main]

use channels_runtime::payload::Payload;
use channels_runtime::fuzz::{decode_v1, decode_v2, longpoll_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, body)) = data.split_first() else { return };
    let (ndjson, v2) = (flags & 1 != 0, flags & 2 != 0);
    let result = longpoll_body(body, ndjson, v2);
    if let Ok(messages) = &result {
        assert!(messages.len() <= 100, "{} messages", messages.len());
        if !v2 {
            assert!(messages.iter().all(|m| matches!(m.payload, Payload::Json(_))), "binary message under V1");
        }
    }
    if !ndjson {
        let direct = std::str::from_utf8(body).ok().and_then(|t| if v2 { decode_v2(t) } else { decode_v1(t) });
        assert_eq!(result.ok(), direct.map(|m| vec![m]));
    }
});
