//! The local registry: subscribers by topic, in shards, and the encode-once fan-out of a broadcast to them.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, RwLock};

use super::Broadcast;
use crate::serializer::{self, Frame, Serializer};

const SHARDS: usize = 16;

/// How a subscriber receives broadcasts: joined channels, connections (for their socket id) and user queues
/// each implement it where they live, so the registry knows none of them.
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
    delivery: Box<dyn Deliver>,
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

    pub(super) fn insert(&self, topic: &str, id: u64, delivery: Box<dyn Deliver>) {
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
            sub.delivery.deliver(&mut outgoing);
        }
    }
}
