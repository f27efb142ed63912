//! The processes of a workload: the server under test, pinned to core 0, and the load generators, pinned to core
//! 1; and what is read of them (and of the kernel) around a measured phase.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use channels_bench::{proc_cpu_seconds, proc_cpu_split, proc_rss_kib};
use serde_json::Value;

use crate::cfg::{Cfg, Paths, Server};
use crate::results::Figures;

/// The core servers run on, and the one load generators run on.
const SERVER_CORE: &str = "0";
const LOAD_CORE: &str = "1";

/// Runs the workloads: what they are given, and what they share.
pub struct Driver {
    pub cfg: Cfg,
    pub paths: Paths,
    /// Which 127.0.0.x the next load generator binds, so no two exhaust the same source ports.
    pub next_src: u32,
    /// The shared-memory counters of the fan-out workloads.
    pub shm_path: String,
}

/// A running server process.
pub struct ServerProc {
    child: Child,
    pid: u32,
}

impl ServerProc {
    pub fn rss(&self) -> u64 {
        proc_rss_kib(self.pid).unwrap_or(0)
    }
    pub fn stop(mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The load-generator processes of one workload.
pub struct Loadgens {
    children: Vec<Child>,
    stdins: Vec<ChildStdin>,
    rx: mpsc::Receiver<(usize, String)>,
}

impl Loadgens {
    /// Runs `cmds`, each steered through its stdin and stdout.
    fn spawn(cmds: Vec<Command>) -> Loadgens {
        let (tx, rx) = mpsc::channel();
        let mut children = Vec::new();
        let mut stdins = Vec::new();
        for (i, mut cmd) in cmds.into_iter().enumerate() {
            cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
            let mut child = cmd.spawn().expect("spawning a load generator");
            stdins.push(child.stdin.take().expect("stdin"));
            let stdout = child.stdout.take().expect("stdout");
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if tx.send((i, line)).is_err() {
                        break;
                    }
                }
            });
            children.push(child);
        }
        Loadgens { children, stdins, rx }
    }

    /// CPU seconds of every load-generator process.
    pub fn cpu(&self) -> f64 {
        self.children.iter().map(|c| proc_cpu_seconds(c.id()).unwrap_or(0.0)).sum()
    }

    pub fn send_all(&mut self, line: &str) {
        for s in &mut self.stdins {
            let _ = writeln!(s, "{line}");
            let _ = s.flush();
        }
    }

    /// Waits for a `tag` line from every process.
    pub fn wait_all(&mut self, tag: &str, limit: Duration) -> Result<Vec<Value>, String> {
        self.wait_all_sampling(tag, limit, limit, || {})
    }

    /// Waits for a `tag` line from every process, calling `sample` every `every` meanwhile.
    pub fn wait_all_sampling(
        &mut self,
        tag: &str,
        limit: Duration,
        every: Duration,
        mut sample: impl FnMut(),
    ) -> Result<Vec<Value>, String> {
        let deadline = Instant::now() + limit;
        let mut next_sample = Instant::now() + every;
        let mut got: Vec<Option<Value>> = vec![None; self.children.len()];
        while got.iter().any(Option::is_none) {
            let now = Instant::now();
            if now >= next_sample {
                sample();
                next_sample = now + every;
            }
            let left = deadline.saturating_duration_since(now);
            if left.is_zero() {
                return Err(format!("timed out waiting for {tag}"));
            }
            match self.rx.recv_timeout(left.min(next_sample.saturating_duration_since(now))) {
                Ok((i, line)) => {
                    if let Some(rest) = line.strip_prefix(tag) {
                        got[i] = Some(serde_json::from_str(rest.trim()).map_err(|e| format!("bad {tag}: {e}"))?);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(format!("a load generator died before {tag}")),
            }
        }
        Ok(got.into_iter().flatten().collect())
    }

    pub fn exit(mut self) {
        self.send_all("EXIT");
        drop(self.stdins);
        let deadline = Instant::now() + Duration::from_secs(10);
        for c in &mut self.children {
            loop {
                match c.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
    }
}

/// Kernel counters that explain tail latencies on loopback: packets dropped by the per-CPU input backlog
/// (/proc/net/softnet_stat, second column; `net.core.netdev_max_backlog`), TCP segments retransmitted, and SYNs
/// dropped by full listen queues.
fn kernel_counters() -> (u64, u64, u64) {
    let drops = std::fs::read_to_string("/proc/net/softnet_stat")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1).and_then(|h| u64::from_str_radix(h, 16).ok()))
        .sum();
    let field = |file: &str, prefix: &str, name: &str| -> u64 {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(prefix)).collect();
        if lines.len() < 2 {
            return 0;
        }
        let names: Vec<&str> = lines[0].split_whitespace().collect();
        let values: Vec<&str> = lines[1].split_whitespace().collect();
        names.iter().position(|n| *n == name).and_then(|i| values.get(i)?.parse().ok()).unwrap_or(0)
    };
    (drops, field("/proc/net/snmp", "Tcp:", "RetransSegs"), field("/proc/net/netstat", "TcpExt:", "ListenOverflows"))
}

