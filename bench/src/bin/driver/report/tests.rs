//! The report of fixed synthetic results, compared byte for byte with what the driver wrote before its report was
//! made table-driven (the `.md` fixtures were rendered by the driver of commit d77bd80 from the same `.json`).

use std::time::Duration;

use serde_json::Value;

use super::{RunInfo, Tables, markdown};
use crate::cfg::{Cfg, Server};
use crate::results::Results;

/// Results in the format of `Results::to_json`.
fn results(json: &str) -> Results {
    let v: Value = serde_json::from_str(json).unwrap();
    let server = |s: &str| match s {
        "floor" => Server::Floor,
        "ours" => Server::Ours,
        "socketio" => Server::SocketIo,
        _ => panic!("unknown server {s}"),
    };
    let mut r = Results::default();
    for (s, keys) in v["figures"].as_object().unwrap() {
        for (k, values) in keys.as_object().unwrap() {
            let values = values.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
            r.figures.insert((server(s), k.clone()), values);
        }
    }
    for (s, workloads) in v["failures"].as_object().unwrap() {
        for (w, errors) in workloads.as_object().unwrap() {
            let errors = errors.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_owned()).collect();
            r.failures.insert((server(s), w.clone()), errors);
        }
    }
    r
}

/// The tables of `r` for the run the flags describe, on a fixed machine at a fixed time.
fn render(flags: &[&str], r: &Results) -> Tables {
    let cfg = Cfg::from_args(&flags.iter().map(|f| f.to_string()).collect::<Vec<_>>()).unwrap();
    let machine: Vec<(String, String)> = [
        ("CPU", "Test CPU @ 2.00GHz"),
        ("cores", "2"),
        ("memory", "8 GiB"),
        ("kernel", "6.1.0-test"),
        ("rustc", "rustc 1.90.0 (test)"),
        ("node", "v22.0.0"),
        ("socket.io", "4.8.1"),
        ("tokio", "1.47.1"),
        ("tokio-tungstenite", "0.30.0"),
        ("load average at start", "0.10 0.20 0.30"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .to_vec();
    let run = RunInfo {
        date: "2025-06-01 12:00 UTC",
        command: "bench/run --test",
        elapsed: Duration::from_secs_f64(1234.4),
        machine: &machine,
    };
    markdown(&cfg, r, &run)
}

/// Renders `r` for the run the flags describe and compares the W1–W5 and W6 sections with the fixtures (an empty
/// fixture: no such section).
fn check(flags: &[&str], r: &Results, main: &str, w6: &str) {
    let tables = render(flags, r);
    let expected = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    assert_eq!(tables.main, expected(main), "W1–W5 section for {flags:?}");
    assert_eq!(tables.w6, expected(w6), "W6 section for {flags:?}");
}

const RESULTS: &str = include_str!("../fixtures/results.json");

#[test]
fn a_full_run_reads_as_before() {
    check(&[], &results(RESULTS), include_str!("../fixtures/full.main.md"), include_str!("../fixtures/full.w6.md"));
}

#[test]
fn a_quick_run_reads_as_before() {
    let (main, w6) = (include_str!("../fixtures/quick.main.md"), include_str!("../fixtures/quick.w6.md"));
    check(&["--quick"], &results(RESULTS), main, w6);
}

#[test]
fn a_subset_of_servers_and_workloads_reads_as_before() {
    let (main, w6) = (include_str!("../fixtures/subset.main.md"), include_str!("../fixtures/subset.w6.md"));
    check(&["--runs", "1", "--servers", "ours,floor", "--workloads", "w2,w6"], &results(RESULTS), main, w6);
}

#[test]
fn w6_without_ours_has_no_targets_and_no_main_section() {
    let (main, w6) = (include_str!("../fixtures/peers.main.md"), include_str!("../fixtures/peers.w6.md"));
    assert!(main.is_empty());
    check(&["--servers", "floor,socketio", "--workloads", "w6"], &results(RESULTS), main, w6);
}

#[test]
fn sparse_results_read_as_before() {
    let sparse = results(include_str!("../fixtures/sparse.json"));
    let (main, w6) = (include_str!("../fixtures/sparse.main.md"), include_str!("../fixtures/sparse.w6.md"));
    check(&["--runs", "1"], &sparse, main, w6);
}

#[test]
fn w10_has_its_own_section_of_ours_only() {
    // Two runs of ours (one failed in phase B), and figures of the floor that must not show.
    let r = results(include_str!("../fixtures/w10.json"));
    let tables = render(&["--workloads", "w10"], &r);
    assert_eq!((tables.main, tables.w6), (None, None));
    assert_eq!(tables.w10.as_deref(), Some(include_str!("../fixtures/w10.md")));
}

#[test]
fn w10_without_ours_has_no_section() {
    let r = results(include_str!("../fixtures/w10.json"));
    assert_eq!(render(&["--servers", "floor", "--workloads", "w10"], &r).w10, None);
}
