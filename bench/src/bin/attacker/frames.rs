//! (c) Bad frames: a client that sends a frame one byte over `MAX_FRAME_SIZE` (the server must close with 1009
//! as soon as it reads the frame's header), and one that sends a text frame that is not a Phoenix message (1011);
//! each on a new connection, `BAD_FRAME_RATE` times a second.

use std::time::Duration;

use channels_bench::MAX_FRAME_SIZE;
use channels_bench::hostile::BAD_FRAME_RATE;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;

use super::{Attack, Counts, Target, Ws};

/// How long the server may take to close after a bad frame.
const CLOSE_WITHIN: Duration = Duration::from_secs(5);
/// Bytes of the oversized frame's payload sent after its header: the server must not wait for the rest.
const OVERSIZED_SENT: usize = 1 << 10;

/// What the attack counts: `oversized_sent`, `malformed_sent`, `closed_1009`, `closed_1011`, `closed_other` (another code, or no
/// close frame), `not_closed` (within `CLOSE_WITHIN`), `failed` (connects).
const COUNTS: &[&str] =
    &["oversized_sent", "malformed_sent", "closed_1009", "closed_1011", "closed_other", "not_closed", "failed"];

/// Runs the attack until `until`; returns its counts.
pub async fn run(t: Target, until: Instant) -> Value {
    let mut attack = Attack::new(until, COUNTS);
    for oversized in [true, false] {
        attack.spawn(move |counts| async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / BAD_FRAME_RATE));
            loop {
                tick.tick().await;
                match t.websocket(false).await {
                    Ok(ws) => attempt(ws, oversized, &counts).await,
                    Err(_) => counts.add("failed"),
                }
            }
        });
    }
    attack.finish().await
}

async fn attempt(mut ws: Ws, oversized: bool, counts: &Counts) {
    let sent = if oversized {
        counts.add("oversized_sent");
        ws.get_mut().write_all(&oversized_frame()).await.is_ok()
    } else {
        counts.add("malformed_sent");
        ws.send(Message::Text("this is not a phoenix message".into())).await.is_ok()
    };
    let code = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    };
    match (sent, timeout(CLOSE_WITHIN, code).await) {
        (_, Ok(Some(1009))) => counts.add("closed_1009"),
        (_, Ok(Some(1011))) => counts.add("closed_1011"),
        (_, Ok(_)) | (false, Err(_)) => counts.add("closed_other"),
        (true, Err(_)) => counts.add("not_closed"),
    }
}

/// The header of a masked text frame of `MAX_FRAME_SIZE + 1` bytes, and the first bytes of its payload.
fn oversized_frame() -> Vec<u8> {
    let mut f = vec![0x81, 0x80 | 127];
    f.extend_from_slice(&(MAX_FRAME_SIZE as u64 + 1).to_be_bytes());
    f.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]);
    f.resize(f.len() + OVERSIZED_SENT, b'x');
    f
}
