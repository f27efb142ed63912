//! What a run is given: the servers, the workloads and their sizes (from the flags), and where things are.

use std::path::PathBuf;

use channels_bench::{PORT_FLOOR, PORT_OURS, PORT_SOCKETIO};

/// W6: broadcasts per second (1,000 subscribers: 50,000 deliveries/s, well under what one core serves).
const W6_RATE: f64 = 50.0;
/// W6: payload bytes of each broadcast.
const W6_PAYLOAD: usize = 1 << 10;
/// W6: length of each phase, full run and `--quick` (the stalled client's queue is full after ~23 s).
const W6_SECS: f64 = 40.0;
const W6_SECS_QUICK: f64 = 30.0;
/// W10: the normal clients, in rooms of this many, each sending a message every this many seconds (1,000 × 0.5/s
/// × 50 members: 25,000 deliveries/s).
const W10_CLIENTS: usize = 1000;
const W10_MEMBERS: usize = 50;
const W10_INTERVAL: f64 = 2.0;
/// W10: length of each phase, full run and `--quick`.
const W10_SECS: f64 = 60.0;
const W10_SECS_QUICK: f64 = 15.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Server {
    Floor,
    Ours,
    SocketIo,
}

impl Server {
    pub fn name(self) -> &'static str {
        match self {
            Server::Floor => "floor",
            Server::Ours => "ours",
            Server::SocketIo => "socketio",
        }
    }
    pub fn title(self) -> &'static str {
        match self {
            Server::Floor => "floor (tokio-tungstenite)",
            Server::Ours => "ours (channels)",
            Server::SocketIo => "socket.io 4.8",
        }
    }
    pub fn port(self) -> u16 {
        match self {
            Server::Floor => PORT_FLOOR,
            Server::Ours => PORT_OURS,
            Server::SocketIo => PORT_SOCKETIO,
        }
    }
    pub fn proto(self) -> &'static str {
        match self {
            Server::SocketIo => "sio",
            _ => "phoenix",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Cfg {
    pub quick: bool,
    pub runs: usize,
    pub servers: Vec<Server>,
    pub workloads: Vec<String>,
    pub procs: usize,
    pub update: bool,
    pub w1_sizes: Vec<usize>,
    pub w1_settle: f64,
    pub w2_subs: usize,
    pub w2_closed_secs: f64,
    pub w2_window: u64,
    pub w2_open_secs: f64,
    pub w2_rate: f64,
    pub w3_rooms: usize,
    pub w3_members: usize,
    pub w3_secs: f64,
    pub w3_window: u64,
    pub w4_clients: usize,
    pub w4_secs: f64,
    pub w5_conns: usize,
    pub w5_concurrency: usize,
    pub w6_subs: usize,
    pub w6_rate: f64,
    pub w6_payload: usize,
    pub w6_secs: f64,
    pub w10_clients: usize,
    pub w10_members: usize,
    pub w10_interval: f64,
    pub w10_secs: f64,
}

/// Every workload, the default set.
pub const WORKLOADS: [&str; 7] = ["w1", "w2", "w3", "w4", "w5", "w6", "w10"];

impl Cfg {
    /// The run the flags ask for (the arguments after the program's name).
    pub fn from_args(args: &[String]) -> Result<Cfg, String> {
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
            w10_clients: W10_CLIENTS,
            w10_members: W10_MEMBERS,
            w10_interval: W10_INTERVAL,
            w10_secs: if quick { W10_SECS_QUICK } else { W10_SECS },
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
}

/// Where the binaries, the socket.io server and the outputs are.
pub struct Paths {
    pub bin: PathBuf,
    pub bench: PathBuf,
    pub logs: PathBuf,
}

impl Paths {
    pub fn new() -> Paths {
        let exe = std::env::current_exe().expect("current exe");
        let bin = exe.parent().expect("bin dir").to_path_buf();
        let bench = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let logs = bench.join("target/bench-logs");
        std::fs::create_dir_all(&logs).expect("logs dir");
        Paths { bin, bench, logs }
    }
}
