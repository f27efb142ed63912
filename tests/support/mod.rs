//! Shared harness for the root package's integration tests.
//!
//! Use it from a test file with `mod support;`. It provides:
//!
//! - [`example_bin`]: the path of an example binary, built (or confirmed fresh) for the test's profile;
//! - [`ServerProcess`]: runs an example (e.g. `conformance`) on a free port, waits until it logs
//!   `listening on 127.0.0.1:PORT`, and kills it on drop (printing its output if the test panicked);
//! - [`Client`]: a raw WebSocket client (tokio-tungstenite) that sends exact frames and asserts on exact
//!   frames, with timeouts so that a missing frame fails the test instead of hanging it;
//! - small helpers: [`assert_json_eq`], [`hex`], [`unhex`].
//!
//! Not every test file uses every item, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod redis;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long [`ServerProcess::start`] waits for the `listening on` log line.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`Client::recv`] (and the `expect_*` helpers) wait for a frame.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(2);

/// How many times [`ServerProcess::start`] retries when the server exits before it is ready (the free port
/// found by binding `127.0.0.1:0` may have been taken by someone else in the meantime).
const START_ATTEMPTS: usize = 3;

// ---------------------------------------------------------------------------------------------------------------
// Example binaries

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

// ---------------------------------------------------------------------------------------------------------------
// Server process

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
        let bin = example_bin(name);
        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let mut command = Command::new(&bin);
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

    /// The port the server listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The WebSocket URL of the socket mounted at `/socket`, with `query` (without `?`; may be empty),
    /// e.g. `ws_url("vsn=2.0.0")` → `ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0`.
    pub fn ws_url(&self, query: &str) -> String {
        let base = format!("ws://127.0.0.1:{}/socket/websocket", self.port);
        if query.is_empty() { base } else { format!("{base}?{query}") }
    }

    /// An HTTP URL on the server: `http_url("/token?user_id=1")` → `http://127.0.0.1:PORT/token?user_id=1`.
    pub fn http_url(&self, path: &str) -> String {
        let sep = if path.starts_with('/') { "" } else { "/" };
        format!("http://127.0.0.1:{}{sep}{path}", self.port)
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

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
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

// ---------------------------------------------------------------------------------------------------------------
// WebSocket client

/// One frame received by a [`Client`]. Ping/pong frames are handled by tungstenite and never surface here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
    /// The connection closed: `Some(code)` for a close frame with a status code, `None` for a close frame
    /// without one or a connection that ended without a close frame.
    Close(Option<u16>),
}

impl Frame {
    /// A one-line description for assertion messages (binary frames in hex).
    pub fn describe(&self) -> String {
        match self {
            Frame::Text(text) => format!("text frame {text}"),
            Frame::Binary(bytes) => format!("binary frame {}", hex(bytes)),
            Frame::Close(Some(code)) => format!("close (code {code})"),
            Frame::Close(None) => "close (no code)".to_owned(),
        }
    }
}

/// A raw WebSocket client: sends exact frames, receives frames with a timeout.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    closed: bool,
}

impl Client {
    /// Connects to `url` (e.g. [`ServerProcess::ws_url`]).
    ///
    /// # Panics
    /// If the handshake fails (use [`try_connect`](Client::try_connect) to inspect a refusal).
    pub async fn connect(url: &str) -> Client {
        match Client::try_connect(url).await {
            Ok(client) => client,
            Err(e) => panic!("WebSocket connect to {url} failed: {}", describe_ws_error(&e)),
        }
    }

    /// Connects to `url`; a refused upgrade comes back as `Err(tungstenite::Error::Http(response))`, whose
    /// `status()` is the HTTP status (e.g. 403).
    pub async fn try_connect(url: &str) -> Result<Client, tungstenite::Error> {
        let (ws, _response) =
            tokio::time::timeout(RECV_TIMEOUT, tokio_tungstenite::connect_async(url)).await.unwrap_or_else(|_| {
                panic!("WebSocket connect to {url} timed out after {RECV_TIMEOUT:?}");
            })?;
        Ok(Client { ws, closed: false })
    }

