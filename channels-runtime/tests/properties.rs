//! Quick property tests of the parsers, through the hidden `channels_runtime::fuzz` entry points that the
//! cargo-fuzz targets use too (see FUZZING.md): the decoders never panic, and what the server encodes decodes
//! back to what it was made from. Case counts are modest so the whole file runs in about a second.

use channels_runtime::fuzz::{Address, EncodeError, Frame};
use channels_runtime::fuzz::{
    base64_decode, base64_decode_url, base64_encode_url, check_origin, connect_params, decode_binary, decode_v1,
    decode_v2, encode_broadcast, encode_message, encode_reply, longpoll_body, sign_raw_payload, sign_token,
    verify_token, verify_token_embedded_age,
};
use channels_runtime::payload::Payload;
use channels_runtime::token::{MaxAge, TokenError};
use proptest::prelude::*;
use serde_json::Value;

const SECRET: &str = "conformance-secret-key-base-0123456789-0123456789-0123456789-0123";
const SALT: &str = "user socket";

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Strings over the characters the frame grammars care about, so that random input gets past the first byte.
fn frameish() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,64}",
        r#"[\[\]{}",:0-9a-z\\ nul]{0,64}"#,
        r#"\["[0-9]{0,2}",("[0-9]"|null),"[a-z:]{0,8}","[a-z_]{0,8}",.{0,16}\]"#
    ]
}

/// Arbitrary JSON data, a few levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A string of at most `max` UTF-8 bytes, multi-byte characters included.
fn utf8_upto(max: usize) -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9:_]{0,12}", ".{0,24}", "[é€😀a]{0,90}"].prop_map(move |s| truncate(s, max))
}

fn truncate(mut s: String, max: usize) -> String {
    while s.len() > max {
        s.pop();
    }
    s
}

fn text(frame: Frame) -> String {
    match frame {
        Frame::Text(t) => t.as_str().to_owned(),
        Frame::Binary(_) => panic!("expected a text frame"),
    }
}

fn binary(frame: Result<Frame, EncodeError>) -> Result<Vec<u8>, EncodeError> {
    frame.map(|f| match f {
        Frame::Binary(b) => b.to_vec(),
        Frame::Text(_) => panic!("expected a binary frame"),
    })
}

