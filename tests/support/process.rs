//! Example binaries run as child processes: [`example_bin`] builds (or confirms fresh) an example for the test's
//! profile, [`ServerProcess`] runs one on a free port and kills it on drop, [`conformance_node`] runs the
//! `conformance` example as a node of a cluster.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::free_port;
use super::ws::ws_url;

/// How long [`ServerProcess::start`] waits for the `listening on` log line.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// How many times [`ServerProcess::start`] retries when the server exits before it is ready (the free port
/// found by binding `127.0.0.1:0` may have been taken by someone else in the meantime).
const START_ATTEMPTS: usize = 3;

/// The path of the example binary `name`, up to date with the sources.
///
/// The running test binary lives in `target/<profile>/deps/`; examples land in `target/<profile>/examples/`.
/// A plain `cargo test` builds every example before it runs the integration tests, but a filtered one
/// (`cargo test --test vectors`) does not, so the binary could be missing or stale. Therefore, when the test
/// runs under cargo (the `CARGO` environment variable is set), the first call for each `name` runs
/// `cargo build --example NAME` for the same profile and target directory (a no-op when it is fresh; cargo
/// does not hold its build lock while tests run). Run directly, the test uses whatever binary is there.
///
/// # Panics
/// If that build fails or the binary does not exist.
pub fn example_bin(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());

    let exe = std::env::current_exe().expect("cannot determine the test binary's path");
    let profile_dir = exe
        .parent() // deps/
        .and_then(|deps| deps.parent()) // target/<profile>/
        .unwrap_or_else(|| panic!("unexpected test binary location: {}", exe.display()));
    let path = profile_dir.join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX));

    if let Some(cargo) = std::env::var_os("CARGO") {
        // Held during the build, so concurrent tests of this binary build each example once.
        let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
        if !built.iter().any(|b| b == name) {
            let target_dir = profile_dir.parent().expect("target/<profile> has a parent");
            let mut command = Command::new(cargo);
            command
                .args(["build", "--quiet", "--example", name, "--manifest-path"])
                .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
                .arg("--target-dir")
                .arg(target_dir);
            match profile_dir.file_name().and_then(|p| p.to_str()) {
                Some("debug") => {}
                Some("release") => {
                    command.arg("--release");
                }
                Some(profile) => {
                    command.args(["--profile", profile]);
                }
                None => {}
            }
            let output = command.output().unwrap_or_else(|e| panic!("cannot run `cargo build --example {name}`: {e}"));
            assert!(
                output.status.success(),
                "`cargo build --example {name}` failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
            built.push(name.to_owned());
        }
    }

    assert!(
        path.is_file(),
        "example binary `{name}` not found at {}; build it with `cargo build --example {name}` (or run `cargo test`)",
        path.display()
    );
    path
}

/// Output captured from a child process (stdout and stderr interleaved, by line, ANSI escapes removed).
#[derive(Default)]
struct Output {
    lines: Mutex<OutputState>,
    changed: Condvar,
}

#[derive(Default)]
struct OutputState {
    lines: Vec<String>,
    /// Number of pipes (stdout, stderr) that reached end of file.
    closed: usize,
}

/// An example binary running as a child process on a free local port; killed on drop.
///
/// ```ignore
/// let server = ServerProcess::start("conformance");
/// let mut client = Client::connect(&server.ws_url("vsn=2.0.0")).await;
/// ```
pub struct ServerProcess {
    child: Child,
    port: u16,
    output: Arc<Output>,
    name: String,
}

impl ServerProcess {
    /// Starts the example `name` (see [`example_bin`]) and waits until it accepts connections.
    ///
    /// The child gets `PORT` (a free port), `NO_COLOR=1` and `RUST_LOG=info`.
    ///
    /// # Panics
    /// If the binary is missing, cannot be spawned, exits early, or does not log
    /// `listening on 127.0.0.1:PORT` within [`STARTUP_TIMEOUT`].
    pub fn start(name: &str) -> ServerProcess {
        ServerProcess::start_with_env(name, &[])
    }

    /// Like [`start`](ServerProcess::start), with extra environment variables for the child (they may also
    /// override `RUST_LOG`).
    pub fn start_with_env(name: &str, env: &[(&str, &str)]) -> ServerProcess {
        ServerProcess::start_limited(name, env, None)
    }

