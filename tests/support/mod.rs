//! Shared harness for the root package's integration tests. Use it from a test file with `mod support;`.
//!
//! - [`process`]: example binaries (e.g. `conformance`) run on a free port, killed on drop;
//! - [`server`]: an endpoint served in the test's process;
//! - [`sockets`]: the socket handler of those servers;
//! - [`ws`]: a raw WebSocket client that sends exact frames and asserts on exact frames;
//! - [`http`]: raw HTTP/1.1 requests;
//! - [`node`]: tests/js, where the official `phoenix` client runs under Node;
//! - [`redis`]: the machine's Redis, and Redis servers of a test's own;
//! - here: [`free_port`], [`assert_json_eq`], [`hex`], [`unhex`].
//!
//! Not every test file uses every item, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod http;
pub mod node;
pub mod process;
pub mod redis;
pub mod server;
pub mod sockets;
pub mod ws;

use serde_json::Value;

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("cannot bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// Asserts that the JSON texts `actual` and `expected` are equal as [`serde_json::Value`]s (object key order
/// ignored, array order significant). On mismatch the message shows both texts and, for arrays (V2 frames),
/// the first differing element. `context` prefixes the message (may be empty).
pub fn assert_json_eq(actual: &str, expected: &str, context: &str) {
    let ctx = if context.is_empty() { String::new() } else { format!("{context}: ") };
    let expected_value: Value =
        serde_json::from_str(expected).unwrap_or_else(|e| panic!("{ctx}expected text is not JSON ({e}): {expected}"));
    let actual_value: Value =
        serde_json::from_str(actual).unwrap_or_else(|e| panic!("{ctx}received text frame is not JSON ({e}): {actual}"));
    if actual_value == expected_value {
        return;
    }
    let detail = match (&actual_value, &expected_value) {
        (Value::Array(a), Value::Array(e)) if a.len() != e.len() => {
            format!("\narray length: expected {}, got {}", e.len(), a.len())
        }
        (Value::Array(a), Value::Array(e)) => a
            .iter()
            .zip(e)
            .position(|(a, e)| a != e)
            .map(|i| format!("\nfirst difference at element [{i}]: expected {}, got {}", e[i], a[i]))
            .unwrap_or_default(),
        _ => String::new(),
    };
    panic!("{ctx}text frame mismatch\nexpected: {expected}\n     got: {actual}{detail}");
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes a hex string (case-insensitive, even length).
///
/// # Panics
/// On odd length or a non-hex digit.
pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd-length hex string: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|_| panic!("invalid hex string: {s}")))
        .collect()
}
