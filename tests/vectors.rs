//! Replays the frames captured from a real Phoenix server running the conformance app
//! (`shared/vectors/frames.json`, beside this repository) against our `conformance` example, over a real TCP
//! WebSocket, and asserts the exact frames.
//!
//! Each group runs on ONE connection, entries in file order: they are stateful (later entries use earlier
//! joins). Text frames are compared as JSON values (object key order may differ from Phoenix's sorted keys;
//! array element order, i.e. the V2 `[join_ref, ref, topic, event, payload]` layout, must match); binary
//! frames byte for byte. Where an entry has `expected_phoenix_1_8`, that replaces the Phoenix 1.7 capture
//! (`phx_error` carries `{"reason":"channel_crash"}` since Phoenix 1.8.10). After each group no further frame
//! may arrive.
//!
//! The capture omits a few setup joins (their refs are missing from the sequence, yet later entries use their
//! join_refs); [`SETUP_JOINS`] restores them.

mod support;

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use support::process::ServerProcess;
use support::ws::{Client, Frame, RECV_TIMEOUT};
use support::{assert_json_eq, hex, unhex};

const VECTORS_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/frames.json");

/// How long to wait for unexpected extra frames after a group.
const SILENCE: Duration = Duration::from_millis(200);

#[derive(Deserialize)]
struct Entry {
    name: String,
    #[serde(default)]
    description: String,
    /// A text frame to send.
    sent: Option<String>,
    /// A binary frame to send, in hex.
    sent_hex: Option<String>,
    received: Vec<Received>,
    /// What Phoenix 1.8 sends instead of `received`: one frame text (or a list of them).
    expected_phoenix_1_8: Option<Value>,
}

#[derive(Deserialize)]
struct Received {
    text: Option<String>,
    binary_hex: Option<String>,
}

/// A frame we expect from the server.
#[derive(Debug)]
enum Expected {
    Text(String),
    Binary(Vec<u8>),
}

/// The wire format of a group's text frames.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `[join_ref, ref, topic, event, payload]`.
    V2,
    /// `{"topic", "event", "payload", "ref"[, "join_ref"]}`.
    V1,
}

/// A join the capture performed but did not record, inserted before the entry `before` of `group`.
struct SetupJoin {
    group: &'static str,
    before: &'static str,
    /// The join's `ref`; the join is skipped if the file already sends a frame with this ref (i.e. the
    /// capture has been fixed to include it).
    join_ref: &'static str,
    sent: &'static str,
    reply: &'static str,
}

/// Joins missing from the capture. Evidence: the refs are absent from each group's otherwise contiguous
/// sequence, and the next entry uses that join_ref on a topic that is not joined at that point (stopped,
/// crashed or left just before), while its recorded frames show a joined channel.
const SETUP_JOINS: &[SetupJoin] = &[
    // After `phx_close_stop` (channel 18 stopped), `stop_reply` uses join_ref 20.
    SetupJoin {
        group: "v2",
        before: "stop_reply",
        join_ref: "20",
        sent: r#"["20","20","test:frames","phx_join",{}]"#,
        reply: r#"["20","20","test:frames","phx_reply",{"response":{"topic":"test:frames"},"status":"ok"}]"#,
    },
    // After `stop_reply` (channel 20 stopped), `phx_error_crash` uses join_ref 22.
    SetupJoin {
        group: "v2",
        before: "phx_error_crash",
        join_ref: "22",
        sent: r#"["22","22","test:frames","phx_join",{}]"#,
        reply: r#"["22","22","test:frames","phx_reply",{"response":{"topic":"test:frames"},"status":"ok"}]"#,
    },
    // After `after_crash_unmatched` (topic not joined), `leave` uses join_ref 25.
    SetupJoin {
        group: "v2",
        before: "leave",
        join_ref: "25",
        sent: r#"["25","25","test:frames","phx_join",{}]"#,
        reply: r#"["25","25","test:frames","phx_reply",{"response":{"topic":"test:frames"},"status":"ok"}]"#,
    },
    // After the crash of channel 12, `leave_with_join_ref` leaves join_ref 14 and gets its phx_close.
    SetupJoin {
        group: "v1",
        before: "leave_with_join_ref",
        join_ref: "14",
        sent: r#"{"topic":"test:framesv1","event":"phx_join","payload":{},"ref":"14","join_ref":"14"}"#,
        reply: r#"{"event":"phx_reply","payload":{"response":{"topic":"test:framesv1"},"status":"ok"},"ref":"14","topic":"test:framesv1"}"#,
    },
    // After that leave, `phx_error_crash_without_join_ref` crashes a channel "joined without join_ref".
    SetupJoin {
        group: "v1",
        before: "phx_error_crash_without_join_ref",
        join_ref: "16",
        sent: r#"{"topic":"test:framesv1","event":"phx_join","payload":{},"ref":"16"}"#,
        reply: r#"{"event":"phx_reply","payload":{"response":{"topic":"test:framesv1"},"status":"ok"},"ref":"16","topic":"test:framesv1"}"#,
    },
];

