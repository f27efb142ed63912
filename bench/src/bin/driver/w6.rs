//! W6, one slow consumer among many subscribers: phase A (every client reads) and phase B (one stalls), each on
//! a fresh server, and the two compared around the moment B's stalled client is dropped.

use std::time::Duration;

use channels_bench::{Histogram, Shm};
use serde_json::Value;

use crate::cfg::Server;
use crate::procs::{Driver, Snap};
use crate::results::Figures;
use crate::workloads::{check_setup, json_u64, split, sum};

/// W6: the load generators read in chunks of this many bytes (the servers' 1 KiB would take two reads a frame).
const W6_READ_BUFFER: usize = 16 << 10;
/// W6: the frame the servers send for one broadcast, `[null,null,"bench:fanout","msg",{payload}]`, in bytes.
pub const W6_FRAME_OVERHEAD: usize = 33;
/// W6: latencies compared around the drop: broadcasts sent from this long before it …
const W6_NEAR_BEFORE: f64 = 1.0;
/// … to this long after it.
const W6_NEAR_AFTER: f64 = 2.0;

/// One W6 phase's broadcasts: (sent at, s since the phase's start; latency to the last healthy subscriber, ms, NaN
/// if one missed it).
pub type Series = Vec<(f64, f64)>;

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
pub const OUTBOX_FRAMES: usize = 1024;

impl Driver {
    /// W6, one phase on a fresh server: `w6_subs` clients join one topic, one of them publishes `w6_rate`
    /// broadcasts/s of `w6_payload` bytes for `w6_secs`. Phase A (`stall` false): every client reads. Phase B: one
    /// client (the first of the second load generator) stops reading right after its join. Keys `w6a_*`/`w6b_*`.
    pub fn w6(&mut self, server: Server, label: &str, stall: bool) -> (Result<Figures, String>, Series) {
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
            let done =
                lg.wait_all_sampling("DONE", Duration::from_secs_f64(secs + 60.0), Duration::from_millis(100), || {
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
            let reports: Vec<&Value> =
                stalled.iter().flat_map(|s| s["stalled"].as_array().into_iter().flatten()).collect();
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
                        format!(
                            "closed by the server {:.2} s into the phase",
                            closed_at.saturating_sub(t_start) as f64 / 1e9
                        )
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
                return Err(format!(
                    "{received} of {expected} deliveries to the healthy clients ({published} broadcasts)"
                ));
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
pub fn w6_compare(a: &mut Figures, b: &mut Figures, series_a: &Series, series_b: &Series, secs: f64) {
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
