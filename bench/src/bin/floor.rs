//! The floor: the least a Rust server on our stack (tokio + tokio-tungstenite, the same `WebSocketConfig` as our
//! runtime: 4 KiB read buffer, 16 KiB write buffer) does for the benchmark's protocol. It speaks just enough
//! Phoenix V2 for the load generator: `phx_join` (subscribe, reply ok), `broadcast` (encode `msg` once, same bytes
//! to every subscriber), `ping` (reply ok with the payload), `heartbeat` (reply ok). No HTTP router, no channel
//! tasks: one task per connection with a bounded queue (1024 frames, a full queue drops the client, as ours),
//! writes coalesced and flushed once. Dropping costs nothing while nobody is slow: the broadcaster that finds a
//! queue full shuts the client's socket down (`shutdown(2)`), which fails the connection task's blocked write; the
//! task then unsubscribes and closes the socket.
//!
//! `floor [PORT]` (default 4101).

use std::collections::HashMap;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde_json::value::RawValue;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

const OUTBOX: usize = 1024;

type Tx = mpsc::Sender<Utf8Bytes>;
/// Subscribers by topic: (connection's socket, its outbound queue). The socket doubles as the connection's id: a
/// connection unsubscribes before it closes its socket, so no two entries ever hold the same open fd.
type Topics = HashMap<Box<str>, Vec<(RawFd, Tx)>>;

#[derive(Default)]
struct Registry {
    topics: Mutex<Topics>,
}

impl Registry {
    fn subscribe(&self, topic: &str, id: RawFd, tx: Tx) {
        self.topics.lock().unwrap().entry(topic.into()).or_default().push((id, tx));
    }

    fn unsubscribe(&self, topic: &str, id: RawFd) {
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
        for (fd, tx) in topics.get(topic).into_iter().flatten() {
            if let Err(TrySendError::Full(_)) = tx.try_send(frame.clone()) {
                // A client that does not keep up: drop it. Its task is blocked writing to the full socket; the
                // shutdown fails that write, and the task unsubscribes (under this lock) before it closes the fd.
                // SAFETY: the fd is open: its connection is still subscribed, and we hold the registry lock.
                unsafe { libc::shutdown(*fd, libc::SHUT_RDWR) };
            }
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
    let id = ws.get_ref().as_raw_fd();
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