/// A client binary push: kind 0, four length bytes, the fields, the payload.
fn client_push(fields: [&str; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend(fields.iter().map(|f| u8::try_from(f.len()).unwrap()));
    out.extend(fields.concat().bytes());
    out.extend_from_slice(payload);
    out
}

/// The fields and payload of a server binary frame with `n` header fields.
fn split_server_frame(frame: &[u8], n: usize) -> (u8, Vec<String>, Vec<u8>) {
    let mut at = 1 + n;
    let fields = frame[1..=n]
        .iter()
        .map(|&len| {
            let field = String::from_utf8(frame[at..at + usize::from(len)].to_vec()).unwrap();
            at += usize::from(len);
            field
        })
        .collect();
    (frame[0], fields, frame[at..].to_vec())
}

/// The index of the first field a binary frame cannot hold.
fn first_too_long(fields: &[&str]) -> Option<usize> {
    fields.iter().position(|f| f.len() > 255)
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn text_decoders_never_panic(s in frameish()) {
        let _ = decode_v1(&s);
        if let Some(m) = decode_v2(&s) {
            prop_assert!(m.payload.as_json().is_some());
        }
        for flags in 0..4 {
            let _ = longpoll_body(s.as_bytes(), flags & 1 != 0, flags & 2 != 0);
        }
    }

    #[test]
    fn byte_decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..96), ndjson: bool, v2: bool) {
        if let Some(m) = decode_binary(&bytes) {
            prop_assert_eq!(m.payload.as_binary().map(|b| b.len()), Some(bytes.len() - 5 - m.topic.len()
                - m.event.len() - m.join_ref.map_or(0, |r| r.len()) - m.ref_.map_or(0, |r| r.len())));
        }
        if let Ok(messages) = longpoll_body(&bytes, ndjson, v2) {
            prop_assert!(messages.len() <= 100);
        }
        let _ = base64_decode(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn v2_round_trips(join_ref in proptest::option::of(".{0,8}"), ref_ in proptest::option::of(".{0,8}"),
                      topic in ".{0,24}", event in ".{0,16}", data in json()) {
        let payload = Payload::json(&data);
        let frame = text(encode_message(true, Address { join_ref: join_ref.as_deref(), ref_: ref_.as_deref(), topic: &topic }, &event, &payload).unwrap());
        let m = decode_v2(&frame).unwrap();
        prop_assert_eq!((m.join_ref, m.ref_, m.topic, m.event), (join_ref.clone(), ref_.clone(), topic.clone(), event));
        prop_assert_eq!(&m.payload, &payload);

        let frame = text(encode_reply(true, Address { join_ref: join_ref.as_deref(), ref_: ref_.as_deref(), topic: &topic }, "ok", &payload).unwrap());
        let m = decode_v2(&frame).unwrap();
        prop_assert_eq!(m.event, "phx_reply");
        let reply: Value = m.payload.deserialize().unwrap();
        prop_assert_eq!(&reply["status"], "ok");
        prop_assert_eq!(&reply["response"], &payload.deserialize::<Value>().unwrap());
    }

    #[test]
    fn v1_round_trips(ref_ in proptest::option::of(".{0,8}"), topic in ".{0,24}", event in ".{0,16}", data in json()) {
        let payload = Payload::json(&data);
        let frame = text(encode_message(false, Address { join_ref: Some("ignored"), ref_: ref_.as_deref(), topic: &topic }, &event, &payload).unwrap());
        let m = decode_v1(&frame).unwrap();
        prop_assert_eq!((m.join_ref, m.ref_, m.topic, m.event), (None, ref_, topic, event));
        prop_assert_eq!(m.payload, payload);
    }

    #[test]
    fn binary_push_round_trips(join_ref in utf8_upto(255), ref_ in utf8_upto(255), topic in utf8_upto(255),
                               event in utf8_upto(255), payload in prop::collection::vec(any::<u8>(), 0..64)) {
        let frame = client_push([&join_ref, &ref_, &topic, &event], &payload);
        let m = decode_binary(&frame).unwrap();
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        prop_assert_eq!((m.join_ref, m.ref_), (some(&join_ref), some(&ref_)));
        prop_assert_eq!((m.topic.as_str(), m.event.as_str()), (topic.as_str(), event.as_str()));
        prop_assert_eq!(m.payload.as_binary().map(|b| b.to_vec()), Some(payload.clone()));
        // Cut anywhere inside the header or fields, the frame is refused.
        let header = 5 + join_ref.len() + ref_.len() + topic.len() + event.len();
        prop_assert!(decode_binary(&frame[..header - 1]).is_none());
    }

    #[test]
    fn binary_encoders_respect_the_255_byte_limit(join_ref in utf8_upto(300), ref_ in utf8_upto(300),
                                                   topic in utf8_upto(300), event in utf8_upto(300),
                                                   payload in prop::collection::vec(any::<u8>(), 0..32)) {
        let p = Payload::binary(payload.clone());
        let push = binary(encode_message(true, Address { join_ref: Some(&join_ref), ref_: Some(&ref_), topic: &topic }, &event, &p));
        match first_too_long(&[&join_ref, &topic, &event]) {
            Some(i) => prop_assert_eq!(push, Err(EncodeError::FieldTooLong(["join_ref", "topic", "event"][i]))),
            None => {
                let expected = vec![join_ref.clone(), topic.clone(), event.clone()];
                prop_assert_eq!(split_server_frame(&push.unwrap(), 3), (0, expected, payload.clone()));
            }
        }
        let reply = binary(encode_reply(true, Address { join_ref: Some(&join_ref), ref_: Some(&ref_), topic: &topic }, &event, &p));
        match first_too_long(&[&join_ref, &ref_, &topic, &event]) {
            Some(i) => {
                let field = ["join_ref", "ref", "topic", "status"][i];
                prop_assert_eq!(reply, Err(EncodeError::FieldTooLong(field)));
            }
            None => {
                let expected = vec![join_ref, ref_, topic.clone(), event.clone()];
                prop_assert_eq!(split_server_frame(&reply.unwrap(), 4), (1, expected, payload.clone()));
            }
        }
        let broadcast = binary(encode_broadcast(true, &topic, &event, &p));
        match first_too_long(&[&topic, &event]) {
            Some(i) => prop_assert_eq!(broadcast, Err(EncodeError::FieldTooLong(["topic", "event"][i]))),
            None => prop_assert_eq!(split_server_frame(&broadcast.unwrap(), 2), (2, vec![topic, event], payload)),
        }
    }

    #[test]
    fn connect_params_never_panic(query in prop_oneof![".{0,64}", r"[a-z\[\]=&%+0-9A-F]{0,64}"]) {
        let params = connect_params(&query);
        prop_assert!(params.deserialize::<Value>().is_ok());
    }

    #[test]
    fn connect_params_round_trip(pairs in prop::collection::btree_map("[a-z][a-z0-9_]{0,8}", ".{0,16}", 0..6)) {
        let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", percent_encode(v))).collect();
        let params = connect_params(&query.join("&"));
        prop_assert_eq!(params.as_map().len(), pairs.len());
        for (k, v) in &pairs {
            prop_assert_eq!(params.get(k), Some(v.as_str()));
        }
    }

    #[test]
    fn base64_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..48)) {
        let url = base64_encode_url(&bytes);
        prop_assert!(!url.contains(['+', '/', '=']));
        prop_assert_eq!(base64_decode_url(&url), Some(bytes.clone()));
        prop_assert_eq!(base64_decode(&url), Some(bytes.clone()));
        let mut standard = url.replace('-', "+").replace('_', "/");
        while standard.len() % 4 != 0 {
            standard.push('=');
        }
        prop_assert_eq!(base64_decode(&standard), Some(bytes.clone()));
        if standard.contains(['+', '/']) {
            prop_assert_eq!(base64_decode_url(&standard.replace('=', "")), None);
        }
    }

    #[test]
    fn origin_check_never_panics(origin in ".{0,24}", host in proptest::option::of(".{0,16}"),
                                 pattern in prop_oneof![".{0,16}", "(https?:)?//(\\*\\.)?[a-z.]{1,8}(:[0-9]{1,5})?"]) {
        prop_assert_eq!(check_origin(None, None, host.as_deref()), Some(true));
        let _ = check_origin(None, Some(&origin), host.as_deref());
        let _ = check_origin(Some(&[pattern.as_str()]), Some(&origin), host.as_deref());
    }
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn token_verify_never_panics(token in prop_oneof![".{0,48}", "SFMyNTY\\.[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,43}"],
                                 secret in prop_oneof![Just(SECRET.to_owned()), ".{0,24}"]) {
        prop_assert!(verify_token(&secret, SALT, &token, MaxAge::Infinity).is_err());
        prop_assert!(verify_token_embedded_age(&secret, SALT, &token).is_err());
    }

    #[test]
    fn signed_garbage_never_panics(payload in prop::collection::vec(any::<u8>(), 0..48)) {
        let mut etf = vec![131];
        etf.extend_from_slice(&payload);
        for bytes in [&payload, &etf] {
            let token = sign_raw_payload(SECRET, SALT, bytes);
            let _ = verify_token(SECRET, SALT, &token, MaxAge::Infinity);
            prop_assert_eq!(verify_token(SECRET, "other salt", &token, MaxAge::Infinity), Err(TokenError::Invalid));
        }
    }

    #[test]
    fn tokens_round_trip(data in json()) {
        let token = sign_token(SECRET, SALT, &data);
        prop_assert_eq!(verify_token(SECRET, SALT, &token, MaxAge::Infinity), Ok(data.clone()));
        prop_assert_eq!(verify_token_embedded_age(SECRET, SALT, &token), Ok(data));
        prop_assert_eq!(verify_token(SECRET, "other salt", &token, MaxAge::Infinity), Err(TokenError::Invalid));
        let other = "another-secret-key-base-of-at-least-twenty-bytes";
        prop_assert_eq!(verify_token(other, SALT, &token, MaxAge::Infinity), Err(TokenError::Invalid));
        let mut tampered = token.clone().into_bytes();
        // Not the last character: its two low bits are unused, as in Elixir's base64, so changing only them
        // leaves the MAC as it was.
        let at = tampered.len() - 10;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        prop_assert!(verify_token(SECRET, SALT, &tampered, MaxAge::Infinity).is_err());
    }
}

