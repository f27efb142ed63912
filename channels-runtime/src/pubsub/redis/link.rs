//! The state of the two connections to Redis and how they come back: an outage is logged once when it begins
//! and once when it ends, and reconnection attempts follow a capped exponential backoff, jittered so that a
//! restarted Redis is not hit by every node at the same instant.

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::Shared;

/// How long a TCP connection to Redis may take.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long Redis may take to answer a command (a publish pipeline, a subscribe, a ping).
pub(super) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The state of both connections, for logging each outage once.
#[derive(Default)]
pub(super) struct Link {
    /// Publisher, subscriber.
    up: [bool; 2],
    /// Since when, and the drop count then, while an outage is on.
    outage: Option<(Instant, u64)>,
    /// Whether the first connection was logged.
    announced: bool,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Side {
    Publisher = 0,
    Subscriber = 1,
}

impl Shared {
    /// `side` is connected: once both are, logs the end of the outage (or the first connection).
    pub(super) fn link_up(&self, side: Side) {
        if let Side::Publisher = side {
            self.publishing.store(true, Ordering::Relaxed);
        }
        let mut link = self.link.lock().unwrap_or_else(|e| e.into_inner());
        link.up[side as usize] = true;
        if !link.up.iter().all(|up| *up) {
            return;
        }
        if let Some((since, dropped_then)) = link.outage.take() {
            tracing::info!(redis = %self.addr, node = %self.node, down_for = ?since.elapsed(),
                dropped = self.dropped() - dropped_then, "Redis is back: cross-node broadcasts resume");
        } else if !link.announced {
            tracing::info!(redis = %self.addr, node = %self.node, channel = %self.channel,
                "PubSub connected to Redis: broadcasts reach every node");
        }
        link.announced = true;
    }

    /// `side` lost its connection (or could not connect): logs the outage when it begins.
    pub(super) fn link_down(&self, side: Side, error: &dyn fmt::Display) {
        if let Side::Publisher = side {
            self.publishing.store(false, Ordering::Relaxed);
        }
        let mut link = self.link.lock().unwrap_or_else(|e| e.into_inner());
        link.up[side as usize] = false;
        if link.outage.is_none() {
            link.outage = Some((Instant::now(), self.dropped()));
            tracing::warn!(redis = %self.addr, node = %self.node, %error,
                "Redis unreachable: serving local clients only, cross-node broadcasts are dropped until it is back");
        } else {
            tracing::debug!(redis = %self.addr, ?side, %error, "Redis still unreachable");
        }
    }
}

/// Capped exponential backoff with jitter.
pub(super) struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(super) fn new((first, max): (Duration, Duration)) -> Self {
        Backoff { first, max, next: first }
    }

    /// The delay before the next attempt: between half and all of the current step, which then doubles.
    pub(super) fn next(&mut self) -> Duration {
        let step = self.next;
        self.next = (step * 2).min(self.max);
        let fraction = f64::from(getrandom::u32().unwrap_or(0)) / f64::from(u32::MAX);
        step.mul_f64(1.0 - fraction / 2.0)
    }

    pub(super) fn reset(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter() {
        let mut backoff = Backoff::new((Duration::from_millis(100), Duration::from_millis(700)));
        let steps: Vec<u64> = [100, 200, 400, 700, 700].to_vec();
        for step in steps {
            let delay = backoff.next().as_millis() as u64;
            assert!((step / 2..=step).contains(&delay), "{delay} ms for a step of {step} ms");
        }
        backoff.reset();
        assert!(backoff.next() <= Duration::from_millis(100));
    }
}
