//! One load-generating process. The driver starts several (each may hold at most ~20,000 open files), pinned to
//! the load core, and steers them over stdin/stdout, one line each way:
//!
//! - the process connects and joins its connections, then prints `READY {json}` (`storm`: at once, connecting
//!   nothing yet);
//! - `GO <secs> <param>` runs the timed phase and prints `DONE {json}`;
//! - `EXIT` (or the end of stdin, or `--max-secs`) exits, which closes every connection.
//!
//! Workloads (`--workload`): `idle` (W1: connect + join, then stay idle answering heartbeats), `storm` (W5: on
//! GO, connect + join as fast as `--concurrency` allows), `fanout` (W2: everyone joins one topic; the process
//! with `--publisher` publishes, `GO <secs> closed:<window>` or `GO <secs> open:<rate>`; receipts are counted per
//! broadcast in shared memory, `--shm`, so the publisher sees every process's), `rooms` (W3: rooms of
//! `--members` members, each room chats with `<param>` messages in flight; a message is done when every member
//! received it), `rr` (W4: every connection sends `ping` and waits for the reply, repeatedly), `chat` (W10's
//! normal clients, see [`chat`]).
//!
//! W6 (slow consumer) is `fanout` with `--payload <bytes>`, `--read-buffer <bytes>` (the client's WebSocket read
//! chunk; default 1 KiB, the servers' setting), `--series` (the publisher also reports every broadcast's send
//! time and latency) and `--stall <n>`: this process's first `n` connections ask for small TCP buffers, stop reading
//! right after their join (they keep their socket open and keep sending heartbeats), and watch their server-side
//! socket through `sock_diag` to see when the server closes it. `STALL` makes them read what is left and prints
//! `STALLED {json}` (every fanout process answers, with an empty list if it has none).
//!
//! Both protocols are spoken over raw frames: Phoenix V2 JSON arrays (`--proto phoenix`) and Engine.IO v4 /
//! Socket.IO v5 (`--proto sio`). Heartbeats are sent every 30 s (Phoenix) and Engine.IO pings answered (sio).

mod chat;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use channels_bench::{
    Histogram, Proto, Shm, connect_tcp_with, find_seq, now_ns, payload, payload_sized, phx, sio, tcp_state,
};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

type Ws = WebSocketStream<TcpStream>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

const HEARTBEAT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Clone, Debug)]
struct Args {
    proto: Proto,
    addr: SocketAddr,
    src: Ipv4Addr,
    workload: String,
    conns: usize,
    offset: usize,
    concurrency: usize,
    shm: Option<String>,
    total: u64,
    publisher: bool,
    members: usize,
    max_secs: u64,
    series: bool,
    payload_len: usize,
    read_buffer: usize,
    stall: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        proto: Proto::Phoenix,
        addr: "127.0.0.1:4100".parse().unwrap(),
        src: Ipv4Addr::new(127, 0, 0, 10),
        workload: "idle".into(),
        conns: 100,
        offset: 0,
        concurrency: 64,
        shm: None,
        total: 0,
        publisher: false,
        members: 10,
        max_secs: 900,
        series: false,
        payload_len: channels_bench::PAYLOAD_LEN,
        read_buffer: 1 << 10,
        stall: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--publisher" {
            a.publisher = true;
            continue;
        }
        if flag == "--series" {
            a.series = true;
            continue;
        }
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--proto" => a.proto = Proto::parse(&v).ok_or("--proto phoenix|sio")?,
            "--addr" => a.addr = v.parse().map_err(|e| format!("--addr: {e}"))?,
            "--src" => a.src = v.parse().map_err(|e| format!("--src: {e}"))?,
            "--workload" => a.workload = v,
            "--conns" => a.conns = num(&v)? as usize,
            "--offset" => a.offset = num(&v)? as usize,
            "--concurrency" => a.concurrency = num(&v)?.max(1) as usize,
            "--shm" => a.shm = Some(v),
            "--total" => a.total = num(&v)?,
            "--members" => a.members = num(&v)?.max(1) as usize,
            "--max-secs" => a.max_secs = num(&v)?,
            "--payload" => a.payload_len = num(&v)? as usize,
            "--read-buffer" => a.read_buffer = num(&v)?.max(64) as usize,
            "--stall" => a.stall = num(&v)? as usize,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if a.total == 0 {
        a.total = a.conns as u64;
    }
    Ok(a)
}

