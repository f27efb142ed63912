//! The workspace's crates as they would be published: `cargo package --workspace --no-verify` succeeds (every
//! dependency between them has a version, the metadata is complete) and each `.crate` holds its sources and
//! README, and none of the repository's tests, examples or benchmarks.
//!
//! Runs `--offline` into a target directory of its own: `cargo package` generates each package's lock file from
//! what the workspace's build already downloaded, and it resolves the unpublished inner crates from a local
//! overlay of the ones it just packaged (Cargo 1.90+), so nothing needs the registry or an earlier publish.
//! `--allow-dirty`: uncommitted changes are what is being tested.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The published packages, each with its folder in the repository.
const PACKAGES: &[(&str, &str)] = &[
    ("phx-channels", ""),
    ("phx-channels-runtime", "channels-runtime"),
    ("phx-channels-macros", "channels-macros"),
    ("phx-channels-topic", "channels-topic"),
    ("phx-channels-cli", "channels-cli"),
];

/// An upper bound on a compressed `.crate`, to notice a fixture or a directory slipping in (the runtime, the
/// largest, is about 130 KiB).
const MAX_CRATE_BYTES: u64 = 256 * 1024;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `cargo package args` at the repository's root; returns its stdout and stderr, asserting it succeeds.
fn cargo_package(args: &[&str], target_dir: &Path) -> (String, String) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .arg("package")
        .args(args)
        .args(["--allow-dirty", "--offline"])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(root())
        .env("CARGO_TERM_COLOR", "never")
        .output()
        .expect("cannot run cargo");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned());
    assert!(output.status.success(), "`cargo package {}` failed:\n{stdout}\n{stderr}", args.join(" "));
    (stdout, stderr)
}

/// A directory of this test's own, removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_workspace_packages_with_sources_and_readme_only() {
    let target = TempDir(std::env::temp_dir().join(format!("channels-packaging-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&target.0);

    let (_, stderr) = cargo_package(&["--workspace", "--no-verify"], &target.0);
    // The only warnings: the test, example and bench targets left out of the packages on purpose.
    for line in stderr.lines().filter(|l| l.starts_with("warning:")) {
        assert!(line.contains("is not included in the published package"), "unexpected warning: {line}\n{stderr}");
    }
    for (package, _) in PACKAGES {
        let file = target.0.join("package").join(format!("{package}-{}.crate", env!("CARGO_PKG_VERSION")));
        let size = std::fs::metadata(&file).unwrap_or_else(|e| panic!("no {}: {e}\n{stderr}", file.display())).len();
        assert!(size <= MAX_CRATE_BYTES, "{} is {size} bytes, over {MAX_CRATE_BYTES}", file.display());
    }

    for (package, dir) in PACKAGES {
        let (list, _) = cargo_package(&["--list", "-p", package], &target.0);
        let files: Vec<&str> = list.lines().collect();
        for needed in ["Cargo.toml", "README.md", "src/lib.rs"] {
            assert!(files.contains(&needed), "{package} lacks {needed}:\n{list}");
        }
        for file in &files {
            let allowed = file.starts_with("src/")
                || file.starts_with("templates/")
                || file.starts_with("assets/")
                || ["Cargo.toml", "Cargo.toml.orig", "Cargo.lock", "README.md", ".cargo_vcs_info.json"].contains(file);
            assert!(allowed, "{package} would publish {file}:\n{list}");
        }
        // What the sources embed with include_str! must be there.
        for embedded in embedded_files(&root().join(dir)) {
            assert!(files.contains(&embedded.as_str()), "{package} lacks {embedded}, which its sources embed");
        }
    }
}

/// The files under `templates/` and `assets/` of the package at `dir` that its sources embed: every template of
/// the CLI, and the runtime's browser client.
fn embedded_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.join("templates")];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    if dir.join("assets/channels.js").is_file() {
        found.push("assets/channels.js".to_owned());
    }
    found
}
