//! The Node side of the tests: tests/js, with its pinned npm packages (the official `phoenix` client, `ws`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The tests/js directory, with its pinned npm packages installed (once, even when both tests start together).
pub fn js_dir() -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    let _installing = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if !js.join("node_modules/phoenix").exists() || !js.join("node_modules/ws").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&js)
            .status()
            .expect("npm must be installed to run the Node client suite");
        assert!(status.success(), "npm ci failed in tests/js");
    }
    js
}
