//! The local registry: subscribers by topic, in shards, and the encode-once fan-out of a broadcast to them.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, RwLock};

use super::Broadcast;
use crate::outbox::Outbox;
use crate::serializer::{self, Frame, Serializer};

const SHARDS: usize = 16;

/// How a subscriber receives broadcasts.
pub(crate) enum Delivery {
    /// Encoded frames straight to a connection's outbox (Phoenix's fastlane), but for the events in `intercepts`,
    /// which go to `handle_out` instead: a joined channel. Inline, as every broadcast walks these.
    Fastlane { outbox: Arc<Outbox>, intercepts: &'static [&'static str], handle_out: Arc<dyn Intercept> },
    /// Anything else, implemented where it lives: a connection's socket id, a user's subscription queue.
    Custom(Box<dyn Deliver>),
}

/// Takes the broadcasts a fastlane subscriber intercepts (a joined channel's task, for its `handle_out`).
pub(crate) trait Intercept: Send + Sync + 'static {
    /// Takes one broadcast; called under the registry's read lock, so it must not block.
    fn intercept(&self, broadcast: &Arc<Broadcast>);
}

/// A subscriber other than a fastlane one.
pub(crate) trait Deliver: Send + Sync + 'static {
    /// Takes one broadcast; called under the registry's read lock, so it must not block.
    fn deliver(&self, outgoing: &mut Outgoing<'_>);
}

/// A broadcast being dispatched, with its frames: each serializer's is encoded on first use and shared by every
/// subscriber using it (Phoenix's fastlane).
pub(crate) struct Outgoing<'a> {
    broadcast: &'a Arc<Broadcast>,
    frames: [Option<Option<Frame>>; serializer::COUNT],
}

impl<'a> Outgoing<'a> {
    fn new(broadcast: &'a Arc<Broadcast>) -> Self {
        Outgoing { broadcast, frames: Default::default() }
    }

    pub(crate) fn broadcast(&self) -> &'a Arc<Broadcast> {
        self.broadcast
    }

    /// The broadcast encoded by `serializer`, or `None` when it cannot be (logged once per dispatch).
    pub(crate) fn frame(&mut self, serializer: Serializer) -> Option<&Frame> {
        let broadcast = self.broadcast;
        self.frames[serializer.index()]
            .get_or_insert_with(|| {
                serializer
                    .encode_broadcast(&broadcast.topic, &broadcast.event, &broadcast.payload)
                    .map_err(|e| {
                        tracing::warn!(topic = %broadcast.topic, event = %broadcast.event, ?serializer,
                            "broadcast not sent: {e}")
                    })
                    .ok()
            })
            .as_ref()
    }
}

struct Subscriber {
    id: u64,
    delivery: Delivery,
}

type Shard = HashMap<Box<str>, Vec<Subscriber>>;

pub(super) struct Registry {
    shards: Box<[RwLock<Shard>]>,
    hasher: RandomState,
}

impl Registry {
    pub(super) fn new() -> Self {
        Registry { shards: (0..SHARDS).map(|_| RwLock::default()).collect(), hasher: RandomState::new() }
    }

    fn shard(&self, topic: &str) -> &RwLock<Shard> {
        &self.shards[self.hasher.hash_one(topic) as usize % SHARDS]
    }

    pub(super) fn insert(&self, topic: &str, id: u64, delivery: Delivery) {
        let mut shard = self.shard(topic).write().unwrap_or_else(|e| e.into_inner());
        shard.entry(topic.into()).or_default().push(Subscriber { id, delivery });
    }

    pub(super) fn remove(&self, topic: &str, id: u64) {
        let mut shard = self.shard(topic).write().unwrap_or_else(|e| e.into_inner());
        if let Some(subs) = shard.get_mut(topic) {
            if let Some(i) = subs.iter().position(|s| s.id == id) {
                subs.swap_remove(i);
            }
            if subs.is_empty() {
                shard.remove(topic);
            }
        }
    }

    pub(super) fn count(&self, topic: &str) -> usize {
        let shard = self.shard(topic).read().unwrap_or_else(|e| e.into_inner());
        shard.get(topic).map_or(0, Vec::len)
    }

    pub(super) fn dispatch(&self, broadcast: &Arc<Broadcast>, from: Option<u64>) {
        let shard = self.shard(&broadcast.topic).read().unwrap_or_else(|e| e.into_inner());
        let Some(subs) = shard.get(broadcast.topic.as_str()) else { return };
        let mut outgoing = Outgoing::new(broadcast);
        for sub in subs.iter().filter(|s| Some(s.id) != from) {
            match &sub.delivery {
                Delivery::Fastlane { outbox, intercepts, handle_out } => {
                    if intercepts.contains(&broadcast.event.as_str()) {
                        handle_out.intercept(broadcast);
                    } else if let Some(frame) = outgoing.frame(outbox.serializer) {
                        outbox.push(frame.clone());
                    }
                }
                Delivery::Custom(delivery) => delivery.deliver(&mut outgoing),
            }
        }
    }
}
