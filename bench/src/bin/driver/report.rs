//! The report: markdown tables of the results. Every table is data (the rows of [`sections`], the targets of
//! [`targets`]) drawn by the one renderer here.

mod sections;
mod targets;
#[cfg(test)]
mod tests;

use std::time::Duration;

use self::sections::{Group, Section};
use self::targets::Target;
use crate::cfg::{Cfg, Server, WORKLOADS};
use crate::results::Results;

/// What the report says of the run itself.
pub struct RunInfo<'a> {
    /// When the report was made, as `date -u '+%Y-%m-%d %H:%M UTC'` prints it.
    pub date: &'a str,
    /// The command line, as the user would type it.
    pub command: &'a str,
    pub elapsed: Duration,
    /// (name, value) of the machine, in order.
    pub machine: &'a [(String, String)],
}

/// The results as markdown, one table per results section of BENCHMARKS.md; `None` for a section the run did not
/// have.
#[derive(Debug, PartialEq)]
pub struct Tables {
    /// W1–W5, with the machine and the issue #10 targets.
    pub main: Option<String>,
    /// W6, with the issue #11 targets.
    pub w6: Option<String>,
    /// W10, with the targets of the issue "Bounded under hostile clients"; ours only.
    pub w10: Option<String>,
}

pub fn markdown(cfg: &Cfg, r: &Results, run: &RunInfo) -> Tables {
    let run_line = format!(
        "Run of {}: `{}` ({} run{} per figure, {:.0} s in all). Cells: median (min–max) over the runs; \
         a failed run (lost a message or a connection) is named and left out of the median.",
        run.date,
        run.command,
        cfg.runs,
        if cfg.runs == 1 { "" } else { "s" },
        run.elapsed.as_secs_f64()
    );
    let machine = |k: &str| run.machine.iter().find(|(n, _)| n == k).map_or("", |(_, v)| v.as_str());
    // The sections of one workload name the machine in a sentence; the W1–W5 section has it in full.
    let short_head = || {
        format!(
            "{run_line} Machine: {} cores, kernel {}, load average at the start {}.\n\n",
            machine("cores"),
            machine("kernel"),
            machine("load average at start")
        )
    };
    let ours = cfg.servers.contains(&Server::Ours);
    let main = cfg.workloads.iter().any(|w| WORKLOADS[..5].contains(&w.as_str())).then(|| {
        let mut s = run_line.clone();
        s.push_str("\n\n| machine | |\n|---|---|\n");
        for (k, v) in run.machine {
            s.push_str(&format!("| {k} | {v} |\n"));
        }
        s.push('\n');
        for section in sections::MAIN.iter().filter(|section| has(cfg, section.workload)) {
            render_section(&mut s, cfg, r, section);
        }
        if ours {
            render_targets(
                &mut s,
                "**Targets of issue #10** (ours; ratios against the peers of the same run, from the medians)",
                &targets::issue_10(r),
            );
        }
        s
    });
    let w6 = has(cfg, "w6").then(|| {
        let mut s = short_head();
        render_section(&mut s, cfg, r, &sections::W6);
        if ours {
            render_targets(&mut s, "**Targets of issue #11** (ours, from the medians)", &targets::issue_11(cfg, r));
        }
        s
    });
    let w10 = (has(cfg, "w10") && ours).then(|| {
        let mut s = short_head();
        render_section(&mut s, cfg, r, &sections::W10);
        render_targets(
            &mut s,
            "**Targets of the issue \"Bounded under hostile clients\"** (ours)",
            &targets::hostile(r),
        );
        s
    });
    Tables { main, w6, w10 }
}

fn has(cfg: &Cfg, workload: &str) -> bool {
    cfg.workloads.iter().any(|w| w == workload)
}

/// A workload's table: its intro, a column per server, its rows.
fn render_section(s: &mut String, cfg: &Cfg, r: &Results, section: &Section) {
    let servers = if section.ours_only { &[Server::Ours][..] } else { &cfg.servers };
    s.push_str(&(section.intro)(cfg));
    s.push_str(&format!("| {} |", section.first_column));
    for server in servers {
        s.push_str(&format!(" {} |", server.title()));
    }
    s.push_str("\n|---|");
    for _ in servers {
        s.push_str("---:|");
    }
    s.push('\n');
    for group in section.groups {
        render_group(s, cfg, servers, r, group);
    }
    s.push('\n');
}

fn render_group(s: &mut String, cfg: &Cfg, servers: &[Server], r: &Results, group: &Group) {
    let sizes: Vec<Option<usize>> =
        if group.per_w1_size { cfg.w1_sizes.iter().copied().map(Some).collect() } else { vec![None] };
    for n in sizes {
        let fill = |text: &str| n.map_or_else(|| text.to_owned(), |n| text.replace("{n}", &n.to_string()));
        for row in group.rows {
            s.push_str(&format!("| {} |", fill(row.label)));
            for &server in servers {
                // A cell of one figure also counts the failed runs; one of several figures side by side does not.
                let c = match row.keys {
                    [key] => cell(r, server, &fill(key), Some(group.failures), cfg.runs),
                    keys => {
                        keys.iter().map(|k| cell(r, server, &fill(k), None, cfg.runs)).collect::<Vec<_>>().join(" / ")
                    }
                };
                s.push_str(&format!(" {c} |"));
            }
            s.push('\n');
        }
    }
}

/// A table of targets, each with its verdict.
fn render_targets(s: &mut String, heading: &str, targets: &[Target]) {
    s.push_str(heading);
    s.push_str("\n\n| target | measured | goal | |\n|---|---:|---|---|\n");
    for Target { name, measured, goal, pass } in targets {
        let verdict = match pass {
            Some(true) => "pass",
            Some(false) => "**MISS**",
            None => "not measured",
        };
        s.push_str(&format!("| {name} | {measured} | {goal} | {verdict} |\n"));
    }
    s.push('\n');
}

/// A figure of one server: the median, with min–max when the runs differ, and how many runs of `failures` (a
/// workload or a W6 phase) failed.
fn cell(r: &Results, server: Server, key: &str, failures: Option<&str>, runs: usize) -> String {
    let failed = failures.and_then(|w| r.failures.get(&(server, w.to_owned()))).map_or(0, Vec::len);
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

/// A figure with three significant digits or so, thousands as `k`.
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
