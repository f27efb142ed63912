//! W10, normal clients chatting while the server is attacked: phase A (no attack) and phase B (every attack of
//! the `attacker` process at once), each on a fresh server with the same limits (`channels_bench::hostile`).

use std::time::Duration;

use channels_bench::hostile;
use serde_json::Value;

use crate::cfg::Server;
use crate::procs::{Driver, Loadgens, ServerProc, Snap};
use crate::results::Figures;
use crate::workloads::{check_setup, merged_hist, split, sum};

/// How often the server's RSS is sampled during a phase.
const RSS_EVERY: Duration = Duration::from_millis(100);

impl Driver {
    /// W10, one phase on a fresh server: `w10_clients` clients in rooms of `w10_members` chat (each sends a
    /// message every `w10_interval` s) for `w10_secs`; with `attack`, the attacker runs meanwhile. Keys
    /// `w10a_*`/`w10b_*`; phase B also has every count of the attacker, `w10b_<attack>_<count>`.
    pub fn w10(&mut self, server: Server, label: &str, attack: bool) -> Result<Figures, String> {
        let k = if attack { "w10b" } else { "w10a" };
        let env = hostile::server_env();
        let srv = self.start_server_env(server, &format!("{label}-{}", if attack { "b" } else { "a" }), &env)?;
        let (n, members) = (self.cfg.w10_clients, self.cfg.w10_members);
        let parts: Vec<_> = split(n, self.cfg.procs, members)
            .into_iter()
            .map(|(c, o)| (c, o, ["--members", &members.to_string(), "--concurrency", "64"].map(String::from).to_vec()))
            .collect();
        let mut lg = self.spawn_loadgens(server, "chat", &parts);
        let mut attacker = attack.then(|| self.spawn_attacker(server));
        let result = self.w10_phase(k, &srv, &mut lg, attacker.as_mut());
        if let Some(a) = attacker {
            a.exit();
        }
        lg.exit();
        srv.stop();
        result
    }

    fn w10_phase(
        &self,
        k: &str,
        srv: &ServerProc,
        lg: &mut Loadgens,
        mut attacker: Option<&mut Loadgens>,
    ) -> Result<Figures, String> {
        let (n, secs, interval) = (self.cfg.w10_clients, self.cfg.w10_secs, self.cfg.w10_interval);
        let ready = lg.wait_all("READY", Duration::from_secs(120))?;
        check_setup(&ready, n)?;
        if let Some(a) = attacker.as_mut() {
            a.wait_all("READY", Duration::from_secs(10))?;
        }
        std::thread::sleep(Duration::from_secs(1));
        let rss0 = srv.rss();
        let snap = Snap::take(srv, lg);
        if let Some(a) = attacker.as_mut() {
            a.send_all(&format!("GO {secs}"));
        }
        lg.send_all(&format!("GO {secs} {interval}"));
        let mut peak = rss0;
        let done = lg.wait_all_sampling("DONE", Duration::from_secs_f64(secs + 60.0), RSS_EVERY, || {
            peak = peak.max(srv.rss())
        })?;
        let mut f = Figures::new();
        let cpu = snap.record(srv, lg, k, &mut f);
        let rss1 = srv.rss();
        let (sent, expected, received, gone) =
            (sum(&done, "sent"), sum(&done, "expected"), sum(&done, "received"), sum(&done, "gone"));
        let hist = merged_hist(&done);
        for (name, v) in [
            ("sent", sent as f64),
            ("expected", expected as f64),
            ("received", received as f64),
            ("lost", expected.saturating_sub(received) as f64),
            ("gone", gone as f64),
            ("cpu_pct", 100.0 * cpu / secs),
            ("p50_ms", hist.quantile(0.5) as f64 / 1e6),
            ("p99_ms", hist.quantile(0.99) as f64 / 1e6),
            ("max_ms", hist.quantile(1.0) as f64 / 1e6),
            ("rss0_mib", rss0 as f64 / 1024.0),
            ("rss_peak_mib", peak.max(rss1) as f64 / 1024.0),
            ("rss_end_mib", rss1 as f64 / 1024.0),
        ] {
            f.insert(format!("{k}_{name}"), v);
        }
        if let Some(a) = attacker {
            let report = a.wait_all("DONE", Duration::from_secs(30))?;
            f.insert(format!("{k}_attacker_cpu"), a.cpu());
            record_attacks(k, &report[0], &mut f);
        }
        if received != expected || sent == 0 || gone > 0 {
            return Err(format!(
                "{received} of {expected} deliveries to the normal clients ({sent} messages), {gone} disconnected"
            ));
        }
        Ok(f)
    }
}

/// The attacker's counts, `{k}_<attack>_<count>`.
fn record_attacks(k: &str, report: &Value, f: &mut Figures) {
    for (attack, counts) in report.as_object().into_iter().flatten() {
        for (count, v) in counts.as_object().into_iter().flatten() {
            f.insert(format!("{k}_{attack}_{count}"), v.as_f64().unwrap_or(f64::NAN));
        }
    }
}

/// One run's A and B compared: p99(B)/p99(A).
pub fn w10_compare(a: &Figures, b: &mut Figures) {
    if let (Some(pa), Some(pb)) = (a.get("w10a_p99_ms"), b.get("w10b_p99_ms")) {
        b.insert("w10b_p99_ratio".into(), pb / pa);
    }
}
