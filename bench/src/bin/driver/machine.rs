//! The machine and the versions a run reports.

use std::process::Command;

use serde_json::Value;

use crate::cfg::Paths;

/// What the report says of the machine: (name, value), in order.
pub fn machine_info(paths: &Paths) -> Vec<(String, String)> {
    let sh = |cmd: &str| {
        Command::new("sh")
            .args(["-c", cmd])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let lock = std::fs::read_to_string(paths.bench.join("Cargo.lock")).unwrap_or_default();
    let crate_version = |name: &str| {
        let needle = format!("name = \"{name}\"\nversion = \"");
        lock.find(&needle)
            .map(|i| lock[i + needle.len()..].split('"').next().unwrap_or("").to_owned())
            .unwrap_or_default()
    };
    let sio = std::fs::read_to_string(paths.bench.join("socketio/node_modules/socket.io/package.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .and_then(|v| v["version"].as_str().map(String::from))
        .unwrap_or_default();
    vec![
        ("CPU".into(), sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")),
        ("cores".into(), sh("nproc")),
        ("memory".into(), sh("free -g | awk '/Mem:/{print $2\" GiB\"}'")),
        ("kernel".into(), sh("uname -r")),
        ("rustc".into(), sh("rustc --version")),
        ("node".into(), sh("node --version")),
        ("socket.io".into(), sio),
        ("tokio".into(), crate_version("tokio")),
        ("tokio-tungstenite".into(), crate_version("tokio-tungstenite")),
        ("load average at start".into(), sh("cut -d' ' -f1-3 /proc/loadavg")),
    ]
}
