//! The receiving side: a thread of its own reads a blocking connection one message at a time (why not the
//! async PubSub: see the parent module) and hands each message to this node's subscribers.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::Shared;
use super::envelope::Envelope;
use super::link::{Backoff, CONNECT_TIMEOUT, RESPONSE_TIMEOUT, Side};
use crate::pubsub::LocalNode;

/// How often the subscriber thread wakes while no message comes, to notice that its node is gone.
const POLL: Duration = Duration::from_millis(250);
/// Silence after which the subscriber connection is pinged.
const PING_AFTER: Duration = Duration::from_secs(15);

impl Shared {
    /// Hands one message from Redis to this node's subscribers. `false` once the node is gone.
    fn receive(&self, message: &[u8], local: &LocalNode) -> bool {
        let envelope = match Envelope::decode(message) {
            Ok(envelope) => envelope,
            Err(e) => {
                tracing::warn!(channel = %self.channel, "ignored a malformed message from Redis: {e}");
                return true;
            }
        };
        if !envelope.is_for(&self.node) {
            return true;
        }
        let (origin, topic) = (envelope.origin, envelope.topic);
        match envelope.into_broadcast() {
            Ok(broadcast) => local.deliver(Arc::new(broadcast)),
            Err(e) => {
                tracing::warn!(%origin, %topic, "ignored a malformed message from Redis: {e}");
                true
            }
        }
    }
}

/// The receiving thread's state.
pub(super) struct Receiver {
    pub(super) shared: Arc<Shared>,
    pub(super) client: redis::Client,
    pub(super) local: LocalNode,
    /// Disconnects when the adapter drops.
    pub(super) stopped: mpsc::Receiver<()>,
}

impl Receiver {
    /// Subscribes, delivers, and subscribes again after each loss, until the node is gone. `ready` (at a
    /// startup that must fail when Redis is unreachable) learns how the first attempt went; after a failed
    /// first attempt the thread ends, as the PubSub is not started.
    pub(super) fn run(self, mut ready: Option<oneshot::Sender<Result<(), String>>>) {
        let mut backoff = Backoff::new(self.shared.backoff);
        loop {
            let ended = self.session(|| {
                self.shared.link_up(Side::Subscriber);
                backoff.reset();
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Ok(()));
                }
            });
            match ended {
                Ok(()) => return,
                Err(e) => {
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(Err(e.to_string()));
                        return;
                    }
                    if self.is_stopped() {
                        return;
                    }
                    self.shared.link_down(Side::Subscriber, &e);
                    self.shared.subscriber_lost.notify_one();
                }
            }
            if matches!(self.stopped.recv_timeout(backoff.next()), Err(RecvTimeoutError::Disconnected)) {
                return;
            }
        }
    }

    fn is_stopped(&self) -> bool {
        matches!(self.stopped.try_recv(), Err(TryRecvError::Disconnected))
    }

    /// One connection: subscribe, then deliver until it fails (an error) or the node is gone (`Ok`).
    fn session(&self, on_subscribed: impl FnOnce()) -> redis::RedisResult<()> {
        let mut connection = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
        connection.set_write_timeout(Some(RESPONSE_TIMEOUT))?;
        connection.set_read_timeout(Some(RESPONSE_TIMEOUT))?;
        let mut pubsub = connection.as_pubsub();
        pubsub.subscribe(&*self.shared.channel)?;
        on_subscribed();
        pubsub.set_read_timeout(Some(POLL))?;
        let mut last_heard = Instant::now();
        loop {
            match pubsub.get_message() {
                Ok(message) => {
                    last_heard = Instant::now();
                    if !self.shared.receive(message.get_payload_bytes(), &self.local) {
                        return Ok(());
                    }
                }
                Err(e) if e.is_timeout() => {
                    if self.is_stopped() {
                        return Ok(());
                    }
                    if last_heard.elapsed() >= PING_AFTER {
                        pubsub.set_read_timeout(Some(RESPONSE_TIMEOUT))?;
                        pubsub.ping::<redis::Value>()?;
                        pubsub.set_read_timeout(Some(POLL))?;
                        last_heard = Instant::now();
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}
