//! (e) Join spam: one connection joining new topics (`bench:spam:<i>`), `JOIN_SPAM_RATE` a second, and sending
//! nothing else but heartbeats. The server must refuse joins past its per-connection join rate and channel cap,
//! and keep answering.

use std::time::Duration;

use channels_bench::hostile::JOIN_SPAM_RATE;
use channels_bench::phx;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::time::{Instant, sleep};
use tokio_tungstenite::tungstenite::Message;

use super::{Attack, Counts, Target};

/// Joins are sent in bursts this often.
const BURST_EVERY: Duration = Duration::from_millis(100);
/// Phoenix clients heartbeat this often.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// What the attack counts: `connections`, `joins` (sent), `ok`, `refused_rate` (join rate exceeded), `refused_other` (channel cap
/// or anything else).
const COUNTS: &[&str] = &["connections", "joins", "ok", "refused_rate", "refused_other"];

/// Runs the attack until `until`; returns its counts.
pub async fn run(t: Target, until: Instant) -> Value {
    let mut attack = Attack::new(until, COUNTS);
    attack.spawn(|counts| spam(t, counts));
    attack.finish().await
}

async fn spam(t: Target, counts: Counts) {
    let burst = (JOIN_SPAM_RATE * BURST_EVERY.as_secs_f64()).round() as u64;
    let mut next = 0u64;
    loop {
        let Ok(mut ws) = t.websocket(false).await else {
            sleep(BURST_EVERY).await;
            continue;
        };
        counts.add("connections");
        let mut tick = tokio::time::interval(BURST_EVERY);
        let mut hb = tokio::time::interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
        loop {
            tokio::select! {
                m = ws.next() => match m {
                    Some(Ok(Message::Text(t))) if phx::is_reply(&t) && !phx::is_heartbeat_reply(&t) => {
                        counts.add(if phx::is_ok_reply(&t) {
                            "ok"
                        } else if t.contains("join rate exceeded") {
                            "refused_rate"
                        } else {
                            "refused_other"
                        });
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break,
                },
                _ = tick.tick() => {
                    let frames: Vec<_> = (next..next + burst)
                        .map(|i| Ok(Message::Text(phx::join(i + 1, &format!("bench:spam:{i}")).into())))
                        .collect();
                    next += burst;
                    if ws.send_all(&mut futures_util::stream::iter(frames)).await.is_err() { break; }
                    counts.add_n("joins", burst);
                }
                _ = hb.tick() => {
                    if ws.send(Message::Text(phx::heartbeat(next).into())).await.is_err() { break; }
                }
            }
        }
    }
}