/// What is read before and after a measured phase.
pub struct Snap {
    server_cpu: f64,
    server_user: f64,
    loadgen_cpu: f64,
    kernel: (u64, u64, u64),
}

impl Snap {
    pub fn take(srv: &ServerProc, lg: &Loadgens) -> Snap {
        let (user, sys) = proc_cpu_split(srv.pid).unwrap_or((f64::NAN, f64::NAN));
        Snap { server_cpu: user + sys, server_user: user, loadgen_cpu: lg.cpu(), kernel: kernel_counters() }
    }

    /// Records the phase's server CPU (`{k}_cpu`), load-generator CPU, and kernel counters; returns the server CPU.
    pub fn record(&self, srv: &ServerProc, lg: &Loadgens, k: &str, f: &mut Figures) -> f64 {
        let now = Snap::take(srv, lg);
        let cpu = now.server_cpu - self.server_cpu;
        f.insert(format!("{k}_cpu"), cpu);
        f.insert(format!("{k}_cpu_user"), now.server_user - self.server_user);
        f.insert(format!("{k}_lg_cpu"), now.loadgen_cpu - self.loadgen_cpu);
        f.insert(format!("{k}_drops"), now.kernel.0.saturating_sub(self.kernel.0) as f64);
        f.insert(format!("{k}_retrans"), now.kernel.1.saturating_sub(self.kernel.1) as f64);
        f.insert(format!("{k}_syndrops"), now.kernel.2.saturating_sub(self.kernel.2) as f64);
        cpu
    }
}

impl Driver {
    fn src(&mut self) -> String {
        let ip = format!("127.0.0.{}", 10 + self.next_src % 240);
        self.next_src += 1;
        ip
    }

    pub fn start_server(&self, server: Server, label: &str) -> Result<ServerProc, String> {
        self.start_server_env(server, label, &[])
    }

    /// [`start_server`](Self::start_server) with these variables in its environment.
    pub fn start_server_env(&self, server: Server, label: &str, env: &[(&str, String)]) -> Result<ServerProc, String> {
        let log =
            File::create(self.paths.logs.join(format!("{}-{label}.log", server.name()))).map_err(|e| e.to_string())?;
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", SERVER_CORE]);
        match server {
            Server::Floor => cmd.arg(self.paths.bin.join("floor")),
            Server::Ours => cmd.arg(self.paths.bin.join("bench_server")),
            Server::SocketIo => cmd.arg("node").arg(self.paths.bench.join("socketio/server.js")),
        };
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd.arg(server.port().to_string());
        cmd.stdin(Stdio::null()).stdout(log.try_clone().map_err(|e| e.to_string())?).stderr(log);
        let child = cmd.spawn().map_err(|e| format!("starting {}: {e}", server.name()))?;
        let pid = child.id();
        let proc = ServerProc { child, pid };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(("127.0.0.1", server.port())).is_ok() {
                break;
            }
            if Instant::now() >= deadline {
                proc.stop();
                return Err(format!("{} did not listen on {}", server.name(), server.port()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Let the probe connection go and the process settle.
        std::thread::sleep(Duration::from_millis(500));
        Ok(proc)
    }

    /// Starts one load generator per (conns, offset, extra flags).
    pub fn spawn_loadgens(
        &mut self,
        server: Server,
        workload: &str,
        parts: &[(usize, usize, Vec<String>)],
    ) -> Loadgens {
        let cmds = parts
            .iter()
            .map(|(conns, offset, extra)| {
                let mut cmd = self.on_load_core("loadgen", server);
                cmd.args(["--proto", server.proto(), "--workload", workload]);
                cmd.args(["--conns", &conns.to_string(), "--offset", &offset.to_string(), "--max-secs", "600"]);
                cmd.args(extra);
                cmd
            })
            .collect();
        Loadgens::spawn(cmds)
    }

    /// Starts W10's attacker, steered as a load generator but on the server's core: its own CPU then slows only
    /// the server (a harder test for it), never the clients whose latency is measured.
    pub fn spawn_attacker(&mut self, server: Server) -> Loadgens {
        let cmd = self.on_core(SERVER_CORE, "attacker", server);
        Loadgens::spawn(vec![cmd])
    }

    /// A command running one of our binaries on the load core, against `server`, from its own 127.0.0.x.
    fn on_load_core(&mut self, bin: &str, server: Server) -> Command {
        self.on_core(LOAD_CORE, bin, server)
    }

    fn on_core(&mut self, core: &str, bin: &str, server: Server) -> Command {
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", core]).arg(self.paths.bin.join(bin));
        cmd.args(["--addr", &format!("127.0.0.1:{}", server.port()), "--src", &self.src()]);
        cmd
    }
}
