//! (a) Connection flood: `FLOOD_CONNECTIONS` raw TCP connections that never finish a request head, half of them
//! silent, half trickling header bytes; each reopened `FLOOD_REOPEN_AFTER` after the server closes it. The
//! server must close them at its header-read timeout, trickling or not, and refuse those over its connection cap.

use std::time::Duration;

use channels_bench::connect_tcp;
use channels_bench::hostile::{FLOOD_CONNECTIONS, FLOOD_REOPEN_AFTER, FLOOD_TRICKLE_EVERY};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep};

use super::{Attack, Counts, Target};

/// The flood opens its connections over this long, not all in one burst.
const RAMP: Duration = Duration::from_secs(1);
/// A connection the server closes sooner than this was refused (the cap), not timed out.
const AT_ONCE: Duration = Duration::from_secs(1);

/// What the attack counts: `opened`, `closed` (by the server), `refused` (closed within `AT_ONCE`), `connect_failed`,
/// `held_max_s` (the longest the server held one).
const COUNTS: &[&str] = &["opened", "closed", "refused", "connect_failed", "held_max_s"];

/// Runs the attack until `until`; returns its counts.
pub async fn run(t: Target, until: Instant) -> Value {
    let mut attack = Attack::new(until, COUNTS);
    for i in 0..FLOOD_CONNECTIONS {
        let start = RAMP.mul_f64(i as f64 / FLOOD_CONNECTIONS as f64);
        attack.spawn(|counts| holder(t, i % 2 == 1, start, counts));
    }
    attack.finish().await
}

async fn holder(t: Target, trickle: bool, start: Duration, counts: Counts) {
    sleep(start).await;
    loop {
        let opened = Instant::now();
        match connect_tcp(t.src, t.addr).await {
            Ok(mut tcp) => {
                counts.add("opened");
                if trickle {
                    trickled(&mut tcp).await
                } else {
                    silent(&mut tcp).await
                }
                counts.add("closed");
                let held = opened.elapsed();
                if held < AT_ONCE {
                    counts.add("refused");
                }
                counts.max("held_max_s", held);
            }
            Err(_) => counts.add("connect_failed"),
        }
        sleep(FLOOD_REOPEN_AFTER).await;
    }
}

/// Sends nothing; returns when the server closed the connection.
async fn silent(tcp: &mut TcpStream) {
    let mut buf = [0u8; 512];
    while let Ok(n) = tcp.read(&mut buf).await
        && n > 0
    {}
}

/// Sends a request line and one header, then a byte of a header that never ends every `FLOOD_TRICKLE_EVERY`;
/// returns when the server closed the connection.
async fn trickled(tcp: &mut TcpStream) {
    let head = "GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: ";
    if tcp.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let (mut rd, mut wr) = tcp.split();
    let mut tick = tokio::time::interval_at(Instant::now() + FLOOD_TRICKLE_EVERY, FLOOD_TRICKLE_EVERY);
    let mut buf = [0u8; 512];
    loop {
        tokio::select! {
            r = rd.read(&mut buf) => if !matches!(r, Ok(n) if n > 0) { return },
            _ = tick.tick() => if wr.write_all(b"a").await.is_err() { return },
        }
    }
}