fn load_group(group: &str) -> Vec<Entry> {
    let text = std::fs::read_to_string(VECTORS_PATH).unwrap_or_else(|e| {
        panic!(
            "cannot read the Phoenix frame vectors at {VECTORS_PATH}: {e}\n\
             (they live in the `shared/` directory beside this repository)"
        )
    });
    let mut all: serde_json::Map<String, Value> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{VECTORS_PATH} is not valid JSON: {e}"));
    let group_value = all.remove(group).unwrap_or_else(|| panic!("{VECTORS_PATH} has no group `{group}`"));
    let entries: Vec<Entry> = serde_json::from_value(group_value)
        .unwrap_or_else(|e| panic!("{VECTORS_PATH}: group `{group}` has an unexpected shape: {e}"));
    assert!(!entries.is_empty(), "{VECTORS_PATH}: group `{group}` is empty");
    entries
}

/// The `ref` of a text frame sent by the client, if it has one.
fn sent_ref(text: &str, format: Format) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    let r = match format {
        Format::V2 => value.get(1)?,
        Format::V1 => value.get("ref")?,
    };
    r.as_str().map(str::to_owned)
}

/// The frames `entry` expects, with the Phoenix 1.8 override applied.
fn expected_frames(entry: &Entry) -> Vec<Expected> {
    let ctx = || format!("vector `{}`", entry.name);
    if let Some(overrides) = &entry.expected_phoenix_1_8 {
        let texts: Vec<String> = match overrides {
            Value::String(text) => vec![text.clone()],
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().unwrap_or_else(|| panic!("{}: bad expected_phoenix_1_8", ctx())).to_owned())
                .collect(),
            _ => panic!("{}: expected_phoenix_1_8 must be a string or a list of strings", ctx()),
        };
        assert!(
            texts.len() == entry.received.len(),
            "{}: expected_phoenix_1_8 has {} frame(s) but received has {}",
            ctx(),
            texts.len(),
            entry.received.len()
        );
        return texts.into_iter().map(Expected::Text).collect();
    }
    entry
        .received
        .iter()
        .map(|r| match (&r.text, &r.binary_hex) {
            (Some(text), None) => Expected::Text(text.clone()),
            (None, Some(h)) => Expected::Binary(unhex(h)),
            _ => panic!("{}: each received frame needs exactly one of `text` or `binary_hex`", ctx()),
        })
        .collect()
}

/// Describes a server→client binary frame (§1.3) for failure messages.
fn describe_binary(bytes: &[u8]) -> String {
    fn fields(bytes: &[u8], header: usize, names: &[&str]) -> Option<String> {
        let lens = bytes.get(1..1 + header)?;
        let mut at = 1 + header;
        let mut out = Vec::new();
        for (name, &len) in names.iter().zip(lens) {
            let field = bytes.get(at..at + len as usize)?;
            out.push(format!("{name}={:?}", String::from_utf8_lossy(field)));
            at += len as usize;
        }
        out.push(format!("payload={}", hex(bytes.get(at..)?)));
        Some(out.join(" "))
    }
    let decoded = match bytes.first() {
        Some(0) => fields(bytes, 3, &["join_ref", "topic", "event"]).map(|f| format!("push {f}")),
        Some(1) => fields(bytes, 4, &["join_ref", "ref", "topic", "status"]).map(|f| format!("reply {f}")),
        Some(2) => fields(bytes, 2, &["topic", "event"]).map(|f| format!("broadcast {f}")),
        _ => None,
    };
    decoded.unwrap_or_else(|| "(not a valid server frame)".to_owned())
}

