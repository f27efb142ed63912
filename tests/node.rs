//! The official `phoenix` npm client, under Node, against the `conformance` example (tests/js).

mod support;

use std::path::Path;
use std::process::Command;

use support::ServerProcess;

#[test]
fn official_phoenix_client_against_conformance_example() {
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    if !js.join("node_modules/phoenix").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&js)
            .status()
            .expect("npm must be installed to run the phoenix client suite");
        assert!(status.success(), "npm ci failed in tests/js");
    }
    let server = ServerProcess::start("conformance");
    let output = Command::new("node")
        .args(["--test", "--test-concurrency=1", "test/"])
        .env("SERVER_URL", format!("ws://127.0.0.1:{}/socket", server.port()))
        .current_dir(&js)
        .output()
        .expect("node must be installed to run the phoenix client suite");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary: Vec<&str> = stdout.lines().filter(|l| l.starts_with("# ")).collect();
    assert!(
        output.status.success(),
        "the phoenix client suite failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.logs()
    );
    println!("{}", summary.join("\n"));
}
