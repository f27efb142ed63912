//! Every run's figures and failures, and their medians.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::cfg::Server;

/// One measured figure of one run.
pub type Figures = BTreeMap<String, f64>;

/// Every run's figures, by server.
#[derive(Default)]
pub struct Results {
    pub figures: BTreeMap<(Server, String), Vec<f64>>,
    pub failures: BTreeMap<(Server, String), Vec<String>>,
}

impl Results {
    pub fn add(&mut self, server: Server, workload: &str, r: Result<Figures, String>) {
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
    pub fn stat(&self, server: Server, key: &str) -> Option<(f64, f64, f64)> {
        let mut v = self.figures.get(&(server, key.to_owned()))?.clone();
        if v.is_empty() {
            return None;
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let m = if v.len() % 2 == 1 { v[v.len() / 2] } else { (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0 };
        Some((m, v[0], v[v.len() - 1]))
    }

    pub fn median(&self, server: Server, key: &str) -> Option<f64> {
        self.stat(server, key).map(|s| s.0)
    }

    /// Every successful run's value of a figure.
    pub fn values(&self, server: Server, key: &str) -> Vec<f64> {
        self.figures.get(&(server, key.to_owned())).cloned().unwrap_or_default()
    }

    pub fn to_json(&self) -> Value {
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
