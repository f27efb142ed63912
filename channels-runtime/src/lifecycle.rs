//! The life of a server: the shutdown signal, the count of open connections, and the drain that closes them in
//! batches. The accept loop and every transport share one [`Lifecycle`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::config::setters;

/// The shutdown signal and the count of open connections, shared by the accept loop and every connection.
#[derive(Clone)]
pub(crate) struct Lifecycle {
    shutdown: watch::Receiver<bool>,
    state: Arc<LifecycleState>,
}

struct LifecycleState {
    trigger: watch::Sender<bool>,
    active: AtomicUsize,
    idle: Notify,
    drain: Drain,
    /// Connections that asked for their drain slot so far.
    drain_slots: AtomicUsize,
}

/// How connections are closed at shutdown: in batches, so clients reconnect elsewhere in waves rather than all
/// at once (Phoenix's drainer), with Phoenix's defaults.
///
/// ```
/// use std::time::Duration;
/// use channels_runtime::endpoint::Drain;
///
/// let drain = Drain::default().batch_size(1_000).interval(Duration::from_millis(500));
/// # drop(drain);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Drain {
    batch_size: usize,
    interval: Duration,
    timeout: Duration,
}

impl Default for Drain {
    fn default() -> Self {
        Drain { batch_size: 10_000, interval: Duration::from_secs(2), timeout: Duration::from_secs(30) }
    }
}

setters! {
    Drain {
        /// Connections closed per batch. Default 10,000, as Phoenix.
        batch_size: usize;
        /// Time between batches. Default 2 s, as Phoenix.
        interval: Duration;
        /// The whole drain takes at most this long. Default 30 s, as Phoenix.
        timeout: Duration;
    }
}

impl Lifecycle {
    pub(crate) fn new(drain: Drain) -> Self {
        let (trigger, shutdown) = watch::channel(false);
        let state = LifecycleState {
            trigger,
            active: AtomicUsize::new(0),
            idle: Notify::new(),
            drain,
            drain_slots: AtomicUsize::new(0),
        };
        Lifecycle { shutdown, state: Arc::new(state) }
    }

    /// How long after shutdown starts this connection closes: its batch's turn.
    pub(crate) fn drain_delay(&self) -> Duration {
        let drain = &self.state.drain;
        let slot = self.state.drain_slots.fetch_add(1, Ordering::Relaxed);
        let batch = (slot / drain.batch_size.max(1)) as u32;
        drain.interval.saturating_mul(batch).min(drain.timeout)
    }

    /// Starts the shutdown.
    pub(crate) fn shutdown(&self) {
        self.state.trigger.send_replace(true);
    }

    /// Resolves once shutdown has started.
    pub(crate) fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    pub(crate) async fn shutting_down(&self) {
        let mut shutdown = self.shutdown.clone();
        // The sender lives in `state`, which this value keeps alive, so the wait cannot fail.
        let _ = shutdown.wait_for(|down| *down).await;
    }

    /// Counts a connection as open until the guard drops.
    pub(crate) fn track(&self) -> TrackGuard {
        self.state.active.fetch_add(1, Ordering::SeqCst);
        TrackGuard(self.state.clone())
    }

    /// Waits until every connection has closed, or the drain's timeout plus `grace` has passed (then logs how
    /// many are still open).
    pub(crate) async fn closed(&self, grace: Duration) {
        if tokio::time::timeout(self.state.drain.timeout + grace, self.idle()).await.is_err() {
            tracing::warn!(open = self.active(), "shutdown timed out with connections still open");
        }
    }

    fn active(&self) -> usize {
        self.state.active.load(Ordering::SeqCst)
    }

    async fn idle(&self) {
        loop {
            let notified = self.state.idle.notified();
            if self.active() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One open connection, counted until dropped.
pub(crate) struct TrackGuard(Arc<LifecycleState>);

impl Drop for TrackGuard {
    fn drop(&mut self) {
        if self.0.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_slots_fill_batches_in_turn() {
        let drain =
            Drain::default().batch_size(2).interval(Duration::from_secs(1)).timeout(Duration::from_millis(2500));
        let lifecycle = Lifecycle::new(drain);
        let delays: Vec<_> = (0..7).map(|_| lifecycle.drain_delay().as_millis()).collect();
        assert_eq!(delays, [0, 0, 1000, 1000, 2000, 2000, 2500]);
    }
}
