//! W10's attacker: one process running every attack of `channels_bench::hostile` at once against one server,
//! each in its own tasks, bounded in count and rate, on loopback. Steered like `loadgen` over stdin/stdout:
//! `READY {}` at once; `GO <secs>` runs the attacks for `secs` and prints `DONE {json}`, one object of counts per
//! attack; `EXIT` (or the end of stdin) exits.
//!
//! `attacker --addr 127.0.0.1:4100 --src 127.0.0.x`; `W10_ATTACKS` picks some of the attacks. The attacks: [`flood`] (a), [`stall`] (b), [`frames`] (c),
//! [`longpoll`] (d), [`joins`] (e).

mod flood;
mod frames;
mod http;
mod joins;
mod longpoll;
mod stall;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use channels_bench::{Proto, connect_tcp_with};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<TcpStream>;

/// Runs only the attacks this variable names (`flood,stall,frames,longpoll,joins`), to see what each costs:
/// `W10_ATTACKS=stall bench/run --workloads w10 ...` (the driver's environment reaches the attacker).
const ONLY: &str = "W10_ATTACKS";

/// Where the attacks go, and from which address.
#[derive(Clone, Copy)]
struct Target {
    addr: SocketAddr,
    src: Ipv4Addr,
}

impl Target {
    /// A WebSocket to the server's Phoenix socket; `small_buffers` as a stalled client's (`connect_tcp_with`).
    async fn websocket(self, small_buffers: bool) -> Result<Ws, String> {
        let tcp = connect_tcp_with(self.src, self.addr, small_buffers).await.map_err(|e| e.to_string())?;
        let url = Proto::Phoenix.url(self.addr);
        let config = Some(channels_bench::ws_config());
        let (ws, _) = tokio_tungstenite::client_async_with_config(url, tcp, config).await.map_err(|e| e.to_string())?;
        Ok(ws)
    }
}

/// An attack's counts, by name: totals, and maxima of durations.
#[derive(Clone)]
struct Counts(Arc<Mutex<BTreeMap<&'static str, f64>>>);

impl Counts {
    /// Counts named `names`, at 0, so the report shows what did not happen too.
    fn new(names: &[&'static str]) -> Counts {
        Counts(Arc::new(Mutex::new(names.iter().map(|&n| (n, 0.0)).collect())))
    }

    fn add(&self, name: &'static str) {
        self.add_n(name, 1);
    }

    fn add_n(&self, name: &'static str, n: u64) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()).entry(name).or_default() += n as f64;
    }

    fn max(&self, name: &'static str, d: Duration) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let v = m.entry(name).or_default();
        *v = v.max(d.as_secs_f64());
    }

    fn json(&self) -> Value {
        json!(*self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// One attack's tasks, each dropped (closing its sockets) at `until`, and their counts.
struct Attack {
    until: Instant,
    counts: Counts,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Attack {
    fn new(until: Instant, counts: &[&'static str]) -> Attack {
        Attack { until, counts: Counts::new(counts), tasks: Vec::new() }
    }

    /// Starts a task of the attack, given the counts.
    fn spawn<F: Future<Output = ()> + Send + 'static>(&mut self, task: impl FnOnce(Counts) -> F) {
        let task = tokio::time::timeout_at(self.until, task(self.counts.clone()));
        self.tasks.push(tokio::spawn(async move {
            let _ = task.await;
        }));
    }

    /// The counts, once every task ended.
    async fn finish(self) -> Value {
        for t in self.tasks {
            let _ = t.await;
        }
        self.counts.json()
    }
}

fn parse_args() -> Result<Target, String> {
    let mut t = Target { addr: "127.0.0.1:4100".parse().expect("an address"), src: Ipv4Addr::new(127, 0, 0, 250) };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => t.addr = v.parse().map_err(|e| format!("--addr: {e}"))?,
            "--src" => t.src = v.parse().map_err(|e| format!("--src: {e}"))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(t)
}

async fn run(t: Target) -> std::io::Result<()> {
    let only = std::env::var(ONLY).ok();
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    println!("READY {{}}");
    while let Some(line) = lines.next_line().await? {
        if line.starts_with("EXIT") {
            break;
        }
        let Some(secs) = line.strip_prefix("GO ").and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok()) else {
            continue;
        };
        let until = Instant::now() + Duration::from_secs_f64(secs);
        let on = |name: &str| only.as_ref().is_none_or(|only| only.split(',').any(|a| a == name));
        // An attack left out reports nothing, and ends at once.
        let (flood, stall, frames, longpoll, joins) = tokio::join!(
            async { on("flood").then_some(flood::run(t, until).await) },
            async { on("stall").then_some(stall::run(t, until).await) },
            async { on("frames").then_some(frames::run(t, until).await) },
            async { on("longpoll").then_some(longpoll::run(t, until).await) },
            async { on("joins").then_some(joins::run(t, until).await) },
        );
        sleep_until(until).await;
        println!(
            "DONE {}",
            json!({"flood": flood, "stall": stall, "frames": frames, "longpoll": longpoll, "joins": joins})
        );
    }
    Ok(())
}

fn main() {
    let t = match parse_args() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("attacker: {e}");
            std::process::exit(2);
        }
    };
    channels_bench::raise_nofile();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    if let Err(e) = rt.block_on(run(t)) {
        eprintln!("attacker: {e}");
        std::process::exit(1);
    }
    // Exiting closes every connection; don't wait for tasks.
    std::process::exit(0);
}
