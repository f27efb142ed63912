//! The benchmark driver: runs every workload against every server, several times, and writes the table.
//!
//! Each server runs pinned to core 0 (`taskset -c 0`), freshly started for each workload; the load generators
//! (several `loadgen` processes, each holding part of the connections) run pinned to core 1. Server CPU time is
//! utime+stime from /proc/PID/stat, RSS is VmRSS from /proc/PID/status, both read before and after each measured
//! phase. Every figure is the median of the runs with min–max; a run that loses a message, or fails a connection,
//! is a failed run and is not in the median.
//!
//! Usually started by `bench/run` (which builds everything first). Flags: `--quick` (1 run, short phases),
//! `--runs N`, `--servers floor,ours,socketio`, `--workloads w1,w2,w3,w4,w5,w6`, `--procs N` (load-generator
//! processes, default 2), `--update` / `--no-update` (rewrite the results sections of BENCHMARKS.md; default: on
//! for full runs, off for `--quick`).
//!
//! BENCHMARKS.md has two results sections: W1–W5 with the machine and the issue #10 targets, and W6 (slow
//! consumer) with the issue #11 targets. A run rewrites only the sections of the workloads it ran, so
//! `--workloads w6` records W6 and leaves W1–W5 as they were. Likewise a run of a subset of the workloads writes
//! `bench/results/latest-<workloads>.{md,json}` instead of `latest.*`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use channels_bench::{
    Histogram, PORT_FLOOR, PORT_OURS, PORT_SOCKETIO, Shm, now_ns, proc_cpu_seconds, proc_cpu_split, proc_rss_kib,
};
use serde_json::{Value, json};

/// W6: broadcasts per second (1,000 subscribers: 50,000 deliveries/s, well under what one core serves).
const W6_RATE: f64 = 50.0;
/// W6: payload bytes of each broadcast.
const W6_PAYLOAD: usize = 1 << 10;
/// W6: length of each phase, full run and `--quick` (the stalled client's queue is full after ~23 s).
const W6_SECS: f64 = 40.0;
const W6_SECS_QUICK: f64 = 30.0;
/// W6: the load generators read in chunks of this many bytes (the servers' 1 KiB would take two reads a frame).
const W6_READ_BUFFER: usize = 16 << 10;
/// W6: the frame the servers send for one broadcast, `[null,null,"bench:fanout","msg",{payload}]`, in bytes.
const W6_FRAME_OVERHEAD: usize = 33;
/// W6: latencies compared around the drop: broadcasts sent from this long before it …
const W6_NEAR_BEFORE: f64 = 1.0;
/// … to this long after it.
const W6_NEAR_AFTER: f64 = 2.0;

/// One W6 phase's broadcasts: (sent at, s since the phase's start; latency to the last healthy subscriber, ms, NaN
/// if one missed it).
type Series = Vec<(f64, f64)>;

/// p99 and max of the latencies of the broadcasts sent in `[from, to)`, with how many there were.
fn window(series: &Series, from: f64, to: f64) -> (f64, f64, usize) {
    let mut h = Histogram::default();
    let mut max: f64 = 0.0;
    for &(t, l) in series {
        if t >= from && t < to && !l.is_nan() {
            h.record((l * 1e6) as u64);
            max = max.max(l);
        }
    }
    (h.quantile(0.99) as f64 / 1e6, max, h.len() as usize)
}
/// W6: frames one connection's queue holds, in ours (`SocketConfig::outbox_capacity`) and in the floor.
const OUTBOX_FRAMES: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Server {
    Floor,
    Ours,
    SocketIo,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Floor => "floor",
            Server::Ours => "ours",
            Server::SocketIo => "socketio",
        }
    }
    fn title(self) -> &'static str {
        match self {
            Server::Floor => "floor (tokio-tungstenite)",
            Server::Ours => "ours (channels)",
            Server::SocketIo => "socket.io 4.8",
        }
    }
    fn port(self) -> u16 {
        match self {
            Server::Floor => PORT_FLOOR,
            Server::Ours => PORT_OURS,
            Server::SocketIo => PORT_SOCKETIO,
        }
    }
    fn proto(self) -> &'static str {
        match self {
            Server::SocketIo => "sio",
            _ => "phoenix",
        }
    }
}

#[derive(Clone, Debug)]
struct Cfg {
    quick: bool,
    runs: usize,
    servers: Vec<Server>,
    workloads: Vec<String>,
    procs: usize,
    update: bool,
    w1_sizes: Vec<usize>,
    w1_settle: f64,
    w2_subs: usize,
    w2_closed_secs: f64,
    w2_window: u64,
    w2_open_secs: f64,
    w2_rate: f64,
    w3_rooms: usize,
    w3_members: usize,
    w3_secs: f64,
    w3_window: u64,
    w4_clients: usize,
    w4_secs: f64,
    w5_conns: usize,
    w5_concurrency: usize,
    w6_subs: usize,
    w6_rate: f64,
    w6_payload: usize,
    w6_secs: f64,
}

/// Every workload, the default set.
const WORKLOADS: [&str; 6] = ["w1", "w2", "w3", "w4", "w5", "w6"];

fn parse_cfg() -> Result<Cfg, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut cfg = Cfg {
        quick,
        runs: if quick { 1 } else { 3 },
        servers: vec![Server::Floor, Server::Ours, Server::SocketIo],
        workloads: WORKLOADS.map(String::from).to_vec(),
        procs: 2,
        update: !quick,
        w1_sizes: vec![1000, 5000, 18000],
        w1_settle: if quick { 1.0 } else { 2.0 },
        w2_subs: 10_000,
        w2_closed_secs: if quick { 3.0 } else { 10.0 },
        w2_window: 2,
        w2_open_secs: if quick { 4.0 } else { 20.0 },
        w2_rate: 5.0,
        w3_rooms: 1000,
        w3_members: 10,
        w3_secs: if quick { 3.0 } else { 10.0 },
        w3_window: 1,
        w4_clients: 100,
        w4_secs: if quick { 3.0 } else { 10.0 },
        w5_conns: 18_000,
        w5_concurrency: 64,
        w6_subs: 1000,
        w6_rate: W6_RATE,
        w6_payload: W6_PAYLOAD,
        w6_secs: if quick { W6_SECS_QUICK } else { W6_SECS },
    };
    if quick {
        cfg.w1_sizes = vec![1000, 18000];
    }
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--quick" => {}
            "--update" => cfg.update = true,
            "--no-update" => cfg.update = false,
            "--runs" => cfg.runs = val()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--procs" => cfg.procs = val()?.parse::<usize>().map_err(|e| format!("--procs: {e}"))?.max(1),
            "--servers" => {
                cfg.servers = val()?
                    .split(',')
                    .map(|s| match s {
                        "floor" => Ok(Server::Floor),
                        "ours" => Ok(Server::Ours),
                        "socketio" | "sio" => Ok(Server::SocketIo),
                        _ => Err(format!("unknown server {s}")),
                    })
                    .collect::<Result<_, _>>()?
            }
            "--workloads" => cfg.workloads = val()?.split(',').map(String::from).collect(),
            _ => return Err(format!("unknown flag {a}")),
        }
    }
    Ok(cfg)
}

/// Where the binaries, the socket.io server and the outputs are.
struct Paths {
    bin: PathBuf,
    bench: PathBuf,
    logs: PathBuf,
}

