//! The floor: the least a Rust server on our stack (tokio + tokio-tungstenite, the same `WebSocketConfig` as our
//! runtime: 4 KiB read buffer, 16 KiB write buffer) does for the benchmark's protocol. It speaks just enough
//! Phoenix V2 for the load generator: `phx_join` (subscribe, reply ok), `broadcast` (encode `msg` once, same bytes
//! to every subscriber), `ping` (reply ok with the payload), `heartbeat` (reply ok). No HTTP router, no channel
//! tasks: one task per connection with a bounded queue (1024 frames, a full queue drops the client, as ours),
//! writes coalesced and flushed once.
//!
//! `floor [PORT]` (default 4101).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde_json::value::RawValue;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

const OUTBOX: usize = 1024;

type Tx = mpsc::Sender<Utf8Bytes>;
/// Subscribers by topic: (connection id, its outbound queue).
type Topics = HashMap<Box<str>, Vec<(u64, Tx)>>;

#[derive(Default)]
struct Registry {
    topics: Mutex<Topics>,
    next_id: AtomicU64,
}

impl Registry {
    fn subscribe(&self, topic: &str, id: u64, tx: Tx) {
        self.topics.lock().unwrap().entry(topic.into()).or_default().push((id, tx));
    }

    fn unsubscribe(&self, topic: &str, id: u64) {
        let mut topics = self.topics.lock().unwrap();
        if let Some(subs) = topics.get_mut(topic) {
            subs.retain(|(i, _)| *i != id);
            if subs.is_empty() {
                topics.remove(topic);
            }
        }
    }

    fn broadcast(&self, topic: &str, frame: Utf8Bytes) {
        let topics = self.topics.lock().unwrap();
        for (_, tx) in topics.get(topic).into_iter().flatten() {
            // Full: a slow client; its frames are dropped (the load generator counts them as lost).
            let _ = tx.try_send(frame.clone());
        }
    }
}

fn reply(join_ref: Option<&str>, ref_: Option<&str>, topic: &str, response: &str) -> Utf8Bytes {
    let q = |s: Option<&str>| s.map_or("null".to_owned(), |s| format!("\"{s}\""));
    format!(r#"[{},{},"{topic}","phx_reply",{{"status":"ok","response":{response}}}]"#, q(join_ref), q(ref_)).into()
}

async fn serve(stream: TcpStream, registry: Arc<Registry>) {
    let _ = stream.set_nodelay(true);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(channels_bench::ws_config())).await
    else {
        return;
    };
    let id = registry.next_id.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(OUTBOX);
    let mut topics: Vec<Box<str>> = Vec::new();
    loop {
        tokio::select! {
            biased;
            Some(frame) = rx.recv() => {
                let mut ok = ws.feed(Message::Text(frame)).await.is_ok();
                while ok && let Ok(frame) = rx.try_recv() {
                    ok = ws.feed(Message::Text(frame)).await.is_ok();
                }
                if !ok || ws.flush().await.is_err() {
                    break;
                }
            }
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                type Frame<'a> = (Option<&'a str>, Option<&'a str>, &'a str, &'a str, &'a RawValue);
                let Ok((join_ref, ref_, topic, event, payload)) = serde_json::from_str::<Frame>(&text) else { break };
                match event {
                    "phx_join" => {
                        registry.subscribe(topic, id, tx.clone());
                        topics.push(topic.into());
                        let _ = tx.try_send(reply(join_ref, ref_, topic, "{}"));
                    }
                    "broadcast" => {
                        let frame = format!(r#"[null,null,"{topic}","msg",{}]"#, payload.get());
                        registry.broadcast(topic, frame.into());
                    }
                    "ping" => {
                        let _ = tx.try_send(reply(join_ref, ref_, topic, payload.get()));
                    }
                    "heartbeat" => {
                        let _ = tx.try_send(reply(join_ref, ref_, topic, "{}"));
                    }
                    _ => {}
                }
            }
        }
    }
    for topic in topics {
        registry.unsubscribe(&topic, id);
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    channels_bench::raise_nofile();
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(channels_bench::PORT_FLOOR);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let registry = Arc::new(Registry::default());
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream, registry.clone()));
            }
            Err(e) => {
                eprintln!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}
