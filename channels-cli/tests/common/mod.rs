//! What the integration tests of the `channels` command share: running it, a temporary directory, and building
//! a generated project with Cargo against this workspace (by path: never the published framework).
//!
//! Not every test file uses every item, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The repository's root (the workspace channels-cli belongs to).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("channels-cli is inside the workspace").to_path_buf()
}

/// The target directory this test was built into (`target/`), found from the test binary's path
/// (`target/<profile>/deps/<test>`), so that it is right whatever `CARGO_TARGET_DIR` or `--target-dir` said.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors().nth(3).unwrap_or_else(|| panic!("unexpected test binary location: {}", exe.display())).to_path_buf()
}

/// A fresh directory under the system's temp dir. Removed on drop, unless the test is failing: then it is kept
/// and its path printed, to look at the generated project.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory whose name contains `label`.
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("channels-cli-{label}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir(path)
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept the test's directory for inspection: {}", self.0.display());
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// Runs the `channels` binary of this crate with `args` in `dir`, without `CHANNELS_PATH` in its environment
/// (the tests say where the framework comes from).
pub fn channels(dir: &Path, args: &[&str]) -> Output {
    channels_with_env(dir, args, &[])
}

/// [`channels`], with the environment variables `env` set.
pub fn channels_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_channels"))
        .args(args)
        .current_dir(dir)
        .env_remove("CHANNELS_PATH")
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run channels {args:?}: {e}"))
}

/// `channels new name`, depending on this workspace by path (`--channels-path`): the published framework may not
/// exist yet, or be older than this checkout. Returns its standard output.
pub fn new_local(dir: &Path, name: &str) -> String {
    let root = workspace_root().display().to_string();
    channels_ok(dir, &["new", name, "--channels-path", &root])
}

/// Runs `channels args` in `dir`, asserting it succeeds; returns its standard output.
pub fn channels_ok(dir: &Path, args: &[&str]) -> String {
    let output = channels(dir, args);
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "channels {args:?} failed ({}):\n{stdout}\n{stderr}", output.status);
    assert!(stderr.is_empty(), "channels {args:?} wrote to stderr:\n{stderr}");
    stdout
}

/// Standard output and error, as text.
pub fn texts(output: &Output) -> (String, String) {
    (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// Runs `cargo args` in the generated project `project`, with this workspace's target directory (dependencies
/// compiled for the workspace are reused); asserts it succeeds and prints no warning. Returns stdout and stderr.
///
/// Before the first build the project gets a copy of the workspace's `Cargo.lock`, so that it resolves the same
/// dependency versions as the workspace does (which is what lets it reuse their compiled artifacts, and keeps the
/// test from depending on what crates.io published today). A user's project resolves its own.
pub fn cargo(project: &Path, args: &[&str]) -> (String, String) {
    if !project.join("Cargo.lock").exists() {
        fs::copy(workspace_root().join("Cargo.lock"), project.join("Cargo.lock")).expect("copy Cargo.lock");
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(args)
        .current_dir(project)
        .env("CARGO_TARGET_DIR", target_dir())
        // Plain output to search for warnings.
        .env("CARGO_TERM_COLOR", "never")
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo {args:?}: {e}"));
    let (stdout, stderr) = texts(&output);
    assert!(
        output.status.success(),
        "`cargo {}` failed in the generated project {}:\n{stdout}\n{stderr}",
        args.join(" "),
        project.display()
    );
    // Cargo's own notes (e.g. about the copied lock file) are not the project's warnings.
    let warnings: Vec<&str> =
        stderr.lines().filter(|l| l.starts_with("warning:") && !l.contains("Cargo.lock")).collect();
    assert!(warnings.is_empty(), "`cargo {}` warned in the generated project:\n{stderr}", args.join(" "));
    (stdout, stderr)
}

/// The path of the binary `name` that `cargo build` put in the shared target directory.
pub fn built_binary(name: &str) -> PathBuf {
    target_dir().join("debug").join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}