/// One joined connection.
struct Conn {
    ws: Ws,
    f: Framer,
}

/// What a connection needs to build its frames.
struct Framer {
    proto: Proto,
    topic: String,
    next_ref: u64,
    payload_len: usize,
}

/// What a received frame is, for the workloads.
enum In {
    /// A broadcast `msg` carrying this seq.
    Msg(Option<u64>),
    /// A reply/ack; ok or not, and the seq in its payload.
    Reply { ok: bool, seq: Option<u64> },
    /// Anything else (ignored).
    Other,
}

fn classify(proto: Proto, text: &str) -> In {
    match proto {
        Proto::Phoenix => {
            if phx::is_msg(text) {
                In::Msg(find_seq(text))
            } else if phx::is_heartbeat_reply(text) {
                In::Other
            } else if phx::is_reply(text) {
                In::Reply { ok: phx::is_ok_reply(text), seq: find_seq(text) }
            } else {
                In::Other
            }
        }
        Proto::SocketIo => {
            if sio::is_msg(text) {
                In::Msg(find_seq(text))
            } else if sio::is_ack(text) {
                In::Reply { ok: true, seq: find_seq(text) }
            } else {
                In::Other
            }
        }
    }
}

async fn send(ws: &mut Ws, text: String) -> Result<(), BoxError> {
    ws.send(Message::Text(text.into())).await?;
    Ok(())
}