/// Receives one frame and asserts it equals `expected`.
async fn expect_frame(client: &mut Client, expected: &Expected, format: Format, context: &str) {
    let frame = match client.try_recv(RECV_TIMEOUT).await {
        Some(frame) => frame,
        None => panic!("{context}: no frame within {:?}; expected {expected:?}", RECV_TIMEOUT),
    };
    match (expected, frame) {
        (Expected::Text(expected), Frame::Text(actual)) => {
            if format == Format::V2 {
                let value: Value = serde_json::from_str(&actual)
                    .unwrap_or_else(|e| panic!("{context}: received text frame is not JSON ({e}): {actual}"));
                assert!(
                    value.as_array().is_some_and(|a| a.len() == 5),
                    "{context}: a V2 frame must be a 5-element array [join_ref, ref, topic, event, payload], got {actual}"
                );
            }
            // Value equality: object key order is free, array element order is not.
            assert_json_eq(&actual, expected, context);
        }
        (Expected::Binary(expected), Frame::Binary(actual)) => {
            assert!(
                &actual == expected,
                "{context}: binary frame mismatch\nexpected: {} ({})\n     got: {} ({})",
                hex(expected),
                describe_binary(expected),
                hex(&actual),
                describe_binary(&actual)
            );
        }
        (Expected::Text(expected), other) => {
            panic!("{context}: expected text frame {expected}\n but got {}", other.describe())
        }
        (Expected::Binary(expected), other) => panic!(
            "{context}: expected binary frame {} ({})\n but got {}",
            hex(expected),
            describe_binary(expected),
            other.describe()
        ),
    }
}

/// Replays `group` on one connection to a fresh conformance server opened with `query`.
async fn replay(group: &str, query: &str, format: Format) {
    let entries = load_group(group);
    let server = ServerProcess::start("conformance");
    let mut client = Client::connect(&server.ws_url(query)).await;

    let sent_refs: Vec<String> =
        entries.iter().filter_map(|e| e.sent.as_deref()).filter_map(|s| sent_ref(s, format)).collect();

    for entry in &entries {
        for setup in SETUP_JOINS.iter().filter(|s| s.group == group && s.before == entry.name) {
            if sent_refs.iter().any(|r| r == setup.join_ref) {
                continue; // the capture records this join itself
            }
            let context = format!("group `{group}`, setup join {} (before vector `{}`)", setup.join_ref, entry.name);
            client.send_text(setup.sent).await;
            expect_frame(&mut client, &Expected::Text(setup.reply.to_owned()), format, &context).await;
        }

        let context = format!("group `{group}`, vector `{}` ({})", entry.name, entry.description);
        match (&entry.sent, &entry.sent_hex) {
            (Some(text), None) => client.send_text(text).await,
            (None, Some(h)) => client.send_binary(&unhex(h)).await,
            _ => panic!("{context}: needs exactly one of `sent` or `sent_hex`"),
        }
        let expected = expected_frames(entry);
        for (i, frame) in expected.iter().enumerate() {
            let context = format!("{context}, frame {} of {}", i + 1, expected.len());
            expect_frame(&mut client, frame, format, &context).await;
        }
    }

    if let Some(frame) = client.try_recv(SILENCE).await {
        panic!("group `{group}`: unexpected extra frame after the last vector: {}", frame.describe());
    }
    client.close().await;
}

#[tokio::test]
async fn vectors_v2() {
    replay("v2", "vsn=2.0.0", Format::V2).await;
}

#[tokio::test]
async fn vectors_v1() {
    replay("v1", "vsn=1.0.0", Format::V1).await;
}

#[tokio::test]
async fn vectors_v1_no_vsn() {
    replay("v1_no_vsn", "", Format::V1).await;
}

#[tokio::test]
async fn vectors_binary() {
    replay("binary", "vsn=2.0.0", Format::V2).await;
}
