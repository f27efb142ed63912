//! W1–W5: each on a fresh server, its figures from the load generators' reports and the processes' readings.

use std::time::{Duration, Instant};

use channels_bench::{Histogram, Shm};
use serde_json::Value;

use crate::cfg::Server;
use crate::procs::{Driver, Snap};
use crate::results::Figures;

pub fn split(n: usize, parts: usize, align: usize) -> Vec<(usize, usize)> {
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

pub fn json_u64(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or(0)
}

pub fn sum(vs: &[Value], k: &str) -> u64 {
    vs.iter().map(|v| json_u64(v, k)).sum()
}

pub fn merged_hist(vs: &[Value]) -> Histogram {
    let mut h = Histogram::default();
    for v in vs {
        h.merge(&Histogram::from_json(&v["hist"]));
    }
    h
}

/// Seconds from the first load generator's start to the last one's end.
fn wall_secs(done: &[Value]) -> f64 {
    let t0 = done.iter().map(|d| json_u64(d, "t_start")).min().unwrap_or(0);
    let t1 = done.iter().map(|d| json_u64(d, "t_end")).max().unwrap_or(0);
    (t1 - t0) as f64 / 1e9
}

pub fn check_setup(ready: &[Value], expected: usize) -> Result<(), String> {
    let (joined, failed) = (sum(ready, "joined"), sum(ready, "failed"));
    if failed > 0 || joined != expected as u64 {
        return Err(format!("{joined} of {expected} connections joined, {failed} failed"));
    }
    Ok(())
}

impl Driver {
    /// W1: memory per idle joined connection on a fresh server.
    pub fn w1(&mut self, server: Server, n: usize, label: &str) -> Result<Figures, String> {
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
    pub fn w2(&mut self, server: Server, label: &str) -> Result<Figures, String> {
        Shm::create(&self.shm_path).map_err(|e| format!("shm: {e}"))?;
        let srv = self.start_server(server, label)?;
        let n = self.cfg.w2_subs;
        let parts: Vec<_> = split(n, self.cfg.procs, 1)
            .into_iter()
            .enumerate()
            .map(|(i, (c, o))| {
                let mut extra: Vec<String> =
                    ["--shm", &self.shm_path, "--total", &n.to_string(), "--concurrency", "64"]
                        .map(String::from)
                        .to_vec();
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
    pub fn w3(&mut self, server: Server, label: &str) -> Result<Figures, String> {
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
            let wall = wall_secs(&done);
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
    pub fn w4(&mut self, server: Server, label: &str) -> Result<Figures, String> {
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
            let wall = wall_secs(&done);
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
    pub fn w5(&mut self, server: Server, label: &str) -> Result<Figures, String> {
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
            let wall = wall_secs(&done);
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
