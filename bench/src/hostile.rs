//! W10, the server under hostile clients: the limits `bench_server` takes from the environment (unset, it runs
//! with the runtime's defaults, as in every other workload), the values W10 gives them, and the size of each
//! attack the `attacker` process runs. Shared by the server, the attacker and the driver's report.

use std::time::Duration;

/// `HttpConfig::header_read_timeout`, in ms.
pub const ENV_HEADER_READ_TIMEOUT_MS: &str = "BENCH_HEADER_READ_TIMEOUT_MS";
/// `HttpConfig::max_connections`.
pub const ENV_MAX_HTTP_CONNECTIONS: &str = "BENCH_MAX_HTTP_CONNECTIONS";
/// `SocketConfig::write_timeout`, in ms.
pub const ENV_WRITE_TIMEOUT_MS: &str = "BENCH_WRITE_TIMEOUT_MS";
/// `SocketConfig::longpoll`: `1` serves LongPoll at `/socket/longpoll`.
pub const ENV_LONGPOLL: &str = "BENCH_LONGPOLL";

/// W10's header-read timeout: shorter than the default 10 s, so a 60 s phase sees each flood connection closed
/// several times.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// W10's cap of open HTTP connections: below the flood, so the cap refuses some of it.
pub const MAX_HTTP_CONNECTIONS: usize = 2_000;
/// W10's write timeout: shorter than the default 30 s, so stalled readers are closed several times a phase.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// The server's environment in both W10 phases.
pub fn server_env() -> Vec<(&'static str, String)> {
    vec![
        (ENV_HEADER_READ_TIMEOUT_MS, HEADER_READ_TIMEOUT.as_millis().to_string()),
        (ENV_MAX_HTTP_CONNECTIONS, MAX_HTTP_CONNECTIONS.to_string()),
        (ENV_WRITE_TIMEOUT_MS, WRITE_TIMEOUT.as_millis().to_string()),
        (ENV_LONGPOLL, "1".to_owned()),
    ]
}

/// (a) Raw TCP connections held open at once, half silent, half trickling a request head.
pub const FLOOD_CONNECTIONS: usize = 2_500;
/// (a) A trickling connection sends one more header byte this often.
pub const FLOOD_TRICKLE_EVERY: Duration = Duration::from_secs(1);
/// (a) A closed flood connection is reopened after this long.
pub const FLOOD_REOPEN_AFTER: Duration = Duration::from_secs(1);
/// (b) Clients in the room `bench:stall` that never read after their join.
pub const STALLED_READERS: usize = 4;
/// (b) The big broadcasts into that room: payload bytes, and how many a second.
pub const BIG_PAYLOAD: usize = 64 << 10;
pub const BIG_RATE: f64 = 4.0;
/// (c) Oversized frames (one byte over `MAX_FRAME_SIZE`) and malformed frames, each this many a second.
pub const BAD_FRAME_RATE: f64 = 5.0;
/// (d) LongPoll sessions opened per second (a GET without token each, none ever polled again).
pub const LONGPOLL_SESSION_RATE: f64 = 100.0;
/// (d) POSTs held open at once, each declaring a body one byte over `MAX_FRAME_SIZE` and trickling it.
pub const SLOW_POSTS: usize = 4;
/// (d) A slow POST sends this many body bytes …
pub const SLOW_POST_CHUNK: usize = 1 << 10;
/// … this often.
pub const SLOW_POST_EVERY: Duration = Duration::from_millis(500);
/// (e) Joins per second of new topics (`bench:spam:<i>`) by one connection.
pub const JOIN_SPAM_RATE: f64 = 500.0;