    /// Sends a text frame with exactly `text`.
    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap_or_else(|e| panic!("sending text frame {text}: {e}"));
    }

    /// Sends a binary frame with exactly `bytes`.
    pub async fn send_binary(&mut self, bytes: &[u8]) {
        self.ws
            .send(Message::binary(bytes.to_vec()))
            .await
            .unwrap_or_else(|e| panic!("sending binary frame {}: {e}", hex(bytes)));
    }

    /// The next frame, waiting at most [`RECV_TIMEOUT`].
    ///
    /// # Panics
    /// If no frame arrives in time.
    pub async fn recv(&mut self) -> Frame {
        self.recv_timeout(RECV_TIMEOUT).await
    }

    /// The next frame, waiting at most `timeout`.
    ///
    /// # Panics
    /// If no frame arrives in time.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Frame {
        match self.try_recv(timeout).await {
            Some(frame) => frame,
            None => panic!("no frame received within {timeout:?}"),
        }
    }

    /// The next frame, or `None` if none arrives within `timeout`. After the connection closed, every call
    /// returns `Some(Frame::Close(None))`.
    pub async fn try_recv(&mut self, timeout: Duration) -> Option<Frame> {
        if self.closed {
            return Some(Frame::Close(None));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next()).await.ok()?;
            let frame = match next {
                None => Frame::Close(None),
                Some(Ok(Message::Text(text))) => Frame::Text(text.as_str().to_owned()),
                Some(Ok(Message::Binary(bytes))) => Frame::Binary(bytes.to_vec()),
                Some(Ok(Message::Close(frame))) => Frame::Close(frame.map(|f| u16::from(f.code))),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Err(
                    tungstenite::Error::ConnectionClosed
                    | tungstenite::Error::AlreadyClosed
                    | tungstenite::Error::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake),
                )) => Frame::Close(None),
                // A reset connection is a close without a code.
                Some(Err(tungstenite::Error::Io(_))) => Frame::Close(None),
                Some(Err(e)) => panic!("WebSocket error while receiving: {e}"),
            };
            if matches!(frame, Frame::Close(_)) {
                self.closed = true;
            }
            return Some(frame);
        }
    }

    /// Receives one frame and asserts it is a text frame whose JSON equals `expected` (a JSON text), compared
    /// as [`serde_json::Value`]s: object key order does not matter, array order does. Returns the parsed frame.
    ///
    /// # Panics
    /// If no frame arrives within [`RECV_TIMEOUT`], it is not text, not JSON, or differs.
    pub async fn expect_text(&mut self, expected: &str) -> Value {
        match self.recv().await {
            Frame::Text(actual) => {
                assert_json_eq(&actual, expected, "");
                serde_json::from_str(&actual).expect("checked by assert_json_eq")
            }
            other => panic!("expected text frame {expected}\n but got {}", other.describe()),
        }
    }

    /// Receives one frame and asserts it is a binary frame with exactly `expected` bytes.
    pub async fn expect_binary(&mut self, expected: &[u8]) {
        match self.recv().await {
            Frame::Binary(actual) => {
                assert!(
                    actual == expected,
                    "binary frame mismatch\nexpected: {}\n     got: {}",
                    hex(expected),
                    hex(&actual)
                );
            }
            other => panic!("expected binary frame {}\n but got {}", hex(expected), other.describe()),
        }
    }

    /// Receives one frame and asserts it is a close; returns its code.
    pub async fn expect_close(&mut self) -> Option<u16> {
        match self.recv().await {
            Frame::Close(code) => code,
            other => panic!("expected the connection to close, but got {}", other.describe()),
        }
    }

    /// Asserts that no frame (and no close) arrives within `duration`.
    pub async fn expect_silence(&mut self, duration: Duration) {
        if let Some(frame) = self.try_recv(duration).await {
            panic!("expected no frame within {duration:?}, but got {}", frame.describe());
        }
    }

    /// Sends a close frame (code 1000) and waits briefly for the server's close.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        let _ = self.try_recv(RECV_TIMEOUT).await;
    }
}

fn describe_ws_error(e: &tungstenite::Error) -> String {
    match e {
        tungstenite::Error::Http(response) => format!("HTTP {}", response.status()),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

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
