//! Redis for the tests of several nodes: the machine's shared server, and servers of a test's own.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The port of the machine's Redis.
pub const SHARED_REDIS_PORT: u16 = 6379;

/// The port of the machine's Redis, after checking that it answers.
///
/// # Panics
/// When it does not: these tests need it and must not pass without it.
pub fn shared_redis() -> u16 {
    match redis_command(SHARED_REDIS_PORT, &[b"PING"]) {
        Ok(reply) if reply.starts_with(b"+PONG") => SHARED_REDIS_PORT,
        outcome => panic!(
            "these tests need Redis on 127.0.0.1:{SHARED_REDIS_PORT}, which answered {outcome:?}; start one with \
             `redis-server --daemonize yes --port {SHARED_REDIS_PORT} --save '' --appendonly no` (`.ci/run` does)"
        ),
    }
}

/// Sends one command to the Redis on `port` and returns the start of its reply.
pub fn redis_command(port: u16, args: &[&[u8]]) -> std::io::Result<Vec<u8>> {
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut command = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        command.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        command.extend_from_slice(arg);
        command.extend_from_slice(b"\r\n");
    }
    tcp.write_all(&command)?;
    let mut reply = vec![0; 256];
    let n = tcp.read(&mut reply)?;
    reply.truncate(n);
    Ok(reply)
}

/// A Redis channel no other test (or other user of the Redis) uses.
pub fn unique_channel() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::UNIX_EPOCH.elapsed().map_or(0, |d| d.subsec_nanos());
    format!("channels-test:{}:{nanos:08x}:{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A `redis-server` of the test's own, without persistence; killed on drop.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts `redis-server` on `port` and waits until it answers.
    pub fn start(port: u16) -> RedisServer {
        let mut server = RedisServer { port, child: None };
        server.restart();
        server
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "redis-server is already running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run redis-server (install the redis-server package): {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !redis_command(self.port, &[b"PING"]).is_ok_and(|reply| reply.starts_with(b"+PONG")) {
            assert!(Instant::now() < deadline, "redis-server on port {} did not answer within 5 s", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it (SIGKILL: no goodbye to its clients).
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("redis-server is running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Sends it `SIGSTOP` or `SIGCONT`, to make it hang or go on.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("redis-server is running").id();
        let status = Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status().unwrap();
        assert!(status.success(), "kill -{signal} {pid} failed");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
