//! Connect params (the socket's query string). Invariants: nesting stays within the depth limit, the params
//! deserialize as JSON, and the input as one percent-encoded value comes back intact.
#![no_main]

use channels_runtime::fuzz::connect_params;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// `MAX_PARAM_DEPTH` nested segments below the top-level key.
const MAX_DEPTH: usize = 16;

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data);
    let params = connect_params(&query);
    for value in params.as_map().values() {
        assert!(depth(value) <= MAX_DEPTH, "nested deeper than the limit");
    }
    params.deserialize::<Value>().expect("params are JSON");
    assert!(params.as_map().len() <= query.len(), "more params than bytes");

    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut encoded = String::with_capacity(2 + 3 * query.len());
    encoded.push_str("k=");
    for b in query.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.extend(['%', char::from(HEX[usize::from(b >> 4)]), char::from(HEX[usize::from(b & 15)])]);
        }
    }
    assert_eq!(connect_params(&encoded).get("k"), Some(&*query));
});