/// The next text frame, answering Engine.IO pings on the way; `None` when the connection ended.
async fn next_text(ws: &mut Ws, proto: Proto) -> Option<Utf8Bytes> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(t)) => {
                if proto == Proto::SocketIo && t.as_str() == sio::PING {
                    ws.send(Message::Text(sio::PONG.into())).await.ok()?;
                    continue;
                }
                return Some(t);
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

impl Framer {
    fn heartbeat(&mut self) -> Option<String> {
        match self.proto {
            Proto::Phoenix => {
                self.next_ref += 1;
                Some(phx::heartbeat(self.next_ref))
            }
            Proto::SocketIo => None, // the server pings; we answer
        }
    }

    fn broadcast_frame(&mut self, seq: u64) -> String {
        self.broadcast_with(&payload_sized(seq, self.payload_len))
    }

    fn broadcast_with(&mut self, payload: &str) -> String {
        match self.proto {
            Proto::Phoenix => {
                self.next_ref += 1;
                phx::push(1, self.next_ref, &self.topic, "broadcast", payload)
            }
            Proto::SocketIo => sio::broadcast(payload),
        }
    }

    fn ping_frame(&mut self, seq: u64) -> String {
        self.next_ref += 1;
        match self.proto {
            Proto::Phoenix => phx::push(1, self.next_ref, &self.topic, "ping", &payload(seq)),
            Proto::SocketIo => sio::ping(self.next_ref, &payload(seq)),
        }
    }
}

/// Connects and joins `topic`; a `stalled` connection asks for small TCP buffers (see `connect_tcp_with`).
async fn connect_join(args: &Args, topic: String, stalled: bool) -> Result<Conn, BoxError> {
    let tcp = connect_tcp_with(args.src, args.addr, stalled).await?;
    let config = channels_bench::ws_config().read_buffer_size(args.read_buffer);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(args.proto.url(args.addr), tcp, Some(config)).await?;
    match args.proto {
        Proto::Phoenix => channels_bench::phx_join(&mut ws, &topic).await?,
        Proto::SocketIo => {
            let open = next_text(&mut ws, args.proto).await.ok_or("closed before open")?;
            if !open.starts_with('0') {
                return Err(format!("unexpected open packet {open}").into());
            }
            send(&mut ws, sio::CONNECT.to_owned()).await?;
            loop {
                let t = next_text(&mut ws, args.proto).await.ok_or("closed while connecting")?;
                if t.starts_with("40") {
                    break;
                }
                if t.starts_with("44") {
                    return Err(format!("connect refused: {t}").into());
                }
            }
            send(&mut ws, sio::join(0, &topic)).await?;
            loop {
                let t = next_text(&mut ws, args.proto).await.ok_or("closed while joining")?;
                if t.starts_with("430") {
                    break;
                }
            }
        }
    }
    Ok(Conn { ws, f: Framer { proto: args.proto, topic, next_ref: 1, payload_len: args.payload_len } })
}

/// Connects and joins `n` connections, at most `args.concurrency` at once, handing each to `each` as soon as it
/// joined. Returns (joined, failed, first start, last join, per-connection connect+join time).
async fn connect_many(
    args: &Args,
    n: usize,
    topic: impl Fn(usize) -> String,
    mut each: impl FnMut(usize, Conn),
) -> (u64, u64, u64, u64, Histogram) {
    let t0 = now_ns();
    let mut hist = Histogram::default();
    let (mut ok, mut failed) = (0u64, 0u64);
    let mut first_error = None;
    let mut attempts = futures_util::stream::iter(0..n)
        .map(|i| {
            let topic = topic(i);
            async move {
                let start = now_ns();
                let r = timeout(CONNECT_TIMEOUT, connect_join(args, topic, i < args.stall)).await;
                (i, start, now_ns(), r)
            }
        })
        .buffer_unordered(args.concurrency);
    let mut last = t0;
    while let Some((i, start, end, r)) = attempts.next().await {
        match r {
            Ok(Ok(conn)) => {
                ok += 1;
                hist.record(end - start);
                last = last.max(end);
                each(i, conn);
            }
            Ok(Err(e)) => {
                failed += 1;
                first_error.get_or_insert_with(|| e.to_string());
            }
            Err(_) => {
                failed += 1;
                first_error.get_or_insert_with(|| "connect+join timed out".to_owned());
            }
        }
    }
    if let Some(e) = first_error {
        eprintln!("loadgen {}: {failed} of {n} connections failed, first: {e}", args.src);
    }
    (ok, failed, t0, last, hist)
}

fn setup_json(r: &(u64, u64, u64, u64, Histogram)) -> serde_json::Value {
    json!({"joined": r.0, "failed": r.1, "t_start": r.2, "t_end": r.3, "hist": r.4.to_json()})
}

/// Keeps a connection open: heartbeats, Engine.IO pongs, and (fan-out) counting receipts and publishing.
async fn hold(mut conn: Conn, shm: Option<Arc<Shm>>, mut publish: Option<mpsc::Receiver<u64>>) {
    let mut hb = tokio::time::interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
    loop {
        tokio::select! {
            text = next_text(&mut conn.ws, conn.f.proto) => {
                let Some(text) = text else { return };
                if let (Some(shm), In::Msg(Some(seq))) = (&shm, classify(conn.f.proto, &text)) {
                    shm.received(seq);
                }
            }
            seq = async { match publish.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => {
                let Some(seq) = seq else { return };
                let frame = conn.f.broadcast_frame(seq);
                if let Some(shm) = &shm {
                    shm.published(seq).store(now_ns(), Ordering::Relaxed);
                }
                if send(&mut conn.ws, frame).await.is_err() {
                    return;
                }
            }
            _ = hb.tick() => {
                if let Some(frame) = conn.f.heartbeat() && send(&mut conn.ws, frame).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// How often a stalled connection looks at its server-side socket.
const STALL_PROBE: Duration = Duration::from_millis(50);
/// How long the final read of a stalled connection waits for more data before calling it still open.
const STALL_DRAIN_IDLE: Duration = Duration::from_secs(2);

/// W6's stalled client: joined, then never reads again (its receive buffer fills, then the server's send buffer,
/// then whatever the server queues for it). It still sends heartbeats, so no idle timeout ends it, until it sees
/// its server-side socket closed. Every `STALL_PROBE` it looks up both ends of its TCP connection (`sock_diag`):
/// the moment the server's end stops being an established socket held by the server process is when the server
/// dropped it. Asked for its report, it reads everything left and says how the stream ended.
async fn stalled(mut conn: Conn, mut ask: mpsc::UnboundedReceiver<tokio::sync::oneshot::Sender<serde_json::Value>>) {
    let tcp = conn.ws.get_ref();
    let (local, peer) = (tcp.local_addr().ok(), tcp.peer_addr().ok());
    let mut hb = tokio::time::interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
    let mut probe = tokio::time::interval(STALL_PROBE);
    probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (mut closed_at, mut server_wqueue_max, mut client_rqueue_max, mut probe_errors) = (0u64, 0u32, 0u32, 0u64);
    let mut server_state = None;
    let mut write_error = None;
    let reply = loop {
        tokio::select! {
            r = ask.recv() => match r {
                Some(reply) => break reply,
                None => return,
            },
            _ = probe.tick(), if closed_at == 0 => {
                let (Some(local), Some(peer)) = (local, peer) else { continue };
                match tcp_state(peer, local) {
                    Ok(Some(s)) if !s.closed_by_owner() => server_wqueue_max = server_wqueue_max.max(s.wqueue),
                    Ok(s) => {
                        closed_at = now_ns();
                        server_state = s.map(|s| s.state);
                    }
                    Err(_) => probe_errors += 1,
                }
                if let Ok(Some(c)) = tcp_state(local, peer) {
                    client_rqueue_max = client_rqueue_max.max(c.rqueue);
                }
            }
            _ = hb.tick(), if closed_at == 0 && write_error.is_none() => {
                if let Some(frame) = conn.f.heartbeat() && let Err(e) = send(&mut conn.ws, frame).await {
                    write_error = Some(e.to_string());
                }
            }
        }
    };
    // The rest of the stream: what the server had queued before it closed, then how the stream ends.
    let (mut msgs, mut bytes) = (0u64, 0u64);
    let end = loop {
        match timeout(STALL_DRAIN_IDLE, conn.ws.next()).await {
            Err(_) => break "still open (no data for 2 s)".to_owned(),
            Ok(None) => break "end of stream".to_owned(),
            Ok(Some(Ok(Message::Text(t)))) => {
                bytes += t.len() as u64;
                if matches!(classify(conn.f.proto, &t), In::Msg(_)) {
                    msgs += 1;
                }
            }
            Ok(Some(Ok(Message::Close(f)))) => {
                break format!(
                    "close frame {}",
                    f.map_or("without code".to_owned(), |f| u16::from(f.code).to_string())
                );
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => break format!("{e}"),
        }
    };
    let _ = reply.send(json!({
        "closed_at": closed_at, "server_state_after": server_state, "server_wqueue_max": server_wqueue_max,
        "client_rqueue_max": client_rqueue_max, "probe_errors": probe_errors, "write_error": write_error,
        "msgs_read": msgs, "bytes_read": bytes, "end": end,
    }));
}

/// A phase: its length and workload parameter.
#[derive(Clone, Copy, Debug)]
struct Phase {
    secs: f64,
    param: f64,
    closed: bool,
}

fn parse_go(line: &str) -> Option<Phase> {
    let mut parts = line.split_whitespace().skip(1);
    let secs = parts.next()?.parse().ok()?;
    let p = parts.next().unwrap_or("1");
    let (closed, param) = match p.split_once(':') {
        Some(("closed", v)) => (true, v.parse().ok()?),
        Some(("open", v)) => (false, v.parse().ok()?),
        _ => (true, p.parse().ok()?),
    };
    Some(Phase { secs, param, closed })
}

fn emit(tag: &str, v: serde_json::Value) {
    println!("{tag} {v}");
}

/// The fan-out publisher: closed loop (at most `window` broadcasts not yet received by every subscriber) or open
/// loop (`rate` per second), then waits for every broadcast to reach every subscriber.
/// With `series`, the report also has every broadcast's publish time (µs since the phase's start) and latency to
/// the last subscriber (µs, -1 if some subscriber missed it).
async fn publish_phase(shm: &Shm, tx: &mpsc::Sender<u64>, total: u64, phase: Phase, series: bool) -> serde_json::Value {
    shm.reset();
    let start = now_ns();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(phase.secs);
    let max = channels_bench::SHM_SEQS as u64;
    let (mut seq, mut done) = (0u64, 0u64);
    let advance = |done: &mut u64, seq: u64| {
        while *done < seq && shm.count(*done).load(Ordering::Acquire) >= total {
            *done += 1;
        }
    };
    if phase.closed {
        let window = phase.param.max(1.0) as u64;
        loop {
            advance(&mut done, seq);
            if Instant::now() >= deadline {
                break;
            }
            if seq - done < window && seq < max {
                if tx.send(seq).await.is_err() {
                    break;
                }
                seq += 1;
                continue;
            }
            sleep(Duration::from_millis(1)).await;
        }
    } else {
        let n = ((phase.secs * phase.param).round() as u64).min(max);
        for i in 0..n {
            sleep_until(started + Duration::from_secs_f64(i as f64 / phase.param)).await;
            if tx.send(i).await.is_err() {
                break;
            }
            seq = i + 1;
        }
    }
    let publish_end = now_ns();
    let drain_deadline = Instant::now() + DRAIN_TIMEOUT;
    loop {
        advance(&mut done, seq);
        if done == seq || Instant::now() >= drain_deadline {
            break;
        }
        sleep(Duration::from_millis(1)).await;
    }
    let end = now_ns();
    let mut received = 0;
    let mut hist = Histogram::default();
    let (mut sent_at, mut latency) = (Vec::new(), Vec::new());
    for s in 0..seq {
        let c = shm.count(s).load(Ordering::Acquire);
        received += c;
        let published = shm.published(s).load(Ordering::Relaxed);
        let lat = (c >= total).then(|| shm.last(s).load(Ordering::Relaxed).saturating_sub(published));
        if let Some(l) = lat {
            hist.record(l);
        }
        if series {
            sent_at.push(published.saturating_sub(start) / 1000);
            latency.push(lat.map_or(-1, |l| (l / 1000) as i64));
        }
    }
    let mut report = json!({
        "published": seq, "complete": done, "subscribers": total,
        "expected": seq * total, "received": received,
        "t_start": start, "t_publish_end": publish_end, "t_end": end,
        "hist": hist.to_json(),
    });
    if series {
        report["sent_us"] = json!(sent_at);
        report["latency_us"] = json!(latency);
    }
    report
}

struct RoomResult {
    sent: u64,
    delivered: u64,
    expected: u64,
    hist: Histogram,
}

/// One chat room: its members' connections, the phase's conversation, heartbeats throughout.
async fn room(conns: Vec<Conn>, mut go: watch::Receiver<Option<Phase>>, results: mpsc::UnboundedSender<RoomResult>) {
    let proto = conns[0].f.proto;
    let members = conns.len();
    let mut state: Vec<Framer> = Vec::new();
    let mut sinks: Vec<SplitSink<Ws, Message>> = Vec::new();
    let mut streams: Vec<SplitStream<Ws>> = Vec::new();
    for c in conns {
        let (sink, stream) = c.ws.split();
        sinks.push(sink);
        streams.push(stream);
        state.push(c.f);
    }
    let mut incoming =
        futures_util::stream::select_all(streams.into_iter().enumerate().map(|(i, s)| s.map(move |m| (i, m))));
    let mut hb = tokio::time::interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
    // (seq, sent at, receipts)
    let mut pending: VecDeque<(u64, u64, usize)> = VecDeque::new();
    let mut phase: Option<(Phase, Instant)> = None;
    let (mut seq, mut delivered) = (0u64, 0u64);
    let mut hist = Histogram::default();
    let mut drain_deadline: Option<Instant> = None;
    loop {
        if let Some((p, deadline)) = phase {
            let window = p.param.max(1.0) as usize;
            if drain_deadline.is_none() && Instant::now() >= deadline {
                drain_deadline = Some(Instant::now() + DRAIN_TIMEOUT);
            }
            if drain_deadline.is_none() && pending.len() < window {
                let who = (seq as usize) % members;
                let frame = state[who].broadcast_frame(seq);
                pending.push_back((seq, now_ns(), 0));
                seq += 1;
                if sinks[who].send(Message::Text(frame.into())).await.is_err() {
                    break;
                }
                continue;
            }
            if let Some(d) = drain_deadline
                && (pending.is_empty() || Instant::now() >= d)
            {
                break;
            }
        }
        let tick = match (phase, drain_deadline) {
            (Some(_), Some(d)) => d,
            (Some((_, deadline)), None) => deadline,
            (None, _) => Instant::now() + Duration::from_secs(3600),
        };
        tokio::select! {
            changed = go.changed(), if phase.is_none() => {
                if changed.is_err() { return; }
                if let Some(p) = *go.borrow() {
                    phase = Some((p, Instant::now() + Duration::from_secs_f64(p.secs)));
                }
            }
            m = incoming.next() => {
                let Some((i, Ok(Message::Text(t)))) = m else {
                    match m { Some((_, Ok(_))) => continue, _ => break }
                };
                if proto == Proto::SocketIo && t.as_str() == sio::PING {
                    if sinks[i].send(Message::Text(sio::PONG.into())).await.is_err() { break; }
                    continue;
                }
                if let In::Msg(Some(s)) = classify(proto, &t) {
                    delivered += 1;
                    if let Some(idx) = pending.iter().position(|p| p.0 == s) {
                        pending[idx].2 += 1;
                        if pending[idx].2 == members {
                            hist.record(now_ns() - pending[idx].1);
                            pending.remove(idx);
                        }
                    }
                }
            }
            _ = hb.tick() => {
                for (c, sink) in state.iter_mut().zip(sinks.iter_mut()) {
                    if let Some(frame) = c.heartbeat() {
                        let _ = sink.send(Message::Text(frame.into())).await;
                    }
                }
            }
            _ = sleep_until(tick) => {}
        }
    }
    let _ = results.send(RoomResult { sent: seq, delivered, expected: seq * members as u64, hist });
    // Keep the connections open until the process exits.
    std::future::pending::<()>().await;
}

struct RrResult {
    round_trips: u64,
    errors: u64,
    hist: Histogram,
}

/// One request/reply client: on GO, `ping` and wait for its reply, until the phase ends.
async fn rr(mut conn: Conn, mut go: watch::Receiver<Option<Phase>>, results: mpsc::UnboundedSender<RrResult>) {
    let mut hb = tokio::time::interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
    let phase = loop {
        tokio::select! {
            changed = go.changed() => {
                if changed.is_err() { return; }
                if let Some(p) = *go.borrow() { break p; }
            }
            t = next_text(&mut conn.ws, conn.f.proto) => if t.is_none() { return },
            _ = hb.tick() => {
                if let Some(f) = conn.f.heartbeat() && send(&mut conn.ws, f).await.is_err() { return; }
            }
        }
    };
    let deadline = Instant::now() + Duration::from_secs_f64(phase.secs);
    let (mut n, mut errors, mut seq) = (0u64, 0u64, 0u64);
    let mut hist = Histogram::default();
    'outer: while Instant::now() < deadline {
        seq += 1;
        let frame = conn.f.ping_frame(seq);
        let t0 = now_ns();
        if send(&mut conn.ws, frame).await.is_err() {
            errors += 1;
            break;
        }
        loop {
            let Ok(t) = timeout(DRAIN_TIMEOUT, next_text(&mut conn.ws, conn.f.proto)).await else {
                errors += 1;
                break 'outer;
            };
            let Some(t) = t else {
                errors += 1;
                break 'outer;
            };
            if let In::Reply { ok, seq: s } = classify(conn.f.proto, &t) {
                if ok && s == Some(seq) {
                    hist.record(now_ns() - t0);
                    n += 1;
                } else {
                    errors += 1;
                }
                break;
            }
        }
    }
    let _ = results.send(RrResult { round_trips: n, errors, hist });
    // Keep the connection open (and alive) until the process exits.
    loop {
        tokio::select! {
            t = next_text(&mut conn.ws, conn.f.proto) => if t.is_none() { return },
            _ = hb.tick() => {
                if let Some(f) = conn.f.heartbeat() && send(&mut conn.ws, f).await.is_err() { return; }
            }
        }
    }
}

/// Connects `a.conns` clients, each joined to its own topic `{prefix}:{n}`, and leaves them idle (heartbeats only).
async fn connect_and_hold(a: &Args, prefix: &str) -> (u64, u64, u64, u64, Histogram) {
    connect_many(
        a,
        a.conns,
        |i| format!("{prefix}:{}", a.offset + i),
        |_, c| {
            tokio::spawn(hold(c, None, None));
        },
    )
    .await
}

async fn run(args: Args) -> Result<(), BoxError> {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let a = &args;
    match args.workload.as_str() {
        "idle" => {
            let r = connect_and_hold(a, "bench:idle").await;
            emit("READY", setup_json(&r));
            wait_exit(&mut lines).await;
        }
        "storm" => {
            emit("READY", json!({}));
            loop {
                match lines.next_line().await? {
                    Some(l) if l.starts_with("GO") => break,
                    Some(l) if l.starts_with("EXIT") => return Ok(()),
                    None => return Ok(()),
                    Some(_) => {}
                }
            }
            let r = connect_and_hold(a, "bench:storm").await;
            emit("DONE", setup_json(&r));
            wait_exit(&mut lines).await;
        }
        "fanout" => {
            let shm = Arc::new(Shm::open(a.shm.as_deref().ok_or("--shm is needed")?)?);
            let (tx, rx) = mpsc::channel::<u64>(16);
            let mut rx = a.publisher.then_some(rx);
            let mut stalls = Vec::new();
            let r = connect_many(
                a,
                a.conns,
                |_| "bench:fanout".to_owned(),
                |i, c| {
                    if i < a.stall {
                        let (ask, asked) = mpsc::unbounded_channel();
                        stalls.push(ask);
                        tokio::spawn(stalled(c, asked));
                    } else {
                        tokio::spawn(hold(c, Some(shm.clone()), rx.take()));
                    }
                },
            )
            .await;
            let mut ready = setup_json(&r);
            ready["stalled"] = json!(stalls.len());
            emit("READY", ready);
            while let Some(line) = lines.next_line().await? {
                if line.starts_with("EXIT") {
                    break;
                }
                if line.starts_with("STALL") {
                    let mut reports = Vec::new();
                    for ask in &stalls {
                        let (reply, report) = tokio::sync::oneshot::channel();
                        if ask.send(reply).is_ok()
                            && let Ok(r) = report.await
                        {
                            reports.push(r);
                        }
                    }
                    emit("STALLED", json!({"stalled": reports}));
                    continue;
                }
                let Some(phase) = parse_go(&line) else { continue };
                if a.publisher {
                    emit("DONE", publish_phase(&shm, &tx, a.total, phase, a.series).await);
                } else {
                    emit("DONE", json!({}));
                }
            }
        }
        "rooms" => {
            let members = a.members;
            let mut conns: Vec<Option<Conn>> = (0..a.conns).map(|_| None).collect();
            let r = connect_many(
                a,
                a.conns,
                |i| format!("bench:room:{}", (a.offset + i) / members),
                |i, c| {
                    conns[i] = Some(c);
                },
            )
            .await;
            let (go_tx, go_rx) = watch::channel(None);
            let (res_tx, mut res_rx) = mpsc::unbounded_channel();
            let mut rooms = 0;
            let mut it = conns.into_iter();
            loop {
                let group: Vec<Option<Conn>> = it.by_ref().take(members).collect();
                if group.is_empty() {
                    break;
                }
                // A room that lost a member is not chatted in (the failure is counted at setup).
                if group.len() == members && group.iter().all(Option::is_some) {
                    tokio::spawn(room(group.into_iter().flatten().collect(), go_rx.clone(), res_tx.clone()));
                    rooms += 1;
                }
            }
            let mut ready = setup_json(&r);
            ready["rooms"] = json!(rooms);
            emit("READY", ready);
            while let Some(line) = lines.next_line().await? {
                if line.starts_with("EXIT") {
                    break;
                }
                let Some(phase) = parse_go(&line) else { continue };
                let start = now_ns();
                go_tx.send_replace(Some(phase));
                let (mut sent, mut delivered, mut expected) = (0, 0, 0);
                let mut hist = Histogram::default();
                for _ in 0..rooms {
                    let Some(r) = res_rx.recv().await else { break };
                    sent += r.sent;
                    delivered += r.delivered;
                    expected += r.expected;
                    hist.merge(&r.hist);
                }
                emit(
                    "DONE",
                    json!({"rooms": rooms, "sent": sent, "received": delivered, "expected": expected,
                    "t_start": start, "t_end": now_ns(), "hist": hist.to_json()}),
                );
            }
        }
        "chat" => {
            let members = a.members;
            let tally = chat::Tally::new(a.conns.div_ceil(members));
            let (go_tx, go_rx) = watch::channel(None);
            let r = connect_many(
                a,
                a.conns,
                |i| format!("bench:chat:{}", (a.offset + i) / members),
                |i, c| {
                    tokio::spawn(chat::client(c, i, i / members, go_rx.clone(), tally.clone()));
                },
            )
            .await;
            emit("READY", setup_json(&r));
            while let Some(line) = lines.next_line().await? {
                if line.starts_with("EXIT") {
                    break;
                }
                let Some(phase) = parse_go(&line) else { continue };
                emit("DONE", tally.phase(&go_tx, phase, members).await);
            }
        }
        "rr" => {
            let (go_tx, go_rx) = watch::channel(None);
            let (res_tx, mut res_rx) = mpsc::unbounded_channel();
            let mut clients = 0;
            let r = connect_many(
                a,
                a.conns,
                |i| format!("bench:rr:{}", a.offset + i),
                |_, c| {
                    tokio::spawn(rr(c, go_rx.clone(), res_tx.clone()));
                    clients += 1;
                },
            )
            .await;
            emit("READY", setup_json(&r));
            while let Some(line) = lines.next_line().await? {
                if line.starts_with("EXIT") {
                    break;
                }
                let Some(phase) = parse_go(&line) else { continue };
                let start = now_ns();
                go_tx.send_replace(Some(phase));
                let (mut n, mut errors) = (0, 0);
                let mut hist = Histogram::default();
                for _ in 0..clients {
                    let Some(r) = res_rx.recv().await else { break };
                    n += r.round_trips;
                    errors += r.errors;
                    hist.merge(&r.hist);
                }
                emit(
                    "DONE",
                    json!({"clients": clients, "round_trips": n, "errors": errors,
                    "t_start": start, "t_end": now_ns(), "hist": hist.to_json()}),
                );
            }
        }
        other => return Err(format!("unknown workload {other}").into()),
    }
    Ok(())
}

async fn wait_exit(lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::io::Stdin>>) {
    while let Ok(Some(line)) = lines.next_line().await {
        if line.starts_with("EXIT") {
            break;
        }
    }
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    channels_bench::raise_nofile();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let max = Duration::from_secs(args.max_secs);
    let code = rt.block_on(async move {
        match timeout(max, run(args)).await {
            Ok(Ok(())) => 0,
            Ok(Err(e)) => {
                eprintln!("loadgen: {e}");
                1
            }
            Err(_) => {
                eprintln!("loadgen: --max-secs reached, exiting");
                3
            }
        }
    });
    // Exiting closes every connection; don't wait for tasks.
    std::process::exit(code);
}
