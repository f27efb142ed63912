//! (b) Stalled readers: `STALLED_READERS` clients join the room `bench:stall` with small TCP buffers and never
//! read again, while one more client broadcasts `BIG_PAYLOAD` bytes into the room `BIG_RATE` times a second (and
//! reads, so it is not stalled itself). A room of their own: the big broadcasts would otherwise load the normal
//! clients, whose latency is what W10 measures, rather than the server. The server must close each stalled reader at its write
//! timeout or when its queue fills; a closed reader joins again.

use std::time::Duration;

use channels_bench::hostile::{BIG_PAYLOAD, BIG_RATE, STALLED_READERS};
use channels_bench::{payload_sized, phx, phx_join, tcp_state};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::time::{Instant, sleep};
use tokio_tungstenite::tungstenite::Message;

use super::{Attack, Counts, Target};

/// The room the attack joins, beside the normal clients' rooms.
const ROOM: &str = "bench:stall";
/// How often a stalled reader looks at the server's end of its connection (`sock_diag`).
const PROBE: Duration = Duration::from_millis(100);
/// A failed connect or join is retried after this long.
const RETRY: Duration = Duration::from_millis(100);

/// What the attack counts: `joined`, `closed` (by the server), `closed_after_max_s` (the longest a stalled reader stayed),
/// `failed` (connects or joins), `big_sent`.
const COUNTS: &[&str] = &["joined", "closed", "closed_after_max_s", "failed", "big_sent"];

/// Runs the attack until `until`; returns its counts.
pub async fn run(t: Target, until: Instant) -> Value {
    let mut attack = Attack::new(until, COUNTS);
    for _ in 0..STALLED_READERS {
        attack.spawn(|counts| reader(t, counts));
    }
    attack.spawn(|counts| broadcaster(t, counts));
    attack.finish().await
}

async fn reader(t: Target, counts: Counts) {
    loop {
        let mut ws = match t.websocket(true).await {
            Ok(ws) => ws,
            Err(_) => {
                counts.add("failed");
                sleep(RETRY).await;
                continue;
            }
        };
        if phx_join(&mut ws, ROOM).await.is_err() {
            counts.add("failed");
            sleep(RETRY).await;
            continue;
        }
        counts.add("joined");
        let joined = Instant::now();
        let tcp = ws.get_ref();
        let (Ok(local), Ok(peer)) = (tcp.local_addr(), tcp.peer_addr()) else { continue };
        // Never read again: wait for the server to close its end.
        while matches!(tcp_state(peer, local), Ok(Some(s)) if !s.closed_by_owner()) {
            sleep(PROBE).await;
        }
        counts.add("closed");
        counts.max("closed_after_max_s", joined.elapsed());
    }
}

async fn broadcaster(t: Target, counts: Counts) {
    let payload = payload_sized(0, BIG_PAYLOAD);
    loop {
        let Ok(mut ws) = t.websocket(false).await else {
            sleep(RETRY).await;
            continue;
        };
        if phx_join(&mut ws, ROOM).await.is_err() {
            sleep(RETRY).await;
            continue;
        }
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / BIG_RATE));
        let mut next_ref = 1;
        loop {
            tokio::select! {
                m = ws.next() => if !matches!(m, Some(Ok(_))) { break },
                _ = tick.tick() => {
                    next_ref += 1;
                    let frame = phx::push(1, next_ref, ROOM, "broadcast", &payload);
                    if ws.send(Message::Text(frame.into())).await.is_err() { break; }
                    counts.add("big_sent");
                }
            }
        }
    }
}
