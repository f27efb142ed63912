//! W10's normal clients (`--workload chat`): rooms of `--members` connections (`bench:chat:<room>`, whole rooms
//! in one process), each connection sending a 100 B chat message every `<param>` seconds of a `GO` phase and
//! reading every broadcast of its room. A delivery's latency is its receipt time minus the send time the message
//! carries (CLOCK_MONOTONIC, comparable across processes). Frames without that time (W10's big broadcasts) are
//! read and not counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use channels_bench::{Histogram, chat_payload, find_sent_ns, now_ns, phx};
use serde_json::json;
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until};

use super::{Conn, DRAIN_TIMEOUT, HEARTBEAT, Phase, next_text, send};

/// What the process's clients have done in the phase.
pub struct Tally {
    /// Messages sent into each of this process's rooms.
    sent: Vec<AtomicU64>,
    received: AtomicU64,
    /// Clients whose connection ended.
    gone: AtomicU64,
    hist: Mutex<Histogram>,
}

impl Tally {
    pub fn new(rooms: usize) -> Arc<Tally> {
        Arc::new(Tally {
            sent: (0..rooms).map(|_| AtomicU64::new(0)).collect(),
            received: AtomicU64::new(0),
            gone: AtomicU64::new(0),
            hist: Mutex::default(),
        })
    }

    /// Every member of a room receives every message sent into it, its sender included.
    fn expected(&self, members: usize) -> u64 {
        self.sent.iter().map(|s| s.load(Ordering::Relaxed) * members as u64).sum()
    }

    /// Runs the phase: lets the clients chat for `phase.secs`, waits for every message to reach every member (or
    /// for the drain timeout), and reports.
    pub async fn phase(&self, go: &watch::Sender<Option<Phase>>, phase: Phase, members: usize) -> serde_json::Value {
        let start = now_ns();
        go.send_replace(Some(phase));
        sleep(Duration::from_secs_f64(phase.secs)).await;
        // A message sent right at the end is in flight: let the clients' sends settle first.
        sleep(Duration::from_millis(100)).await;
        let drain_deadline = Instant::now() + DRAIN_TIMEOUT;
        while self.received.load(Ordering::Relaxed) < self.expected(members) && Instant::now() < drain_deadline {
            sleep(Duration::from_millis(10)).await;
        }
        let hist = self.hist.lock().unwrap_or_else(|e| e.into_inner());
        let sent: u64 = self.sent.iter().map(|s| s.load(Ordering::Relaxed)).sum();
        json!({
            "sent": sent, "expected": self.expected(members), "received": self.received.load(Ordering::Relaxed),
            "gone": self.gone.load(Ordering::Relaxed), "t_start": start, "t_end": now_ns(), "hist": hist.to_json(),
        })
    }
}

/// One client, `index` of its process, in local room `room`: reads and heartbeats; from `GO`, sends a chat
/// message every `phase.param` seconds (the first at a fraction of that, spread over the clients) until the
/// phase ends; then reads on until the process exits.
pub async fn client(
    mut conn: Conn,
    index: usize,
    room: usize,
    mut go: watch::Receiver<Option<Phase>>,
    tally: Arc<Tally>,
) {
    let mut hb = tokio::time::interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
    // (next send, interval, end of the phase) once it started.
    let mut sending: Option<(Instant, Duration, Instant)> = None;
    let far = Instant::now() + Duration::from_secs(3600);
    loop {
        let next = sending.map_or(far, |(next, _, _)| next);
        tokio::select! {
            changed = go.changed(), if sending.is_none() => {
                if changed.is_err() { break; }
                if let Some(p) = *go.borrow() {
                    let now = Instant::now();
                    let spread = (index as f64 * 0.618_034).fract() * p.param;
                    let interval = Duration::from_secs_f64(p.param);
                    sending = Some((now + Duration::from_secs_f64(spread), interval, now + Duration::from_secs_f64(p.secs)));
                }
            }
            text = next_text(&mut conn.ws, conn.f.proto) => {
                let Some(text) = text else { break };
                if phx::is_msg(&text) && let Some(sent) = find_sent_ns(&text) {
                    tally.hist.lock().unwrap_or_else(|e| e.into_inner()).record(now_ns().saturating_sub(sent));
                    tally.received.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ = sleep_until(next), if sending.is_some() => {
                let Some((at, interval, end)) = sending else { continue };
                let frame = conn.f.broadcast_with(&chat_payload(now_ns()));
                tally.sent[room].fetch_add(1, Ordering::Relaxed);
                if send(&mut conn.ws, frame).await.is_err() { break; }
                let at = at + interval;
                sending = (at < end).then_some((at, interval, end));
            }
            _ = hb.tick() => {
                if let Some(frame) = conn.f.heartbeat() && send(&mut conn.ws, frame).await.is_err() { break; }
            }
        }
    }
    tally.gone.fetch_add(1, Ordering::Relaxed);
}