impl Paths {
    fn new() -> Paths {
        let exe = std::env::current_exe().expect("current exe");
        let bin = exe.parent().expect("bin dir").to_path_buf();
        let bench = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let logs = bench.join("target/bench-logs");
        std::fs::create_dir_all(&logs).expect("logs dir");
        Paths { bin, bench, logs }
    }
}

struct Driver {
    cfg: Cfg,
    paths: Paths,
    next_src: u32,
    shm_path: String,
}

/// A running server process.
struct ServerProc {
    child: Child,
    pid: u32,
}

impl ServerProc {
    fn rss(&self) -> u64 {
        proc_rss_kib(self.pid).unwrap_or(0)
    }
    fn stop(mut self) {
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
struct Loadgens {
    children: Vec<Child>,
    stdins: Vec<ChildStdin>,
    rx: mpsc::Receiver<(usize, String)>,
}

impl Loadgens {
    /// CPU seconds of every load-generator process.
    fn cpu(&self) -> f64 {
        self.children.iter().map(|c| proc_cpu_seconds(c.id()).unwrap_or(0.0)).sum()
    }

    fn send_all(&mut self, line: &str) {
        for s in &mut self.stdins {
            let _ = writeln!(s, "{line}");
            let _ = s.flush();
        }
    }

    /// Waits for a `tag` line from every process.
    fn wait_all(&mut self, tag: &str, limit: Duration) -> Result<Vec<Value>, String> {
        self.wait_all_sampling(tag, limit, limit, || {})
    }

    /// Waits for a `tag` line from every process, calling `sample` every `every` meanwhile.
    fn wait_all_sampling(
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

    fn exit(mut self) {
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

/// One measured figure of one run.
type Figures = BTreeMap<String, f64>;

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
    (
        drops,
        field("/proc/net/snmp", "Tcp:", "RetransSegs"),
        field("/proc/net/netstat", "TcpExt:", "ListenOverflows"),
    )
}

/// What is read before and after a measured phase.
struct Snap {
    server_cpu: f64,
    server_user: f64,
    loadgen_cpu: f64,
    kernel: (u64, u64, u64),
}

impl Snap {
    fn take(srv: &ServerProc, lg: &Loadgens) -> Snap {
        let (user, sys) = proc_cpu_split(srv.pid).unwrap_or((f64::NAN, f64::NAN));
        Snap { server_cpu: user + sys, server_user: user, loadgen_cpu: lg.cpu(), kernel: kernel_counters() }
    }

    /// Records the phase's server CPU (`{k}_cpu`), load-generator CPU, and kernel counters; returns the server CPU.
    fn record(&self, srv: &ServerProc, lg: &Loadgens, k: &str, f: &mut Figures) -> f64 {
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

fn split(n: usize, parts: usize, align: usize) -> Vec<(usize, usize)> {
    // (count, offset), counts multiples of `align`
    let units = n / align;
    let mut out = Vec::new();
    let mut offset = 0;
    for p in 0..parts {
        let u = units / parts + usize::from(p < units % parts);
        if u > 0 {
            out.push((u * align, offset));
            offset += u * align;
        }
    }
    out
}

fn json_u64(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or(0)
}

fn sum(vs: &[Value], k: &str) -> u64 {
    vs.iter().map(|v| json_u64(v, k)).sum()
}

fn merged_hist(vs: &[Value]) -> Histogram {
    let mut h = Histogram::default();
    for v in vs {
        h.merge(&Histogram::from_json(&v["hist"]));
    }
    h
}

fn check_setup(ready: &[Value], expected: usize) -> Result<(), String> {
    let (joined, failed) = (sum(ready, "joined"), sum(ready, "failed"));
    if failed > 0 || joined != expected as u64 {
        return Err(format!("{joined} of {expected} connections joined, {failed} failed"));
    }
    Ok(())
}

impl Driver {
    fn src(&mut self) -> String {
        let ip = format!("127.0.0.{}", 10 + self.next_src % 240);
        self.next_src += 1;
        ip
    }

    fn start_server(&self, server: Server, label: &str) -> Result<ServerProc, String> {
        let log = File::create(self.paths.logs.join(format!("{}-{label}.log", server.name()))).map_err(|e| e.to_string())?;
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", "0"]);
        match server {
            Server::Floor => cmd.arg(self.paths.bin.join("floor")),
            Server::Ours => cmd.arg(self.paths.bin.join("bench_server")),
            Server::SocketIo => cmd.arg("node").arg(self.paths.bench.join("socketio/server.js")),
        };
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
    fn spawn_loadgens(&mut self, server: Server, workload: &str, parts: &[(usize, usize, Vec<String>)]) -> Loadgens {
        let (tx, rx) = mpsc::channel();
        let mut children = Vec::new();
        let mut stdins = Vec::new();
        for (i, (conns, offset, extra)) in parts.iter().enumerate() {
            let mut cmd = Command::new("taskset");
            cmd.args(["-c", "1"]).arg(self.paths.bin.join("loadgen"));
            cmd.args(["--proto", server.proto(), "--addr", &format!("127.0.0.1:{}", server.port())]);
            cmd.args(["--src", &self.src(), "--workload", workload]);
            cmd.args(["--conns", &conns.to_string(), "--offset", &offset.to_string(), "--max-secs", "600"]);
            cmd.args(extra);
            cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
            let mut child = cmd.spawn().expect("spawning loadgen");
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

    /// W1: memory per idle joined connection on a fresh server.
    fn w1(&mut self, server: Server, n: usize, label: &str) -> Result<Figures, String> {
        let srv = self.start_server(server, label)?;
        let (rss0, t0) = (srv.rss(), Instant::now());
        let parts: Vec<_> = split(n, self.cfg.procs, 1)
            .into_iter()
            .map(|(c, o)| (c, o, vec!["--concurrency".into(), "32".into()]))
            .collect();
        let mut lg = self.spawn_loadgens(server, "idle", &parts);
        let snap = Snap::take(&srv, &lg);
        let result = (|| {
            let ready = lg.wait_all("READY", Duration::from_secs(180))?;
            check_setup(&ready, n)?;
            let wall = t0.elapsed().as_secs_f64();
            let mut f = Figures::new();
            snap.record(&srv, &lg, &format!("w1_{n}"), &mut f);
            std::thread::sleep(Duration::from_secs_f64(self.cfg.w1_settle));
            let rss1 = srv.rss();
            f.insert(format!("w1_{n}_kib"), (rss1 as f64 - rss0 as f64) / n as f64);
            f.insert(format!("w1_{n}_rss_mib"), rss1 as f64 / 1024.0);
            f.insert(format!("w1_{n}_wall"), wall);
            Ok(f)
        })();
        lg.exit();
        srv.stop();
        result
    }

    /// W2: one topic, N subscribers; closed loop then open loop.
    fn w2(&mut self, server: Server, label: &str) -> Result<Figures, String> {
        Shm::create(&self.shm_path).map_err(|e| format!("shm: {e}"))?;
        let srv = self.start_server(server, label)?;
        let n = self.cfg.w2_subs;
        let parts: Vec<_> = split(n, self.cfg.procs, 1)
            .into_iter()
            .enumerate()
            .map(|(i, (c, o))| {
                let mut extra: Vec<String> =
                    ["--shm", &self.shm_path, "--total", &n.to_string(), "--concurrency", "64"].map(String::from).to_vec();
                if i == 0 {
                    extra.push("--publisher".into());
                }
                (c, o, extra)
            })
            .collect();
        let mut lg = self.spawn_loadgens(server, "fanout", &parts);
        let cfg = self.cfg.clone();
        let result = (|| {
            let ready = lg.wait_all("READY", Duration::from_secs(180))?;
            check_setup(&ready, n)?;
            let mut f = Figures::new();
            let mut failure = None;
            for (closed, secs, param) in
                [(true, cfg.w2_closed_secs, cfg.w2_window as f64), (false, cfg.w2_open_secs, cfg.w2_rate)]
            {
                std::thread::sleep(Duration::from_secs(1));
                let snap = Snap::take(&srv, &lg);
                let mode = if closed { "closed" } else { "open" };
                lg.send_all(&format!("GO {secs} {mode}:{param}"));
                let done = lg.wait_all("DONE", Duration::from_secs_f64(secs + 60.0))?;
                let k = if closed { "w2c" } else { "w2o" };
                let cpu = snap.record(&srv, &lg, k, &mut f);
                let d = &done[0];
                let (published, expected, received) =
                    (json_u64(d, "published"), json_u64(d, "expected"), json_u64(d, "received"));
                let wall = (json_u64(d, "t_end") - json_u64(d, "t_start")) as f64 / 1e9;
                let hist = Histogram::from_json(&d["hist"]);
                f.insert(format!("{k}_published"), published as f64);
                f.insert(format!("{k}_expected"), expected as f64);
                f.insert(format!("{k}_received"), received as f64);
                f.insert(format!("{k}_wall"), wall);
                f.insert(format!("{k}_p50_ms"), hist.quantile(0.5) as f64 / 1e6);
                f.insert(format!("{k}_p99_ms"), hist.quantile(0.99) as f64 / 1e6);
                f.insert(format!("{k}_max_ms"), hist.quantile(1.0) as f64 / 1e6);
                if closed {
                    f.insert("w2c_per_cpu".into(), received as f64 / cpu);
                    f.insert("w2c_per_s".into(), received as f64 / wall);
                } else {
                    f.insert("w2o_cpu_pct".into(), 100.0 * cpu / wall);
                }
                if received != expected || published == 0 {
                    failure.get_or_insert(format!(
                        "{mode} loop: {received} of {expected} deliveries ({published} broadcasts)"
                    ));
                }
            }
            match failure {
                Some(e) => Err(e),
                None => Ok(f),
            }
        })();
        lg.exit();
        srv.stop();
        let _ = std::fs::remove_file(&self.shm_path);
        result
    }

    /// W3: rooms × members chatting.
    fn w3(&mut self, server: Server, label: &str) -> Result<Figures, String> {
        let srv = self.start_server(server, label)?;
        let (rooms, members) = (self.cfg.w3_rooms, self.cfg.w3_members);
        let n = rooms * members;
        let parts: Vec<_> = split(n, self.cfg.procs, members)
            .into_iter()
            .map(|(c, o)| (c, o, ["--members", &members.to_string(), "--concurrency", "64"].map(String::from).to_vec()))
            .collect();
        let mut lg = self.spawn_loadgens(server, "rooms", &parts);
        let (secs, window) = (self.cfg.w3_secs, self.cfg.w3_window);
        let result = (|| {
            let ready = lg.wait_all("READY", Duration::from_secs(180))?;
            check_setup(&ready, n)?;
            std::thread::sleep(Duration::from_secs(1));
            let snap = Snap::take(&srv, &lg);
            lg.send_all(&format!("GO {secs} {window}"));
            let done = lg.wait_all("DONE", Duration::from_secs_f64(secs + 60.0))?;
            let mut f = Figures::new();
            let cpu = snap.record(&srv, &lg, "w3", &mut f);
            let (sent, received, expected) = (sum(&done, "sent"), sum(&done, "received"), sum(&done, "expected"));
            let t0 = done.iter().map(|d| json_u64(d, "t_start")).min().unwrap_or(0);
            let t1 = done.iter().map(|d| json_u64(d, "t_end")).max().unwrap_or(0);
            let wall = (t1 - t0) as f64 / 1e9;
            let hist = merged_hist(&done);
            f.insert("w3_sent".into(), sent as f64);
            f.insert("w3_expected".into(), expected as f64);
            f.insert("w3_received".into(), received as f64);
            f.insert("w3_wall".into(), wall);
            f.insert("w3_per_cpu".into(), received as f64 / cpu);
            f.insert("w3_per_s".into(), received as f64 / wall);
            f.insert("w3_p50_ms".into(), hist.quantile(0.5) as f64 / 1e6);
            f.insert("w3_p99_ms".into(), hist.quantile(0.99) as f64 / 1e6);
            if received != expected || sent == 0 {
                return Err(format!("{received} of {expected} deliveries ({sent} messages)"));
            }
            Ok(f)
        })();
        lg.exit();
        srv.stop();
        result
    }

    /// W4: request/reply round trips.
    fn w4(&mut self, server: Server, label: &str) -> Result<Figures, String> {
        let srv = self.start_server(server, label)?;
        let n = self.cfg.w4_clients;
        // One process: 100 connections fit, and a single event loop is the cheapest client.
        let parts = vec![(n, 0, ["--concurrency", "32"].map(String::from).to_vec())];
        let mut lg = self.spawn_loadgens(server, "rr", &parts);
        let secs = self.cfg.w4_secs;
        let result = (|| {
            let ready = lg.wait_all("READY", Duration::from_secs(60))?;
            check_setup(&ready, n)?;
            std::thread::sleep(Duration::from_secs(1));
            let snap = Snap::take(&srv, &lg);
            lg.send_all(&format!("GO {secs}"));
            let done = lg.wait_all("DONE", Duration::from_secs_f64(secs + 60.0))?;
            let mut f = Figures::new();
            let cpu = snap.record(&srv, &lg, "w4", &mut f);
            let (rts, errors) = (sum(&done, "round_trips"), sum(&done, "errors"));
            let t0 = done.iter().map(|d| json_u64(d, "t_start")).min().unwrap_or(0);
            let t1 = done.iter().map(|d| json_u64(d, "t_end")).max().unwrap_or(0);
            let wall = (t1 - t0) as f64 / 1e9;
            let hist = merged_hist(&done);
            f.insert("w4_round_trips".into(), rts as f64);
            f.insert("w4_errors".into(), errors as f64);
            f.insert("w4_wall".into(), wall);
            f.insert("w4_per_cpu".into(), rts as f64 / cpu);
            f.insert("w4_per_s".into(), rts as f64 / wall);
            f.insert("w4_p50_us".into(), hist.quantile(0.5) as f64 / 1e3);
            f.insert("w4_p99_us".into(), hist.quantile(0.99) as f64 / 1e3);
            if errors > 0 || rts == 0 {
                return Err(format!("{errors} failed round trips, {rts} ok"));
            }
            Ok(f)
        })();
        lg.exit();
        srv.stop();
        result
    }

    /// W5: connect-and-join storm on a fresh server.
    fn w5(&mut self, server: Server, label: &str) -> Result<Figures, String> {
        let srv = self.start_server(server, label)?;
        let n = self.cfg.w5_conns;
        let conc = self.cfg.w5_concurrency.to_string();
        let parts: Vec<_> = split(n, self.cfg.procs, 1)
            .into_iter()
            .map(|(c, o)| (c, o, vec!["--concurrency".to_string(), conc.clone()]))
            .collect();
        let mut lg = self.spawn_loadgens(server, "storm", &parts);
        let result = (|| {
            lg.wait_all("READY", Duration::from_secs(30))?;
            let (snap, rss0) = (Snap::take(&srv, &lg), srv.rss());
            lg.send_all("GO 0");
            let done = lg.wait_all("DONE", Duration::from_secs(300))?;
            let mut f = Figures::new();
            let cpu = snap.record(&srv, &lg, "w5", &mut f);
            let rss1 = srv.rss();
            check_setup(&done, n)?;
            let joined = sum(&done, "joined");
            let t0 = done.iter().map(|d| json_u64(d, "t_start")).min().unwrap_or(0);
            let t1 = done.iter().map(|d| json_u64(d, "t_end")).max().unwrap_or(0);
            let wall = (t1 - t0) as f64 / 1e9;
            let hist = merged_hist(&done);
            f.insert("w5_joined".into(), joined as f64);
            f.insert("w5_wall".into(), wall);
            f.insert("w5_us_per_join".into(), cpu * 1e6 / joined as f64);
            f.insert("w5_per_s".into(), joined as f64 / wall);
            f.insert("w5_p50_ms".into(), hist.quantile(0.5) as f64 / 1e6);
            f.insert("w5_p99_ms".into(), hist.quantile(0.99) as f64 / 1e6);
            f.insert("w5_rss_kib_per_conn".into(), (rss1 as f64 - rss0 as f64) / joined as f64);
            Ok(f)
        })();
        lg.exit();
        srv.stop();
        result
    }
}

impl Driver {
    /// W6, one phase on a fresh server: `w6_subs` clients join one topic, one of them publishes `w6_rate`
    /// broadcasts/s of `w6_payload` bytes for `w6_secs`. Phase A (`stall` false): every client reads. Phase B: one
    /// client (the first of the second load generator) stops reading right after its join. Keys `w6a_*`/`w6b_*`.
    fn w6(&mut self, server: Server, label: &str, stall: bool) -> (Result<Figures, String>, Series) {
        let mut series = Series::new();
        let r = self.w6_phase(server, label, stall, &mut series);
        (r, series)
    }

    fn w6_phase(&mut self, server: Server, label: &str, stall: bool, series: &mut Series) -> Result<Figures, String> {
        Shm::create(&self.shm_path).map_err(|e| format!("shm: {e}"))?;
        let k = if stall { "w6b" } else { "w6a" };
        let srv = self.start_server(server, &format!("{label}-{}", if stall { "b" } else { "a" }))?;
        let n = self.cfg.w6_subs;
        let procs = self.cfg.procs.max(2);
        let healthy = n - usize::from(stall);
        let parts: Vec<_> = split(n, procs, 1)
            .into_iter()
            .enumerate()
            .map(|(i, (c, o))| {
                let mut extra: Vec<String> = [
                    "--shm",
                    &self.shm_path,
                    "--total",
                    &healthy.to_string(),
                    "--concurrency",
                    "64",
                    "--payload",
                    &self.cfg.w6_payload.to_string(),
                    "--read-buffer",
                    &W6_READ_BUFFER.to_string(),
                ]
                .map(String::from)
                .to_vec();
                if i == 0 {
                    extra.extend(["--publisher".into(), "--series".into()]);
                }
                if i == 1 && stall {
                    extra.extend(["--stall".into(), "1".into()]);
                }
                (c, o, extra)
            })
            .collect();
        let mut lg = self.spawn_loadgens(server, "fanout", &parts);
        let (secs, rate) = (self.cfg.w6_secs, self.cfg.w6_rate);
        let result = (|| {
            let ready = lg.wait_all("READY", Duration::from_secs(120))?;
            check_setup(&ready, n)?;
            if sum(&ready, "stalled") != u64::from(stall) {
                return Err(format!("{} stalled clients, not {}", sum(&ready, "stalled"), u64::from(stall)));
            }
            std::thread::sleep(Duration::from_secs(1));
            let rss0 = srv.rss();
            let snap = Snap::take(&srv, &lg);
            let mut rss_peak = rss0;
            lg.send_all(&format!("GO {secs} open:{rate}"));
            let done = lg.wait_all_sampling("DONE", Duration::from_secs_f64(secs + 60.0), Duration::from_millis(100), || {
                rss_peak = rss_peak.max(srv.rss())
            })?;
            let mut f = Figures::new();
            let cpu = snap.record(&srv, &lg, k, &mut f);
            let rss1 = srv.rss();
            rss_peak = rss_peak.max(rss1);
            // The publisher's report (the other processes answer GO at once, with nothing).
            let d = done.iter().find(|d| d.get("published").is_some()).ok_or("no publisher report")?;
            let (published, expected, received) =
                (json_u64(d, "published"), json_u64(d, "expected"), json_u64(d, "received"));
            let t_start = json_u64(d, "t_start");
            let wall = (json_u64(d, "t_end") - t_start) as f64 / 1e9;
            let hist = Histogram::from_json(&d["hist"]);
            let (sent, lat) = (d["sent_us"].as_array(), d["latency_us"].as_array());
            for (t, l) in sent.into_iter().flatten().zip(lat.into_iter().flatten()) {
                let l = l.as_i64().unwrap_or(-1);
                series.push((t.as_u64().unwrap_or(0) as f64 / 1e6, if l < 0 { f64::NAN } else { l as f64 / 1e3 }));
            }
            f.insert(format!("{k}_published"), published as f64);
            f.insert(format!("{k}_expected"), expected as f64);
            f.insert(format!("{k}_received"), received as f64);
            f.insert(format!("{k}_lost"), expected.saturating_sub(received) as f64);
            f.insert(format!("{k}_wall"), wall);
            f.insert(format!("{k}_cpu_pct"), 100.0 * cpu / wall);
            f.insert(format!("{k}_p50_ms"), hist.quantile(0.5) as f64 / 1e6);
            f.insert(format!("{k}_p99_ms"), hist.quantile(0.99) as f64 / 1e6);
            f.insert(format!("{k}_max_ms"), hist.quantile(1.0) as f64 / 1e6);
            f.insert(format!("{k}_rss0_mib"), rss0 as f64 / 1024.0);
            f.insert(format!("{k}_rss_growth_mib"), (rss1 as f64 - rss0 as f64) / 1024.0);
            f.insert(format!("{k}_rss_peak_growth_mib"), (rss_peak as f64 - rss0 as f64) / 1024.0);
            // The stalled client's account: when the server closed its end, what it had buffered for it.
            lg.send_all("STALL");
            let stalled = lg.wait_all("STALLED", Duration::from_secs(60))?;
            let reports: Vec<&Value> = stalled.iter().flat_map(|s| s["stalled"].as_array().into_iter().flatten()).collect();
            if stall {
                let r = reports.first().ok_or("no report from the stalled client")?;
                let closed_at = json_u64(r, "closed_at");
                let dropped = closed_at > 0;
                f.insert("w6b_dropped".into(), f64::from(u8::from(dropped)));
                if dropped {
                    let after = closed_at.saturating_sub(t_start) as f64 / 1e9;
                    f.insert("w6b_drop_s".into(), after);
                    f.insert("w6b_drop_broadcasts".into(), (after * rate).min(published as f64));
                }
                f.insert("w6b_stalled_msgs".into(), json_u64(r, "msgs_read") as f64);
                f.insert("w6b_server_wqueue_kib".into(), json_u64(r, "server_wqueue_max") as f64 / 1024.0);
                f.insert("w6b_client_rqueue_kib".into(), json_u64(r, "client_rqueue_max") as f64 / 1024.0);
                eprintln!(
                    "  {} w6b: stalled client {}; it then read {} messages, {} bytes; stream: {}; server send queue \
                     ≤ {} B, its receive queue ≤ {} B; probe errors {}; heartbeat error {}",
                    server.name(),
                    if dropped {
                        format!("closed by the server {:.2} s into the phase", closed_at.saturating_sub(t_start) as f64 / 1e9)
                    } else {
                        "never closed by the server".to_owned()
                    },
                    r["msgs_read"],
                    r["bytes_read"],
                    r["end"].as_str().unwrap_or("?"),
                    r["server_wqueue_max"],
                    r["client_rqueue_max"],
                    r["probe_errors"],
                    r["write_error"],
                );
            }
            if received != expected || published == 0 {
                return Err(format!("{received} of {expected} deliveries to the healthy clients ({published} broadcasts)"));
            }
            Ok(f)
        })();
        lg.exit();
        srv.stop();
        let _ = std::fs::remove_file(&self.shm_path);
        result
    }
}

/// W6, one run's A and B compared: p99(B)/p99(A), and both phases' latencies split at the moment B's stalled
/// client was dropped (or at 2/3 of the phase if it was not): before, after, and right around it.
fn w6_compare(a: &mut Figures, b: &mut Figures, series_a: &Series, series_b: &Series, secs: f64) {
    if let (Some(pa), Some(pb)) = (a.get("w6a_p99_ms"), b.get("w6b_p99_ms")) {
        b.insert("w6b_p99_ratio".into(), pb / pa);
    }
    let at = b.get("w6b_drop_s").copied().unwrap_or(secs * 2.0 / 3.0);
    for (k, f, series) in [("w6a", a, series_a), ("w6b", b, series_b)] {
        if series.is_empty() {
            continue;
        }
        let (pre, _, _) = window(series, 0.0, at);
        let (post, _, n) = window(series, at, f64::INFINITY);
        let (_, near, _) = window(series, at - W6_NEAR_BEFORE, at + W6_NEAR_AFTER);
        f.insert(format!("{k}_p99_pre_ms"), pre);
        if n > 0 {
            f.insert(format!("{k}_p99_post_ms"), post);
        }
        f.insert(format!("{k}_max_near_ms"), near);
    }
}

/// Every run's figures, by server.
#[derive(Default)]
struct Results {
    figures: BTreeMap<(Server, String), Vec<f64>>,
    failures: BTreeMap<(Server, String), Vec<String>>,
}

impl Results {
    fn add(&mut self, server: Server, workload: &str, r: Result<Figures, String>) {
        match r {
            Ok(f) => {
                for (k, v) in f {
                    self.figures.entry((server, k)).or_default().push(v);
                }
            }
            Err(e) => {
                eprintln!("  FAILED {} {workload}: {e}", server.name());
                self.failures.entry((server, workload.to_owned())).or_default().push(e);
            }
        }
    }

    /// (median, min, max)
    fn stat(&self, server: Server, key: &str) -> Option<(f64, f64, f64)> {
        let mut v = self.figures.get(&(server, key.to_owned()))?.clone();
        if v.is_empty() {
            return None;
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let m = if v.len() % 2 == 1 { v[v.len() / 2] } else { (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0 };
        Some((m, v[0], v[v.len() - 1]))
    }

    fn median(&self, server: Server, key: &str) -> Option<f64> {
        self.stat(server, key).map(|s| s.0)
    }

    /// Every successful run's value of a figure.
    fn values(&self, server: Server, key: &str) -> Vec<f64> {
        self.figures.get(&(server, key.to_owned())).cloned().unwrap_or_default()
    }

    fn to_json(&self) -> Value {
        let mut out = serde_json::Map::new();
        for ((s, k), v) in &self.figures {
            out.entry(s.name()).or_insert_with(|| json!({}))[k] = json!(v);
        }
        let mut fails = serde_json::Map::new();
        for ((s, w), v) in &self.failures {
            fails.entry(s.name()).or_insert_with(|| json!({}))[w] = json!(v);
        }
        json!({"figures": out, "failures": fails})
    }
}

fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 100_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if a >= 10_000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn cell(r: &Results, server: Server, key: &str, workload: &str, runs: usize) -> String {
    let failed = r.failures.get(&(server, workload.to_owned())).map_or(0, Vec::len);
    let mut s = match r.stat(server, key) {
        Some((m, lo, hi)) if runs > 1 && (hi - lo).abs() > 0.0 => {
            format!("{} ({}–{})", fmt_num(m), fmt_num(lo), fmt_num(hi))
        }
        Some((m, _, _)) => fmt_num(m),
        None => "—".to_owned(),
    };
    if failed > 0 {
        s.push_str(&format!(" **FAILED {failed}/{runs}**"));
    }
    s
}

fn machine_info(paths: &Paths) -> Vec<(String, String)> {
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

/// Pass/miss of each target of issue #10, from the medians.
fn targets(r: &Results) -> Vec<(String, String, String, Option<bool>)> {
    use Server::*;
    let mut t = Vec::new();
    let m = |s, k: &str| r.median(s, k);
    let row = |name: &str, measured: Option<f64>, fmt: &dyn Fn(f64) -> String, goal: &str, pass: Option<bool>| {
        (name.to_owned(), measured.map_or("—".into(), fmt), goal.to_owned(), pass)
    };
    let kib = |v: f64| format!("{v:.2} KiB");
    let x = |v: f64| format!("{v:.2}×");
    let n = |v: f64| fmt_num(v);
    let w1 = m(Ours, "w1_18000_kib");
    t.push(row("W1 memory per idle joined connection at 18k", w1, &kib, "≤ 8 KiB", w1.map(|v| v <= 8.0)));
    let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);
    let vs_floor = ratio(m(Ours, "w2c_per_cpu"), m(Floor, "w2c_per_cpu"));
    t.push(row("W2 deliveries/server CPU-s vs floor", vs_floor, &x, "≥ 0.90×", vs_floor.map(|v| v >= 0.9)));
    let vs_sio = ratio(m(Ours, "w2c_per_cpu"), m(SocketIo, "w2c_per_cpu"));
    t.push(row("W2 deliveries/server CPU-s vs socket.io", vs_sio, &x, "≥ 3×", vs_sio.map(|v| v >= 3.0)));
    let ours_open_ok = !r.failures.contains_key(&(Ours, "w2".into())) && m(Ours, "w2o_received").is_some();
    let lost = m(Ours, "w2o_expected").zip(m(Ours, "w2o_received")).map(|(e, r)| e - r);
    t.push(row(
        "W2 open loop 10k × 5/s: lost deliveries",
        lost,
        &n,
        "0 (every run)",
        lost.map(|l| l == 0.0 && ours_open_ok),
    ));
    let p99 = ratio(m(Ours, "w2o_p99_ms"), m(Floor, "w2o_p99_ms"));
    t.push(row("W2 open loop p99 publish→last subscriber vs floor", p99, &x, "≤ 1.2×", p99.map(|v| v <= 1.2)));
    let rr = m(Ours, "w4_per_cpu");
    t.push(row("W4 round trips/server CPU-s", rr, &n, "≥ 100k", rr.map(|v| v >= 100_000.0)));
    let rr_sio = ratio(rr, m(SocketIo, "w4_per_cpu"));
    t.push(row("W4 round trips/server CPU-s vs socket.io", rr_sio, &x, "≥ 2×", rr_sio.map(|v| v >= 2.0)));
    let us = m(Ours, "w5_us_per_join");
    t.push(row("W5 server CPU per connect+join", us, &|v| format!("{v:.1} µs"), "≤ 60 µs", us.map(|v| v <= 60.0)));
    let js = m(Ours, "w5_per_s");
    t.push(row("W5 joins/s (18k storm)", js, &n, "≥ 10,000", js.map(|v| v >= 10_000.0)));
    t
}

/// The results as markdown: the W1–W5 section (with the machine and the issue #10 targets) if the run had any of
/// W1–W5, and the W6 section (with the issue #11 targets) if it had W6.
fn markdown(
    cfg: &Cfg,
    r: &Results,
    info: &[(String, String)],
    command: &str,
    elapsed: Duration,
) -> (Option<String>, Option<String>) {
    let servers = &cfg.servers;
    let mut s = String::new();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let run_line = format!(
        "Run of {date}: `{command}` ({} run{} per figure, {:.0} s in all). Cells: median (min–max) over the runs; \
         a failed run (lost a message or a connection) is named and left out of the median.",
        cfg.runs,
        if cfg.runs == 1 { "" } else { "s" },
        elapsed.as_secs_f64()
    );
    s.push_str(&run_line);
    s.push_str("\n\n| machine | |\n|---|---|\n");
    for (k, v) in info {
        s.push_str(&format!("| {k} | {v} |\n"));
    }
    s.push('\n');
    let header = |s: &mut String, first: &str| {
        s.push_str(&format!("| {first} |"));
        for sv in servers {
            s.push_str(&format!(" {} |", sv.title()));
        }
        s.push_str("\n|---|");
        for _ in servers {
            s.push_str("---:|");
        }
        s.push('\n');
    };
    let rows = |s: &mut String, workload: &str, rows: &[(&str, String)]| {
        for (label, key) in rows {
            s.push_str(&format!("| {label} |"));
            for sv in servers {
                let c = if key.contains('/') {
                    key.split('/').map(|k| cell(r, *sv, k, "", cfg.runs)).collect::<Vec<_>>().join(" / ")
                } else {
                    cell(r, *sv, key, workload, cfg.runs)
                };
                s.push_str(&format!(" {c} |"));
            }
            s.push('\n');
        }
    };
    let has = |w: &str| cfg.workloads.iter().any(|x| x == w);
    if has("w1") {
        s.push_str("**W1 — idle memory per joined connection** (fresh server; RSS after all joined + settle, minus RSS before, / N)\n\n");
        header(&mut s, "N");
        for n in &cfg.w1_sizes {
            rows(&mut s, "w1", &[
                (&format!("{n}: KiB per connection"), format!("w1_{n}_kib")),
                (&format!("{n}: server RSS, MiB"), format!("w1_{n}_rss_mib")),
                (&format!("{n}: setup wall s"), format!("w1_{n}_wall")),
                (&format!("{n}: setup server CPU s"), format!("w1_{n}_cpu")),
                (&format!("{n}: setup load generators CPU s"), format!("w1_{n}_lg_cpu")),
                (&format!("{n}: SYNs dropped (listen queue full)"), format!("w1_{n}_syndrops")),
            ]);
        }
        s.push('\n');
    }
    if has("w2") {
        s.push_str(&format!(
            "**W2 — one topic × {} subscribers, 100 B payload.** Closed loop: at most {} broadcasts not yet at every \
             subscriber, {} s. Open loop: {} broadcasts/s for {} s; latency = publish → last subscriber.\n\n",
            cfg.w2_subs, cfg.w2_window, cfg.w2_closed_secs, cfg.w2_rate, cfg.w2_open_secs
        ));
        header(&mut s, "");
        rows(&mut s, "w2", &[
            ("closed: deliveries / server CPU-s", "w2c_per_cpu".into()),
            ("closed: deliveries / s (wall)", "w2c_per_s".into()),
            ("closed: server CPU s / of which user", "w2c_cpu/w2c_cpu_user".into()),
            ("closed: load generators CPU s", "w2c_lg_cpu".into()),
            ("closed: loopback drops / TCP retransmits", "w2c_drops/w2c_retrans".into()),
            ("closed: wall s", "w2c_wall".into()),
            ("closed: deliveries expected", "w2c_expected".into()),
            ("closed: deliveries received", "w2c_received".into()),
            ("closed: p50 publish→last, ms", "w2c_p50_ms".into()),
            ("open: p50 publish→last, ms", "w2o_p50_ms".into()),
            ("open: p99 publish→last, ms", "w2o_p99_ms".into()),
            ("open: max publish→last, ms", "w2o_max_ms".into()),
            ("open: deliveries expected", "w2o_expected".into()),
            ("open: deliveries received", "w2o_received".into()),
            ("open: server CPU s / of which user", "w2o_cpu/w2o_cpu_user".into()),
            ("open: server CPU %", "w2o_cpu_pct".into()),
            ("open: load generators CPU s", "w2o_lg_cpu".into()),
            ("open: loopback drops / TCP retransmits", "w2o_drops/w2o_retrans".into()),
            ("open: wall s", "w2o_wall".into()),
        ]);
        s.push('\n');
    }
    if has("w3") {
        s.push_str(&format!(
            "**W3 — {} rooms × {} members chatting** ({} message in flight per room, each member in turn; a message is done \
             when all members have it), {} s.\n\n",
            cfg.w3_rooms, cfg.w3_members, cfg.w3_window, cfg.w3_secs
        ));
        header(&mut s, "");
        rows(&mut s, "w3", &[
            ("deliveries / server CPU-s", "w3_per_cpu".into()),
            ("deliveries / s (wall)", "w3_per_s".into()),
            ("p50 send→last member, ms", "w3_p50_ms".into()),
            ("p99 send→last member, ms", "w3_p99_ms".into()),
            ("deliveries expected", "w3_expected".into()),
            ("deliveries received", "w3_received".into()),
            ("server CPU s / of which user", "w3_cpu/w3_cpu_user".into()),
            ("load generators CPU s", "w3_lg_cpu".into()),
            ("loopback drops / TCP retransmits", "w3_drops/w3_retrans".into()),
            ("wall s", "w3_wall".into()),
        ]);
        s.push('\n');
    }
    if has("w4") {
        s.push_str(&format!(
            "**W4 — request/reply, {} clients**, each one `ping` in flight, 100 B payload, {} s.\n\n",
            cfg.w4_clients, cfg.w4_secs
        ));
        header(&mut s, "");
        rows(&mut s, "w4", &[
            ("round trips / server CPU-s", "w4_per_cpu".into()),
            ("round trips / s (wall)", "w4_per_s".into()),
            ("p50 round trip, µs", "w4_p50_us".into()),
            ("p99 round trip, µs", "w4_p99_us".into()),
            ("server CPU s / of which user", "w4_cpu/w4_cpu_user".into()),
            ("load generators CPU s", "w4_lg_cpu".into()),
            ("loopback drops / TCP retransmits", "w4_drops/w4_retrans".into()),
            ("wall s", "w4_wall".into()),
        ]);
        s.push('\n');
    }
    if has("w5") {
        s.push_str(&format!(
            "**W5 — connect-and-join storm, {} clients** ({} load-generator processes × {} connects in flight), fresh server.\n\n",
            cfg.w5_conns, cfg.procs, cfg.w5_concurrency
        ));
        header(&mut s, "");
        rows(&mut s, "w5", &[
            ("server CPU µs per connect+join", "w5_us_per_join".into()),
            ("joins / s (wall)", "w5_per_s".into()),
            ("p50 connect+join, ms", "w5_p50_ms".into()),
            ("p99 connect+join, ms", "w5_p99_ms".into()),
            ("server CPU s / of which user", "w5_cpu/w5_cpu_user".into()),
            ("load generators CPU s", "w5_lg_cpu".into()),
            ("SYNs dropped (listen queue full) / TCP retransmits", "w5_syndrops/w5_retrans".into()),
            ("wall s", "w5_wall".into()),
            ("RSS growth KiB per connection", "w5_rss_kib_per_conn".into()),
        ]);
        s.push('\n');
    }
    if cfg.servers.contains(&Server::Ours) {
        s.push_str("**Targets of issue #10** (ours; ratios against the peers of the same run, from the medians)\n\n");
        s.push_str("| target | measured | goal | |\n|---|---:|---|---|\n");
        for (name, measured, goal, pass) in targets(r) {
            let verdict = match pass {
                Some(true) => "pass",
                Some(false) => "**MISS**",
                None => "not measured",
            };
            s.push_str(&format!("| {name} | {measured} | {goal} | {verdict} |\n"));
        }
        s.push('\n');
    }
    let main = cfg.workloads.iter().any(|w| WORKLOADS[..5].contains(&w.as_str())).then_some(s);
    if !has("w6") {
        return (main, None);
    }
    let mut s = String::new();
    let info_of = |k: &str| info.iter().find(|(n, _)| n == k).map_or("", |(_, v)| v.as_str());
    s.push_str(&format!(
        "{run_line} Machine: {} cores, kernel {}, load average at the start {}.\n\n",
        info_of("cores"),
        info_of("kernel"),
        info_of("load average at start")
    ));
    s.push_str(&format!(
        "**W6 — one slow consumer among {} subscribers** (one topic; {} broadcasts/s of {} B for {} s; latency = \
         publish → last healthy subscriber). A: every client reads. B, on a fresh server: one client stops reading \
         right after its join and never reads again (socket open, heartbeats still sent; it asked for an 8 KiB \
         receive buffer and 1 KiB segments, so the kernel holds ~110 KiB for it, not 4 MiB). Its drop is when the \
         server closed its end of the connection, seen through `sock_diag`.\n\n",
        cfg.w6_subs, cfg.w6_rate, cfg.w6_payload, cfg.w6_secs
    ));
    header(&mut s, "");
    rows(&mut s, "w6a", &[
        ("A: p50 publish→last, ms", "w6a_p50_ms".into()),
        ("A: p99 publish→last, ms", "w6a_p99_ms".into()),
        ("A: max publish→last, ms", "w6a_max_ms".into()),
        ("A: p99 of broadcasts sent before / after B's drop time, ms", "w6a_p99_pre_ms/w6a_p99_post_ms".into()),
        ("A: max of those sent from 1 s before to 2 s after it, ms", "w6a_max_near_ms".into()),
        ("A: deliveries expected / received", "w6a_expected/w6a_received".into()),
        ("A: server RSS before, MiB", "w6a_rss0_mib".into()),
        ("A: server RSS growth at the end / at the peak, MiB", "w6a_rss_growth_mib/w6a_rss_peak_growth_mib".into()),
        ("A: server CPU %", "w6a_cpu_pct".into()),
        ("A: load generators CPU s", "w6a_lg_cpu".into()),
        ("A: loopback drops / TCP retransmits", "w6a_drops/w6a_retrans".into()),
    ]);
    rows(&mut s, "w6b", &[
        ("B: p50 publish→last healthy, ms", "w6b_p50_ms".into()),
        ("B: p99 publish→last healthy, ms", "w6b_p99_ms".into()),
        ("B: max publish→last healthy, ms", "w6b_max_ms".into()),
        ("B: p99(B) / p99(A), per run", "w6b_p99_ratio".into()),
        ("B: p99 of broadcasts sent before / after the drop, ms", "w6b_p99_pre_ms/w6b_p99_post_ms".into()),
        ("B: max of those sent from 1 s before to 2 s after it, ms", "w6b_max_near_ms".into()),
        ("B: healthy deliveries expected / received", "w6b_expected/w6b_received".into()),
        ("B: server RSS before, MiB", "w6b_rss0_mib".into()),
        ("B: server RSS growth at the end / at the peak, MiB", "w6b_rss_growth_mib/w6b_rss_peak_growth_mib".into()),
        ("B: stalled client closed by the server (1 = yes)", "w6b_dropped".into()),
        ("B: … closed after, s / broadcasts sent by then", "w6b_drop_s/w6b_drop_broadcasts".into()),
        ("B: … messages it could still read afterwards", "w6b_stalled_msgs".into()),
        ("B: … bytes in the server's socket / in its own, KiB (max)", "w6b_server_wqueue_kib/w6b_client_rqueue_kib".into()),
        ("B: server CPU %", "w6b_cpu_pct".into()),
        ("B: load generators CPU s", "w6b_lg_cpu".into()),
        ("B: loopback drops / TCP retransmits", "w6b_drops/w6b_retrans".into()),
    ]);
    s.push('\n');
    if cfg.servers.contains(&Server::Ours) {
        s.push_str("**Targets of issue #11** (ours, from the medians)\n\n");
        s.push_str("| target | measured | goal | |\n|---|---:|---|---|\n");
        for (name, measured, goal, pass) in targets_w6(cfg, r) {
            let verdict = match pass {
                Some(true) => "pass",
                Some(false) => "**MISS**",
                None => "not measured",
            };
            s.push_str(&format!("| {name} | {measured} | {goal} | {verdict} |\n"));
        }
        s.push('\n');
    }
    (main, Some(s))
}

/// Pass/miss of the slow-consumer targets of issue #11 (W6), for ours, from the medians.
fn targets_w6(cfg: &Cfg, r: &Results) -> Vec<(String, String, String, Option<bool>)> {
    use Server::Ours;
    let m = |k: &str| r.median(Ours, k);
    let failed = |w: &str| r.failures.get(&(Ours, w.to_owned())).map_or(0, Vec::len);
    let mut t = Vec::new();
    let lost = r.values(Ours, "w6b_lost");
    let runs = lost.len() + failed("w6b");
    t.push((
        format!("W6 lost deliveries to the {} healthy clients, with one stalled", cfg.w6_subs - 1),
        if runs == 0 { "—".into() } else { format!("{} in {runs} run{}", fmt_num(lost.iter().sum::<f64>()), if runs == 1 { "" } else { "s" }) },
        "0 (every run)".into(),
        (runs > 0).then(|| failed("w6b") == 0 && lost.iter().all(|&l| l == 0.0)),
    ));
    let dropped = r.values(Ours, "w6b_dropped");
    let when = m("w6b_drop_s").map_or(String::new(), |s| format!(", after {s:.1} s"));
    t.push((
        "W6 stalled client disconnected by the server".into(),
        if dropped.is_empty() {
            "—".into()
        } else {
            format!("{} of {} runs{when}", dropped.iter().filter(|&&d| d > 0.0).count(), dropped.len())
        },
        "every run".into(),
        (!dropped.is_empty()).then(|| dropped.iter().all(|&d| d > 0.0)),
    ));
    let (a, b) = (m("w6a_p99_ms"), m("w6b_p99_ms"));
    t.push((
        "W6 p99 publish→last healthy subscriber, stalled (B) vs not (A)".into(),
        a.zip(b).map_or("—".into(), |(a, b)| format!("{b:.1} vs {a:.1} ms ({:.2}×)", b / a)),
        "B ≤ 1.2 × A + 5 ms".into(),
        a.zip(b).map(|(a, b)| b <= 1.2 * a + 5.0),
    ));
    // Bounded: what the server held for the stalled client is given back once it is dropped. (The peak, one full
    // queue plus heap fragmentation, is reported beside it; the floor's is the same.)
    let bound = (OUTBOX_FRAMES * (cfg.w6_payload + W6_FRAME_OVERHEAD)) as f64 / (1 << 20) as f64;
    let (ea, eb) = (m("w6a_rss_growth_mib"), m("w6b_rss_growth_mib"));
    let (pa, pb) = (m("w6a_rss_peak_growth_mib"), m("w6b_rss_peak_growth_mib"));
    let peak = pa.zip(pb).map_or(String::new(), |(a, b)| format!(" (peak +{b:.1} vs +{a:.1})"));
    t.push((
        "W6 server memory after the drop: RSS growth at the end, stalled (B) vs not (A)".into(),
        ea.zip(eb).map_or("—".into(), |(a, b)| format!("+{b:.1} vs +{a:.1} MiB{peak}")),
        format!("B ≤ A + one full queue ({OUTBOX_FRAMES} frames = {bound:.1} MiB)"),
        ea.zip(eb).map(|(a, b)| b <= a + bound),
    ));
    t
}

const BEGIN: &str = "<!-- results:begin -->";
const END: &str = "<!-- results:end -->";
const BEGIN_W6: &str = "<!-- results-w6:begin -->";
const END_W6: &str = "<!-- results-w6:end -->";

/// Replaces what is between `begin` and `end` in the file with `table`; false if the markers are missing.
fn update_doc(path: &Path, begin: &str, end: &str, table: &str) -> std::io::Result<bool> {
    let doc = std::fs::read_to_string(path)?;
    let Some(b) = doc.find(begin) else { return Ok(false) };
    let Some(e) = doc[b..].find(end).map(|e| b + e) else { return Ok(false) };
    let new = format!("{}{begin}\n{table}{}", &doc[..b], &doc[e..]);
    std::fs::write(path, new)?;
    Ok(true)
}

fn main() {
    let cfg = match parse_cfg() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("driver: {e}");
            std::process::exit(2);
        }
    };
    let nofile = channels_bench::raise_nofile();
    if nofile < 19_000 {
        eprintln!("driver: warning: only {nofile} open files allowed; W1/W5 at 18k need more");
    }
    let paths = Paths::new();
    let info = machine_info(&paths);
    let command = {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.is_empty() { "bench/run".to_owned() } else { format!("bench/run {}", args.join(" ")) }
    };
    let started = Instant::now();
    let mut d = Driver { cfg: cfg.clone(), paths, next_src: 0, shm_path: format!("/dev/shm/channels-bench-{}", std::process::id()) };
    let mut results = Results::default();
    let t_start = now_ns();
    for run in 1..=cfg.runs {
        for &server in &cfg.servers {
            for w in &cfg.workloads {
                let label = format!("{w}-r{run}");
                eprintln!("[{:>5.0}s] run {run}/{} {} {w}", started.elapsed().as_secs_f64(), cfg.runs, server.name());
                match w.as_str() {
                    "w1" => {
                        for &n in &cfg.w1_sizes.clone() {
                            let r = d.w1(server, n, &format!("{label}-{n}"));
                            results.add(server, "w1", r);
                        }
                    }
                    "w2" => {
                        let r = d.w2(server, &label);
                        results.add(server, "w2", r);
                    }
                    "w3" => {
                        let r = d.w3(server, &label);
                        results.add(server, "w3", r);
                    }
                    "w4" => {
                        let r = d.w4(server, &label);
                        results.add(server, "w4", r);
                    }
                    "w5" => {
                        let r = d.w5(server, &label);
                        results.add(server, "w5", r);
                    }
                    "w6" => {
                        let (mut a, series_a) = d.w6(server, &label, false);
                        let (mut b, series_b) = d.w6(server, &label, true);
                        if let (Ok(a), Ok(b)) = (&mut a, &mut b) {
                            w6_compare(a, b, &series_a, &series_b, cfg.w6_secs);
                        }
                        let log = d.paths.logs.join(format!("{}-{label}-series.json", server.name()));
                        let _ = std::fs::write(log, json!({"a": series_a, "b": series_b}).to_string());
                        results.add(server, "w6a", a);
                        results.add(server, "w6b", b);
                    }
                    other => eprintln!("driver: unknown workload {other}"),
                }
            }
        }
    }
    let _ = t_start;
    let (main_table, w6_table) = markdown(&cfg, &results, &info, &command, started.elapsed());
    let table = format!("{}{}", main_table.as_deref().unwrap_or(""), w6_table.as_deref().unwrap_or(""));
    println!("{table}");
    let out = d.paths.bench.join("results");
    let _ = std::fs::create_dir_all(&out);
    let all = WORKLOADS.iter().all(|w| cfg.workloads.iter().any(|x| x == w));
    let name = match (cfg.quick, all) {
        (true, true) => "quick".to_owned(),
        (false, true) => "latest".to_owned(),
        (quick, false) => format!("{}-{}", if quick { "quick" } else { "latest" }, cfg.workloads.join(",")),
    };
    let _ = std::fs::write(out.join(format!("{name}.md")), &table);
    let _ = std::fs::write(
        out.join(format!("{name}.json")),
        serde_json::to_string_pretty(&json!({"command": command, "machine": info, "results": results.to_json()}))
            .unwrap_or_default(),
    );
    if cfg.update {
        let doc = d.paths.bench.join("../BENCHMARKS.md");
        for (table, begin, end) in [(main_table, BEGIN, END), (w6_table, BEGIN_W6, END_W6)] {
            let Some(table) = table else { continue };
            match update_doc(&doc, begin, end, &table) {
                Ok(true) => eprintln!("driver: updated {} ({begin})", doc.display()),
                Ok(false) => eprintln!("driver: {} has no {begin} … {end} section; not updated", doc.display()),
                Err(e) => eprintln!("driver: cannot update {}: {e}", doc.display()),
            }
        }
    }
    eprintln!("driver: wrote {}", out.join(format!("{name}.md")).display());
}
