//! Shared pieces of the benchmark suite: wire frames of both protocols, the 100-byte payload, client sockets bound
//! to a chosen 127.0.0.x, the latency histogram, the shared-memory counters of the fan-out workload, and /proc
//! readings; and [`channel`], the bench channel of our runtime.
//!
//! The binaries: `loadgen` (one load-generating process, driven over stdin/stdout), `floor` (the minimal
//! tokio-tungstenite server), `bench_server` (our runtime), `driver` (runs everything, see BENCHMARKS.md).

pub mod channel;
pub mod hostile;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Ports the servers listen on: below the ephemeral range (32768–60999), so client sockets never collide.
pub const PORT_OURS: u16 = 4100;
/// The floor server's port.
pub const PORT_FLOOR: u16 = 4101;
/// The socket.io server's port.
pub const PORT_SOCKETIO: u16 = 4102;

/// Payload size of every broadcast and ping, in bytes of JSON.
pub const PAYLOAD_LEN: usize = 100;

/// The largest frame our runtime and the floor accept (`SocketConfig::max_frame_size`, default 10 MiB).
pub const MAX_FRAME_SIZE: usize = 10 << 20;

/// The WebSocket settings of our runtime (channels-runtime/src/transport/websocket.rs with the defaults of
/// channels-runtime/src/config.rs): 1 KiB read buffer, 16 KiB write buffer, 10 MiB frames. The floor server uses
/// exactly these; the load generator uses them too.
pub fn ws_config() -> WebSocketConfig {
    let max_frame = MAX_FRAME_SIZE;
    WebSocketConfig::default()
        .read_buffer_size(1 << 10)
        .write_buffer_size(16 << 10)
        .max_write_buffer_size((16 << 10) + max_frame)
        .max_message_size(Some(max_frame))
        .max_frame_size(Some(max_frame))
}

/// The 100-byte JSON payload carrying `seq`: `{"s":"000000042","p":"xxx…"}`.
pub fn payload(seq: u64) -> String {
    payload_sized(seq, PAYLOAD_LEN)
}

