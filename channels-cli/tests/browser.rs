//! The generated chat app in a real browser: `channels new`, `cargo build`, then the Node suite in tests/browser
//! (playwright-core driving Debian's headless Chromium) against the built binary. Two pages exchange messages
//! both ways, the page is saved as `target/artifacts/chat.png`, and the page's client reconnects and rejoins after
//! the server restarts.
//!
//! Needs Chromium (`/usr/bin/chromium`, or the path in `CHROMIUM`), `node` and `npm`. Without them the test fails
//! saying what to install (`.ci/run` installs them): it never skips silently.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TempDir, built_binary, cargo, new_local, target_dir, texts, workspace_root};

/// Debian's Chromium, which `.ci/run` installs.
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// The name of the generated app (and so of its binary in the shared target directory): distinct from the other
/// tests' apps, so that they never overwrite each other's binaries.
const APP: &str = "browser_chat";

#[test]
fn two_browser_pages_chat_both_ways_and_reconnect_after_a_server_restart() {
    let chromium = chromium();
    let browser_tests = browser_tests_dir();

    let tmp = TempDir::new("browser");
    new_local(tmp.path(), APP);
    let project = tmp.path().join(APP);
    cargo(&project, &["build"]);
    let app_bin = built_binary(APP);
    assert!(app_bin.is_file(), "cargo build did not produce {}", app_bin.display());

    let screenshot = target_dir().join("artifacts/chat.png");
    let _ = std::fs::remove_file(&screenshot);
    let output = Command::new("node")
        .args(["--test", "--test-concurrency=1", "test/"])
        .current_dir(&browser_tests)
        .env("APP_BIN", &app_bin)
        .env("PORT", free_port().to_string())
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOT", &screenshot)
        .output()
        .expect("node must be installed to run the browser tests (tests/browser)");
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "the browser suite (tests/browser) failed:\n{stdout}\n{stderr}");
    let summary: Vec<&str> = stdout.lines().filter(|l| l.starts_with("ok ") || l.starts_with("# ")).collect();
    println!("{}", summary.join("\n"));

    let png = std::fs::read(&screenshot).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", screenshot.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is not a PNG", screenshot.display());
    assert!(png.len() > 5_000, "the screenshot is suspiciously small ({} bytes)", png.len());
    println!("screenshot: {}", screenshot.display());
}

/// The Chromium to drive, or a failure saying how to get one.
fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from(DEFAULT_CHROMIUM), PathBuf::from);
    assert!(
        path.is_file(),
        "Chromium not found at {}: the browser test needs it. Install Debian's package (`apt-get install chromium`; \
         .ci/run does) or set CHROMIUM to a Chromium binary",
        path.display()
    );
    path
}

/// tests/browser, with its pinned npm packages installed (`npm ci` when they are missing).
fn browser_tests_dir() -> PathBuf {
    let dir = workspace_root().join("tests/browser");
    if !Path::new(&dir.join("node_modules/playwright-core/package.json")).is_file() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("npm must be installed to run the browser tests (tests/browser)");
        assert!(status.success(), "npm ci failed in tests/browser");
    }
    dir
}

/// A port that was free a moment ago on 127.0.0.1 (the suite restarts the app on it, so it must be fixed).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}