    /// Like [`start_with_env`](ServerProcess::start_with_env), with the child's open-files limit lowered to
    /// `max_open_files` (through the shell's `ulimit`).
    pub fn start_limited(name: &str, env: &[(&str, &str)], max_open_files: Option<u32>) -> ServerProcess {
        let bin = example_bin(name);
        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let mut command = match max_open_files {
                None => Command::new(&bin),
                Some(limit) => {
                    let mut sh = Command::new("sh");
                    sh.arg("-c").arg(format!("ulimit -n {limit} && exec \"$0\"")).arg(&bin);
                    sh
                }
            };
            command
                .env("PORT", port.to_string())
                .env("NO_COLOR", "1")
                .env("RUST_LOG", "info")
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child =
                command.spawn().unwrap_or_else(|e| panic!("cannot spawn example `{name}` ({}): {e}", bin.display()));
            let output = Arc::new(Output::default());
            capture(child.stdout.take().expect("piped stdout"), &output);
            capture(child.stderr.take().expect("piped stderr"), &output);
            let server = ServerProcess { child, port, output, name: name.to_owned() };

            let ready = format!("listening on 127.0.0.1:{port}");
            match server.wait_for(|line| contains_token(line, &ready), STARTUP_TIMEOUT) {
                Ok(_) => return server,
                Err(WaitError::Exited) => {
                    // Most likely the port was taken between our probe and the child's bind: try another.
                    last_failure = format!("exited before it was ready; output:\n{}", server.logs());
                }
                Err(WaitError::Timeout) => {
                    let logs = server.logs();
                    drop(server); // kill it before panicking (and without printing its output twice)
                    panic!("example `{name}` did not log `{ready}` within {STARTUP_TIMEOUT:?}; output so far:\n{logs}");
                }
            }
        }
        panic!("example `{name}` failed to start {START_ATTEMPTS} times; last attempt {last_failure}");
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory (VmRSS), in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// The port the server listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The WebSocket URL of its socket (see [`ws_url`]).
    pub fn ws_url(&self, query: &str) -> String {
        ws_url(self.addr(), query)
    }

    /// Everything the server printed so far (stdout and stderr, by line, ANSI escapes removed).
    pub fn logs(&self) -> String {
        self.output.lines.lock().unwrap().lines.join("\n")
    }

    /// Waits (blocking) until a log line contains `needle`, and returns that line.
    ///
    /// # Panics
    /// If no such line appears within `timeout` or the process exits first.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        match self.wait_for(|line| line.contains(needle), timeout) {
            Ok(line) => line,
            Err(e) => panic!("example `{}` {e} before logging `{needle}`; output:\n{}", self.name, self.logs()),
        }
    }

    /// Sends it SIGTERM (what Ctrl-C or a service manager does) and waits up to `timeout` for it to exit.
    ///
    /// # Panics
    /// If it is still running after `timeout`.
    pub fn terminate(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let pid = self.pid().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("`kill` runs");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be waited for") {
                return status;
            }
            assert!(Instant::now() < deadline, "example `{}` still runs {timeout:?} after SIGTERM", self.name);
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until a captured line satisfies `pred` (checking lines already captured first).
    fn wait_for(&self, pred: impl Fn(&str) -> bool, timeout: Duration) -> Result<String, WaitError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.output.lines.lock().unwrap();
        let mut seen = 0;
        loop {
            if let Some(line) = state.lines[seen..].iter().find(|line| pred(line)) {
                return Ok(line.clone());
            }
            seen = state.lines.len();
            if state.closed == 2 {
                return Err(WaitError::Exited);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(WaitError::Timeout);
            }
            state = self.output.changed.wait_timeout(state, deadline - now).unwrap().0;
        }
    }
}

/// The `conformance` example as the node `name` of a cluster on the Redis at `redis_port`, over Redis channel
/// `channel`, with `env` added to its environment.
pub fn conformance_node(redis_port: u16, channel: &str, name: &str, env: &[(&str, &str)]) -> ServerProcess {
    let url = format!("redis://127.0.0.1:{redis_port}");
    let mut vars = vec![("REDIS_URL", url.as_str()), ("NODE_NAME", name), ("REDIS_CHANNEL", channel)];
    vars.extend_from_slice(env);
    let server = ServerProcess::start_with_env("conformance", &vars);
    // Said before `listening on`; missing means the example ignored REDIS_URL.
    server.wait_for_log("PubSub connected to Redis", Duration::from_millis(500));
    server
}

#[derive(Debug)]
enum WaitError {
    Timeout,
    Exited,
}

impl std::fmt::Display for WaitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitError::Timeout => write!(f, "timed out"),
            WaitError::Exited => write!(f, "exited"),
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!("---- output of example `{}` (port {}) ----\n{}\n----", self.name, self.port, self.logs());
        }
    }
}

/// Copies `pipe` line by line into `output` on a background thread (which also keeps the pipe drained).
fn capture(pipe: impl Read + Send + 'static, output: &Arc<Output>) {
    let output = Arc::clone(output);
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = strip_ansi(&String::from_utf8_lossy(&buf));
                    output.lines.lock().unwrap().lines.push(line.trim_end().to_owned());
                    output.changed.notify_all();
                }
            }
        }
        output.lines.lock().unwrap().closed += 1;
        output.changed.notify_all();
    });
}

/// `haystack` contains `needle` not immediately followed by a digit (so port 4001 does not match 40011).
fn contains_token(haystack: &str, needle: &str) -> bool {
    haystack
        .match_indices(needle)
        .any(|(i, _)| !haystack[i + needle.len()..].chars().next().is_some_and(|c| c.is_ascii_digit()))
}

/// Removes ANSI escape sequences (CSI `ESC [ ... final` and two-byte `ESC x`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        // A two-byte escape `ESC x` is dropped whole; a CSI `ESC [` runs up to a final byte in 0x40..=0x7e.
        if let Some('[') = chars.next() {
            for c in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}