/// The same JSON payload padded to `len` bytes (at least 20, the payload without padding).
pub fn payload_sized(seq: u64, len: usize) -> String {
    padded(&format!(r#"{{"s":"{seq:09}","p":""#), len)
}

/// `head` (an open JSON object ending in `"p":"`) padded with `x` and closed, `len` bytes if it fits.
fn padded(head: &str, len: usize) -> String {
    let pad = len.saturating_sub(head.len() + 2);
    let mut s = String::with_capacity(head.len() + pad + 2);
    s.push_str(head);
    s.extend(std::iter::repeat_n('x', pad));
    s.push_str("\"}");
    debug_assert!(s.len() == len || len < head.len() + 2);
    s
}

/// W10's chat payload, [`PAYLOAD_LEN`] bytes carrying when it was sent: `{"t":"<CLOCK_MONOTONIC ns>","p":"xxx…"}`.
pub fn chat_payload(sent_ns: u64) -> String {
    padded(&format!(r#"{{"t":"{sent_ns:020}","p":""#), PAYLOAD_LEN)
}

/// The send time of a chat payload found anywhere in a frame.
pub fn find_sent_ns(frame: &str) -> Option<u64> {
    find_digits(frame, r#"{"t":""#, 20)
}

/// The `seq` of a payload found anywhere in a frame.
pub fn find_seq(frame: &str) -> Option<u64> {
    find_digits(frame, r#"{"s":""#, 9)
}

/// The `len` digits after the first `mark` in a frame.
fn find_digits(frame: &str, mark: &str, len: usize) -> Option<u64> {
    let at = frame.find(mark)? + mark.len();
    frame.get(at..at + len)?.parse().ok()
}

/// The wire protocol a load generator speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// Phoenix Channels V2 JSON frames (our runtime and the floor).
    Phoenix,
    /// Engine.IO v4 / Socket.IO v5 over a WebSocket.
    SocketIo,
}

impl Proto {
    /// Parses `phoenix` or `sio`.
    pub fn parse(s: &str) -> Option<Proto> {
        match s {
            "phoenix" => Some(Proto::Phoenix),
            "sio" | "socketio" => Some(Proto::SocketIo),
            _ => None,
        }
    }

    /// The WebSocket URL of the server at `addr`.
    pub fn url(self, addr: SocketAddr) -> String {
        match self {
            Proto::Phoenix => format!("ws://{addr}/socket/websocket?vsn=2.0.0"),
            Proto::SocketIo => format!("ws://{addr}/socket.io/?EIO=4&transport=websocket"),
        }
    }
}

/// Phoenix V2 frames (`[join_ref, ref, topic, event, payload]`).
pub mod phx {
    /// `phx_join` with join_ref = ref = `jr`.
    pub fn join(jr: u64, topic: &str) -> String {
        format!(r#"["{jr}","{jr}","{topic}","phx_join",{{}}]"#)
    }
    /// A push of `event` with a JSON payload.
    pub fn push(jr: u64, r: u64, topic: &str, event: &str, payload: &str) -> String {
        format!(r#"["{jr}","{r}","{topic}","{event}",{payload}]"#)
    }
    /// The heartbeat.
    pub fn heartbeat(r: u64) -> String {
        format!(r#"[null,"{r}","phoenix","heartbeat",{{}}]"#)
    }
    /// Whether a frame is a `phx_reply` with status ok (checked by its shape, not parsed).
    pub fn is_ok_reply(frame: &str) -> bool {
        // Phoenix writes `{"response":..,"status":"ok"}`, the floor the other order; the payloads never contain it.
        is_reply(frame) && (frame.ends_with(r#""status":"ok"}]"#) || frame.contains(r#""phx_reply",{"status":"ok""#))
    }
    /// Whether a frame is a reply at all.
    pub fn is_reply(frame: &str) -> bool {
        frame.contains(r#""phx_reply""#)
    }
    /// Whether a frame is the reply to a heartbeat.
    pub fn is_heartbeat_reply(frame: &str) -> bool {
        frame.contains(r#","phoenix","phx_reply""#)
    }
    /// Whether a frame is a broadcast `msg` (fastlaned: join_ref and ref null).
    pub fn is_msg(frame: &str) -> bool {
        frame.starts_with("[null,null,") && frame.contains(r#","msg",{"#)
    }
}

/// Joins `topic` on a Phoenix connection (join_ref 1) and waits for the reply; why not, if it was refused or the
/// connection ended first.
pub async fn phx_join<S>(ws: &mut WebSocketStream<S>, topic: &str) -> Result<(), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    ws.send(Message::Text(phx::join(1, topic).into())).await.map_err(|e| e.to_string())?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if phx::is_reply(&t) => {
                return if phx::is_ok_reply(&t) { Ok(()) } else { Err(format!("join refused: {t}")) };
            }
            Some(Ok(Message::Close(_)) | Err(_)) | None => return Err("closed while joining".to_owned()),
            Some(Ok(_)) => {}
        }
    }
}

/// Socket.IO v5 packets over Engine.IO v4 (`4` = message, then the Socket.IO type: `0` connect, `2` event,
/// `3` ack).
pub mod sio {
    /// Connect to the main namespace.
    pub const CONNECT: &str = "40";
    /// Engine.IO ping from the server.
    pub const PING: &str = "2";
    /// Engine.IO pong.
    pub const PONG: &str = "3";
    /// `join` event with ack id `id`.
    pub fn join(id: u64, room: &str) -> String {
        format!(r#"42{id}["join","{room}"]"#)
    }
    /// `broadcast` event (no ack): the server emits `msg` with the payload to the sender's room.
    pub fn broadcast(payload: &str) -> String {
        format!(r#"42["broadcast",{payload}]"#)
    }
    /// `ping` event with ack id `id`: the server acks with the payload.
    pub fn ping(id: u64, payload: &str) -> String {
        format!(r#"42{id}["ping",{payload}]"#)
    }
    /// Whether a packet is an ack (`43<id>[...]`).
    pub fn is_ack(frame: &str) -> bool {
        frame.starts_with("43")
    }
    /// Whether a packet is the `msg` event.
    pub fn is_msg(frame: &str) -> bool {
        frame.starts_with(r#"42["msg","#)
    }
}

/// Connects to `dst` from `src`:(port chosen at connect time, `IP_BIND_ADDRESS_NO_PORT`), with TCP_NODELAY.
pub async fn connect_tcp(src: Ipv4Addr, dst: SocketAddr) -> io::Result<TcpStream> {
    connect_tcp_with(src, dst, false).await
}

/// The receive buffer (`SO_RCVBUF`, which the kernel doubles) and segment size (`TCP_MAXSEG`) a client asks for
/// with `small_buffers`.
pub const SMALL_RCVBUF: u32 = 4 << 10;
/// See [`SMALL_RCVBUF`].
pub const SMALL_MSS: u32 = 1 << 10;

/// [`connect_tcp`]; with `small_buffers`, the socket asks for an 8 KiB receive buffer and 1 KiB segments before
/// connecting. On loopback (64 KiB MTU) the server's send buffer otherwise autotunes to 4 MiB for a client that
/// does not read; with these, the kernel holds ~110 KiB for it at both ends together.
pub async fn connect_tcp_with(src: Ipv4Addr, dst: SocketAddr, small_buffers: bool) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    let set = |level: libc::c_int, name: libc::c_int, value: libc::c_int| {
        // SAFETY: a valid fd and a c_int option value of the right size.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                level,
                name,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    };
    set(libc::IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT, 1)?;
    if small_buffers {
        socket.set_recv_buffer_size(SMALL_RCVBUF)?;
        set(libc::IPPROTO_TCP, libc::TCP_MAXSEG, SMALL_MSS as libc::c_int)?;
    }
    socket.bind(SocketAddr::new(src.into(), 0))?;
    let stream = socket.connect(dst).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// CLOCK_MONOTONIC in nanoseconds: comparable across the processes of one machine.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid timespec pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Raises the open-files soft limit to the hard limit; returns the new soft limit.
pub fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: valid rlimit pointers.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
    let cur = lim.rlim_cur as u64;
    cur
}

/// A log-linear histogram of nanosecond values (about 3% precision), mergeable across processes.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    counts: Vec<u64>,
}

const SUB: u32 = 5; // 32 sub-buckets per power of two

impl Histogram {
    fn bucket(v: u64) -> usize {
        if v < (1 << (SUB + 1)) {
            v as usize
        } else {
            let e = 63 - v.leading_zeros(); // >= SUB + 1
            let m = (v >> (e - SUB)) & ((1 << SUB) - 1);
            ((1 << (SUB + 1)) + (e - SUB - 1) * (1 << SUB) + m as u32) as usize
        }
    }

    fn value(b: usize) -> u64 {
        let first = 1usize << (SUB + 1);
        if b < first {
            b as u64
        } else {
            let k = b - first;
            let e = (k >> SUB) as u32 + SUB + 1;
            let m = (k & ((1 << SUB) - 1)) as u64;
            let lo = (1u64 << e) | (m << (e - SUB));
            lo + (1u64 << (e - SUB)) / 2
        }
    }

    /// Records one value.
    pub fn record(&mut self, v: u64) {
        let b = Self::bucket(v);
        if self.counts.len() <= b {
            self.counts.resize(b + 1, 0);
        }
        self.counts[b] += 1;
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Histogram) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// Number of values.
    pub fn len(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `q` quantile (0..=1), or 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        let n = self.len();
        if n == 0 {
            return 0;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (b, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value(b);
            }
        }
        0
    }

    /// Sparse `[[bucket, count], ...]` form for JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.counts.iter().enumerate().filter(|(_, c)| **c > 0).map(|(b, c)| serde_json::json!([b, c])).collect(),
        )
    }

    /// Reads the form [`to_json`](Self::to_json) writes.
    pub fn from_json(v: &serde_json::Value) -> Histogram {
        let mut h = Histogram::default();
        for pair in v.as_array().into_iter().flatten() {
            let (Some(b), Some(c)) = (pair[0].as_u64(), pair[1].as_u64()) else { continue };
            let b = b as usize;
            if h.counts.len() <= b {
                h.counts.resize(b + 1, 0);
            }
            h.counts[b] += c;
        }
        h
    }
}

/// The fan-out workload's counters, shared by every load-generator process through a file in /dev/shm: per
/// broadcast seq, how many subscribers received it, when the last one did, and when it was published.
pub struct Shm {
    map: memmap2::MmapMut,
}

/// Highest number of broadcasts of one fan-out phase.
pub const SHM_SEQS: usize = 1 << 16;

impl Shm {
    /// Size in bytes of the file.
    pub const BYTES: usize = 3 * SHM_SEQS * 8;

    /// Creates (or truncates) the file.
    pub fn create(path: &str) -> io::Result<()> {
        let f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(path)?;
        f.set_len(Self::BYTES as u64)
    }

    /// Maps the file.
    pub fn open(path: &str) -> io::Result<Shm> {
        let f = std::fs::OpenOptions::new().read(true).write(true).open(path)?;
        // SAFETY: the file is only ever accessed through atomics.
        let map = unsafe { memmap2::MmapMut::map_mut(&f)? };
        assert!(map.len() >= Self::BYTES);
        Ok(Shm { map })
    }

    fn slots(&self) -> &[AtomicU64] {
        // SAFETY: the map is page-aligned, BYTES long, and AtomicU64 has the layout of u64.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().cast::<AtomicU64>(), 3 * SHM_SEQS) }
    }

    /// Subscribers that received broadcast `seq`.
    pub fn count(&self, seq: u64) -> &AtomicU64 {
        &self.slots()[seq as usize % SHM_SEQS]
    }
    /// When the last subscriber received `seq` (CLOCK_MONOTONIC ns).
    pub fn last(&self, seq: u64) -> &AtomicU64 {
        &self.slots()[SHM_SEQS + seq as usize % SHM_SEQS]
    }
    /// When `seq` was published.
    pub fn published(&self, seq: u64) -> &AtomicU64 {
        &self.slots()[2 * SHM_SEQS + seq as usize % SHM_SEQS]
    }
    /// A subscriber received `seq` now.
    pub fn received(&self, seq: u64) {
        if (seq as usize) < SHM_SEQS {
            self.last(seq).fetch_max(now_ns(), Ordering::Relaxed);
            self.count(seq).fetch_add(1, Ordering::Release);
        }
    }
    /// Zeroes every counter.
    pub fn reset(&self) {
        for s in self.slots() {
            s.store(0, Ordering::Relaxed);
        }
    }
}

/// What the kernel says about one TCP socket (`sock_diag`, as `ss` reads it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpState {
    /// `TCP_ESTABLISHED` = 1, `TCP_FIN_WAIT1` = 4, `TCP_CLOSE_WAIT` = 8, … (include/net/tcp_states.h).
    pub state: u8,
    /// Bytes received and not yet read by the application.
    pub rqueue: u32,
    /// Bytes written by the application and not yet acknowledged by the peer.
    pub wqueue: u32,
    /// The socket's inode: 0 once no process holds it (closed by its owner, the kernel finishing it alone).
    pub inode: u32,
}

/// `TCP_ESTABLISHED`.
pub const TCP_ESTABLISHED: u8 = 1;

impl TcpState {
    /// Whether the process owning this socket has closed or shut it down.
    pub fn closed_by_owner(&self) -> bool {
        self.state != TCP_ESTABLISHED || self.inode == 0
    }
}

/// Looks up the IPv4 TCP socket whose local address is `local` and peer `peer` (an exact `sock_diag` lookup,
/// one netlink round trip; no listing of every socket). `Ok(None)` when the kernel has no such socket.
pub fn tcp_state(local: SocketAddr, peer: SocketAddr) -> io::Result<Option<TcpState>> {
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct SockId {
        sport: u16,
        dport: u16,
        src: [u32; 4],
        dst: [u32; 4],
        ifindex: u32,
        cookie: [u32; 2],
    }
    #[repr(C)]
    struct Req {
        hdr: libc::nlmsghdr,
        family: u8,
        protocol: u8,
        ext: u8,
        pad: u8,
        states: u32,
        id: SockId,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Msg {
        family: u8,
        state: u8,
        timer: u8,
        retrans: u8,
        id: SockId,
        expires: u32,
        rqueue: u32,
        wqueue: u32,
        uid: u32,
        inode: u32,
    }
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    let (SocketAddr::V4(l), SocketAddr::V4(p)) = (local, peer) else {
        return Err(io::Error::other("IPv4 only"));
    };
    let ip = |a: &std::net::SocketAddrV4| u32::from_ne_bytes(a.ip().octets());
    let req = Req {
        hdr: libc::nlmsghdr {
            nlmsg_len: std::mem::size_of::<Req>() as u32,
            nlmsg_type: SOCK_DIAG_BY_FAMILY,
            nlmsg_flags: libc::NLM_F_REQUEST as u16,
            nlmsg_seq: 1,
            nlmsg_pid: 0,
        },
        family: libc::AF_INET as u8,
        protocol: libc::IPPROTO_TCP as u8,
        ext: 0,
        pad: 0,
        states: !0,
        id: SockId {
            sport: l.port().to_be(),
            dport: p.port().to_be(),
            src: [ip(&l), 0, 0, 0],
            dst: [ip(&p), 0, 0, 0],
            ifindex: 0,
            cookie: [!0, !0], // INET_DIAG_NOCOOKIE
        },
    };
    // SAFETY: plain socket syscalls on an fd we own, with buffers of the sizes given.
    unsafe {
        let fd = libc::socket(libc::AF_NETLINK, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, libc::NETLINK_SOCK_DIAG);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = std::os::fd::OwnedFd::from_raw_fd(fd);
        let sent = libc::send(fd.as_raw_fd(), (&req as *const Req).cast(), std::mem::size_of::<Req>(), 0);
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = [0u64; 128];
        let n = libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), std::mem::size_of_val(&buf), 0);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        let hdr_len = std::mem::size_of::<libc::nlmsghdr>();
        if n < hdr_len {
            return Err(io::Error::other("short netlink reply"));
        }
        let hdr: libc::nlmsghdr = std::ptr::read_unaligned(buf.as_ptr().cast());
        if hdr.nlmsg_type == libc::NLMSG_ERROR as u16 {
            let errno: i32 = std::ptr::read_unaligned(buf.as_ptr().cast::<u8>().add(hdr_len).cast());
            return if -errno == libc::ENOENT { Ok(None) } else { Err(io::Error::from_raw_os_error(-errno)) };
        }
        if hdr.nlmsg_type != SOCK_DIAG_BY_FAMILY || n < hdr_len + std::mem::size_of::<Msg>() {
            return Err(io::Error::other("unexpected netlink reply"));
        }
        let m: Msg = std::ptr::read_unaligned(buf.as_ptr().cast::<u8>().add(hdr_len).cast());
        Ok(Some(TcpState { state: m.state, rqueue: m.rqueue, wqueue: m.wqueue, inode: m.inode }))
    }
}

/// CPU time (user + system) of a process, in seconds, from /proc/PID/stat.
pub fn proc_cpu_seconds(pid: u32) -> io::Result<f64> {
    proc_cpu_split(pid).map(|(u, s)| u + s)
}

/// CPU time of a process as (user, system) seconds, from /proc/PID/stat.
pub fn proc_cpu_split(pid: u32) -> io::Result<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')').ok_or_else(|| io::Error::other("bad stat"))? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime 15.
    let utime: u64 = fields[11].parse().map_err(io::Error::other)?;
    let stime: u64 = fields[12].parse().map_err(io::Error::other)?;
    // SAFETY: sysconf has no preconditions.
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok((utime as f64 / tck, stime as f64 / tck))
}

/// Resident set size of a process in KiB, from /proc/PID/status (VmRSS).
pub fn proc_rss_kib(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| io::Error::other("no VmRSS"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_100_bytes_and_parses() {
        let p = payload(42);
        assert_eq!(p.len(), PAYLOAD_LEN);
        assert!(serde_json::from_str::<serde_json::Value>(&p).is_ok());
        assert_eq!(find_seq(&format!("[null,null,\"t\",\"msg\",{p}]")), Some(42));
    }

    #[test]
    fn chat_payload_is_100_bytes_and_carries_its_time() {
        let p = chat_payload(123_456_789_012);
        assert_eq!(p.len(), PAYLOAD_LEN);
        assert!(serde_json::from_str::<serde_json::Value>(&p).is_ok());
        assert_eq!(find_sent_ns(&format!("[null,null,\"t\",\"msg\",{p}]")), Some(123_456_789_012));
        assert_eq!(find_sent_ns(&payload(1)), None);
    }

    #[test]
    fn sized_payload_has_its_length() {
        for len in [100, 1024, 8192] {
            let p = payload_sized(7, len);
            assert_eq!(p.len(), len);
            assert!(serde_json::from_str::<serde_json::Value>(&p).is_ok());
            assert_eq!(find_seq(&p), Some(7));
        }
    }

    #[test]
    fn tcp_state_sees_the_peer_close() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let (c, s) = (client.local_addr().unwrap(), server.local_addr().unwrap());
        let server_end = tcp_state(s, c).unwrap().expect("server end");
        assert!(!server_end.closed_by_owner(), "{server_end:?}");
        assert_eq!(tcp_state(c, s).unwrap().expect("client end").state, TCP_ESTABLISHED);
        drop(server);
        assert!(tcp_state(s, c).unwrap().is_none_or(|t| t.closed_by_owner()));
    }

    #[test]
    fn histogram_quantiles_are_close() {
        let mut h = Histogram::default();
        for v in 1..=100_000u64 {
            h.record(v * 10);
        }
        let p50 = h.quantile(0.5) as f64;
        assert!((p50 / 500_000.0 - 1.0).abs() < 0.04, "{p50}");
        let p99 = h.quantile(0.99) as f64;
        assert!((p99 / 990_000.0 - 1.0).abs() < 0.04, "{p99}");
        let back = Histogram::from_json(&h.to_json());
        assert_eq!(back.quantile(0.99), h.quantile(0.99));
        for v in 0..200u64 {
            let b = Histogram::bucket(v);
            assert!(Histogram::value(b).abs_diff(v) <= v / 32 + 1, "{v}");
        }
    }
}
