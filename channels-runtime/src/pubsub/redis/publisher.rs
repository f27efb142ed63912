//! The sending side: a broadcast is encoded on the caller's task into a bounded queue, never waiting on Redis,
//! and one task drains the queue, sending each batch as one pipeline over a multiplexed connection.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use redis::aio::MultiplexedConnection;

use super::Shared;
use super::envelope::{self, Route};
use super::link::{Backoff, CONNECT_TIMEOUT, RESPONSE_TIMEOUT, Side};
use crate::pubsub::Broadcast;
use crate::queue::{PushError, recycle};

impl Shared {
    /// Queues `broadcast` for the other nodes, or drops and counts it.
    pub(super) fn publish(&self, route: Route<'_>, broadcast: &Broadcast) {
        if !self.publishing.load(Ordering::Relaxed) {
            self.count_dropped(1);
            return;
        }
        let Some(message) = envelope::encode(&self.node, route, broadcast) else {
            tracing::warn!(topic = %broadcast.topic, ?route, "broadcast not sent to other nodes: a name is too long");
            self.count_dropped(1);
            return;
        };
        if self.queue.try_push(message).is_err_and(|e| matches!(e, PushError::Full(_))) {
            self.count_dropped(1);
            if !self.queue_full.swap(true, Ordering::Relaxed) {
                tracing::warn!(redis = %self.addr, capacity = self.queue_capacity,
                    "Redis publish queue full: cross-node broadcasts are dropped until it drains");
            }
        }
        // A closed queue means the node is going away: nothing to count.
    }

    /// Waits `delay` while the publisher is down, dropping whatever is queued meanwhile. `false` once the
    /// adapter is gone.
    async fn wait_down(&self, delay: Duration, batch: &mut VecDeque<Vec<u8>>) -> bool {
        let sleep = tokio::time::sleep(delay);
        let mut sleep = std::pin::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return true,
                open = self.queue.recv_all(batch) => {
                    self.count_dropped(batch.len());
                    batch.clear();
                    recycle(batch);
                    if !open {
                        return false;
                    }
                }
            }
        }
    }
}

/// The publisher's connection, with the timeouts that let a lost Redis be noticed.
pub(super) async fn connect(client: &redis::Client) -> redis::RedisResult<MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(RESPONSE_TIMEOUT);
    client.get_multiplexed_async_connection_with_config(&config).await
}

/// The publishing task: sends everything queued as one pipeline, reconnects after a failure.
pub(super) async fn run(shared: Arc<Shared>, client: redis::Client, mut connection: Option<MultiplexedConnection>) {
    let mut batch = VecDeque::new();
    let mut backoff = Backoff::new(shared.backoff);
    loop {
        let mut conn = match connection.take() {
            Some(conn) => conn,
            None => match connect(&client).await {
                Ok(conn) => conn,
                Err(e) => {
                    shared.link_down(Side::Publisher, &e);
                    if !shared.wait_down(backoff.next(), &mut batch).await {
                        return;
                    }
                    continue;
                }
            },
        };
        shared.link_up(Side::Publisher);
        let error = loop {
            tokio::select! {
                open = shared.queue.recv_all(&mut batch) => if !open {
                    return;
                },
                () = shared.subscriber_lost.notified() => {
                    // Reconnect at once: if Redis is down the attempt fails and broadcasts are dropped without
                    // queueing; if it is up (only the subscriber was cut off) it is a cheap new connection.
                    break None;
                }
            }
            let count = batch.len();
            let mut pipe = redis::pipe();
            for message in batch.drain(..) {
                pipe.cmd("PUBLISH").arg(&*shared.channel).arg(message).ignore();
            }
            recycle(&mut batch);
            if let Err(e) = pipe.exec_async(&mut conn).await {
                shared.count_dropped(count);
                break Some(e);
            }
            // Reset only once Redis accepted a publish, so a server that takes connections but refuses
            // commands is retried with backoff rather than in a loop.
            backoff.reset();
            if shared.queue_full.swap(false, Ordering::Relaxed) {
                tracing::info!(redis = %shared.addr, dropped = shared.dropped(), "Redis publish queue drained");
            }
        };
        if let Some(error) = error {
            shared.link_down(Side::Publisher, &error);
            if !shared.wait_down(backoff.next(), &mut batch).await {
                return;
            }
        }
    }
}
