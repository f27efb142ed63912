//! The codec on its own: the bytes `term_to_binary/1` writes for each shape token data takes, and a decoder that
//! refuses hostile input without panicking or allocating for lengths it has not seen.

use serde_json::{Value, json};

use super::*;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The payload of `Token::sign_with(.., data, signed_at 1700000000 s, max_age)`, in hex.
fn payload_hex(data: &Value, max_age: MaxAge) -> String {
    hex(&encode_payload(data, 1_700_000_000_000, max_age))
}

#[test]
fn encodes_terms_as_term_to_binary_does() {
    let suffix = "6e06000068e5cf8b016200015180"; // 1700000000000, 86400
    let cases = [
        (json!(0), "6100"),
        (json!(255), "61ff"),
        (json!(256), "6200000100"),
        (json!(-1), "62ffffffff"),
        (json!(2147483647), "627fffffff"),
        (json!(-2147483648i64), "6280000000"),
        (json!(2147483648u64), "6e040000000080"),
        (json!(-2147483649i64), "6e040101000080"),
        (json!(u64::MAX), "6e0800ffffffffffffffff"),
        (json!(i64::MIN), "6e08010000000000000080"),
        (json!(1.5), "463ff8000000000000"),
        (json!(null), "6400036e696c"),
        (json!(false), "64000566616c7365"),
        (json!("é"), "6d00000002c3a9"),
        (json!([]), "6a"),
        (json!([1, 2, 3]), "6b0003010203"),
        (json!([1, 256]), "6c00000002 6101 6200000100 6a"),
        (json!({}), "7400000000"),
        (json!({"b": 1, "a": 2, "ab": 3}), "74000000036d00000001616102 6d0000000261626103 6d00000001626101"),
    ];
    for (data, expected) in cases {
        let expected = expected.replace(' ', "");
        assert_eq!(payload_hex(&data, MaxAge::DEFAULT), format!("836803{expected}{suffix}"), "{data}");
    }
    // Infinity is the atom `infinity`.
    assert_eq!(
        payload_hex(&json!(1), MaxAge::Infinity),
        "83680361016e06000068e5cf8b0164000869 6e66696e697479".replace(' ', "")
    );
    // A list of 65536 bytes no longer fits a STRING_EXT.
    let long = Value::Array(vec![json!(1); 65_536]);
    assert_eq!(&payload_hex(&long, MaxAge::DEFAULT)[6..16], "6c00010000");
    let longest = Value::Array(vec![json!(1); 65_535]);
    assert_eq!(&payload_hex(&longest, MaxAge::DEFAULT)[6..12], "6bffff");
}

#[test]
fn decoder_is_safe_on_hostile_input() {
    let valid = encode_payload(&json!({"a": [1, "two", 3.0, {"b": null}], "c": -70000}), 1, MaxAge::DEFAULT);
    assert!(decode(&valid).is_some());
    // Every truncation, and trailing bytes, are refused.
    for len in 0..valid.len() {
        assert_eq!(decode(&valid[..len]), None, "prefix of {len}");
    }
    assert_eq!(decode(&[&valid[..], &[0]].concat()), None);
    // Claimed lengths far beyond the input are refused before anything is allocated for them.
    for hostile in [
        &[131, 109, 255, 255, 255, 255, 0][..],
        &[131, 108, 255, 255, 255, 255, 97, 1, 106],
        &[131, 105, 255, 255, 255, 255, 97, 1],
        &[131, 116, 255, 255, 255, 255, 97, 1, 97, 1],
        &[131, 111, 255, 255, 255, 255, 0, 1],
        &[131, 107, 255, 255, 1],
        &[131, 100, 255, 255, b'a'],
        &[131, 119, 200, b'a'],
        &[131, 99, b'1'],
        &[131, 110, 17, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        &[131, 110, 1, 2, 1],
        &[130, 97, 1],
        &[131],
        &[],
    ] {
        assert_eq!(decode(hostile), None, "{hostile:?}");
    }
    // Nesting is bounded.
    let nested = |depth: usize| {
        let mut bytes = vec![131];
        bytes.extend(std::iter::repeat_n([108, 0, 0, 0, 1], depth).flatten());
        bytes.push(106);
        bytes.extend(std::iter::repeat_n(106, depth));
        bytes
    };
    assert!(decode(&nested(MAX_DEPTH)).is_some());
    assert_eq!(decode(&nested(MAX_DEPTH + 1)), None);
    assert_eq!(decode(&nested(1_000_000)), None);
    // Pseudo-random bytes and bit flips of a valid payload never panic.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let len = (next() % 40) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if !bytes.is_empty() {
            bytes[0] = 131;
        }
        let _ = decode(&bytes).map(|t| t.into_json());
        let mut flipped = valid.clone();
        let i = (next() as usize) % flipped.len();
        flipped[i] ^= 1 << (next() % 8);
        let _ = decode(&flipped).and_then(unpack_payload);
    }
}
