//! The benchmark driver: runs every workload against every server, several times, and writes the table.
//!
//! Each server runs pinned to core 0 (`taskset -c 0`), freshly started for each workload; the load generators
//! (several `loadgen` processes, each holding part of the connections) run pinned to core 1. Server CPU time is
//! utime+stime from /proc/PID/stat, RSS is VmRSS from /proc/PID/status, both read before and after each measured
//! phase. Every figure is the median of the runs with min–max; a run that loses a message, or fails a connection,
//! is a failed run and is not in the median.
//!
//! Usually started by `bench/run` (which builds everything first). Flags: `--quick` (1 run, short phases),
//! `--runs N`, `--servers floor,ours,socketio`, `--workloads w1,w2,w3,w4,w5,w6,w10`, `--procs N` (load-generator
//! processes, default 2), `--update` / `--no-update` (rewrite the results sections of BENCHMARKS.md; default: on
//! for full runs, off for `--quick`).
//!
//! BENCHMARKS.md has three results sections: W1–W5 with the machine and the issue #10 targets, W6 (slow
//! consumer) with the issue #11 targets, and W10 (hostile clients; ours only) with its targets. A run rewrites
//! only the sections of the workloads it ran, so
//! `--workloads w6` records W6 and leaves W1–W5 as they were. Likewise a run of a subset of the workloads writes
//! `bench/results/latest-<workloads>.{md,json}` instead of `latest.*`.
//!
//! The pieces: [`cfg`] (flags and paths), [`procs`] (the processes and their readings), [`workloads`] (W1–W5),
//! [`w6`], [`w10`], [`results`], [`machine`] and [`report`] (the markdown tables).

mod cfg;
mod machine;
mod procs;
mod report;
mod results;
mod w10;
mod w6;
mod workloads;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::json;

use crate::cfg::{Cfg, Paths, Server, WORKLOADS};
use crate::procs::Driver;
use crate::report::RunInfo;
use crate::results::Results;

const BEGIN: &str = "<!-- results:begin -->";
const END: &str = "<!-- results:end -->";
const BEGIN_W6: &str = "<!-- results-w6:begin -->";
const END_W6: &str = "<!-- results-w6:end -->";
const BEGIN_W10: &str = "<!-- results-w10:begin -->";
const END_W10: &str = "<!-- results-w10:end -->";

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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = match Cfg::from_args(&args) {
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
    let info = machine::machine_info(&paths);
    let command = if args.is_empty() { "bench/run".to_owned() } else { format!("bench/run {}", args.join(" ")) };
    let started = Instant::now();
    let mut d = Driver {
        cfg: cfg.clone(),
        paths,
        next_src: 0,
        shm_path: format!("/dev/shm/channels-bench-{}", std::process::id()),
    };
    let mut results = Results::default();
    for run in 1..=cfg.runs {
        for &server in &cfg.servers {
            for w in &cfg.workloads {
                if w == "w10" && server != Server::Ours {
                    continue; // W10 measures ours only
                }
                let label = format!("{w}-r{run}");
                eprintln!("[{:>5.0}s] run {run}/{} {} {w}", started.elapsed().as_secs_f64(), cfg.runs, server.name());
                match w.as_str() {
                    "w1" => {
                        for &n in &cfg.w1_sizes.clone() {
                            let r = d.w1(server, n, &format!("{label}-{n}"));
                            results.add(server, "w1", r);
                        }
                    }
                    "w2" | "w3" | "w4" | "w5" => {
                        let workload = match w.as_str() {
                            "w2" => Driver::w2,
                            "w3" => Driver::w3,
                            "w4" => Driver::w4,
                            _ => Driver::w5,
                        };
                        let r = workload(&mut d, server, &label);
                        results.add(server, w, r);
                    }
                    "w6" => {
                        let (mut a, series_a) = d.w6(server, &label, false);
                        let (mut b, series_b) = d.w6(server, &label, true);
                        if let (Ok(a), Ok(b)) = (&mut a, &mut b) {
                            w6::w6_compare(a, b, &series_a, &series_b, cfg.w6_secs);
                        }
                        let log = d.paths.logs.join(format!("{}-{label}-series.json", server.name()));
                        let _ = std::fs::write(log, json!({"a": series_a, "b": series_b}).to_string());
                        results.add(server, "w6a", a);
                        results.add(server, "w6b", b);
                    }
                    "w10" => {
                        let a = d.w10(server, &label, false);
                        let mut b = d.w10(server, &label, true);
                        if let (Ok(a), Ok(b)) = (&a, &mut b) {
                            w10::w10_compare(a, b);
                        }
                        results.add(server, "w10a", a);
                        results.add(server, "w10b", b);
                    }
                    other => eprintln!("driver: unknown workload {other}"),
                }
            }
        }
    }
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let run = RunInfo { date: &date, command: &command, elapsed: started.elapsed(), machine: &info };
    let tables = report::markdown(&cfg, &results, &run);
    let sections = [(tables.main, BEGIN, END), (tables.w6, BEGIN_W6, END_W6), (tables.w10, BEGIN_W10, END_W10)];
    let table: String = sections.iter().filter_map(|(t, _, _)| t.as_deref()).collect();
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
        for (table, begin, end) in sections {
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
