//! The Node suite (tests/js) against the `conformance` example, once with the official `phoenix` npm client and
//! once with our own `channels.js` (channels-runtime/assets): the same assertions pass for both.
//!
//! The suite's cluster tests (tests/js/test/cluster.test.js) run too (`CLUSTER=1`): they start two more
//! conformance servers themselves, from `CONFORMANCE_BIN`, sharing the Redis at `REDIS_URL` (default
//! redis://127.0.0.1:6379), which must be running.

mod support;

use std::process::Command;

use support::node::js_dir;
use support::process::{ServerProcess, example_bin};

#[test]
fn official_phoenix_client_against_conformance_example() {
    run_suite("phoenix");
}

#[test]
fn channels_js_client_against_conformance_example() {
    run_suite("channels");
}

/// Runs `node --test` in tests/js with `CLIENT=client` against a fresh conformance server, cluster tests included
/// (`CLUSTER=1`, with `CONFORMANCE_BIN` the same example binary).
fn run_suite(client: &str) {
    let js = js_dir();
    let server = ServerProcess::start("conformance");
    let output = Command::new("node")
        .args(["--test", "--test-concurrency=1", "test/"])
        .env("SERVER_URL", format!("ws://127.0.0.1:{}/socket", server.port()))
        .env("CLIENT", client)
        .env("CLUSTER", "1")
        .env("CONFORMANCE_BIN", example_bin("conformance"))
        .current_dir(&js)
        .output()
        .expect("node must be installed to run the Node client suite");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The counts (`# tests 93`, `# pass 90`...), and the TODO tests (known server bugs, which do not fail the run).
    let summary: Vec<&str> = stdout
        .lines()
        .filter(|l| (l.starts_with("# ") && !l.starts_with("# Subtest:")) || l.contains(" # TODO "))
        .map(str::trim)
        .collect();
    assert!(
        output.status.success(),
        "the Node client suite failed with CLIENT={client}:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.logs()
    );
    println!("CLIENT={client}\n{}", summary.join("\n"));
}