#[test]
fn binary_fields_of_exactly_255_and_256_bytes() {
    let max = format!("{}a", "é".repeat(127));
    assert_eq!(max.len(), 255);
    let over = format!("{max}é");
    assert_eq!((over.len(), over.chars().count()), (257, 129));
    let over256 = format!("{max}b");
    let p = Payload::binary(&b"\x00\xff"[..]);
    let frame = client_push([&max, &max, &max, &max], b"\x00\xff");
    let m = decode_binary(&frame).unwrap();
    assert_eq!((m.join_ref.as_deref(), m.topic.as_str(), m.event.as_str()), (Some(&*max), &*max, &*max));
    assert!(binary(encode_message(true, Address { join_ref: Some(&max), ref_: None, topic: &max }, &max, &p)).is_ok());
    assert!(
        binary(encode_reply(true, Address { join_ref: Some(&max), ref_: Some(&max), topic: &max }, &max, &p)).is_ok()
    );
    for long in [&over, &over256] {
        assert_eq!(binary(encode_broadcast(true, long, "e", &p)), Err(EncodeError::FieldTooLong("topic")));
        assert_eq!(binary(encode_broadcast(true, "t", long, &p)), Err(EncodeError::FieldTooLong("event")));
        assert_eq!(
            binary(encode_reply(true, Address { join_ref: None, ref_: Some(long), topic: "t" }, "ok", &p)),
            Err(EncodeError::FieldTooLong("ref"))
        );
    }
    // A length byte that cuts a multi-byte character in two makes the field invalid UTF-8.
    let mut cut = client_push(["", "", "é", "e"], b"");
    cut[3] = 1;
    assert!(decode_binary(&cut).is_none());
}
