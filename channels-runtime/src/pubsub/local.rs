//! The local registry: subscribers by topic, in shards.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, RwLock};

use super::Broadcast;
use crate::channel::ChannelMsg;
use crate::outbox::{CloseReason, Outbox};
use crate::queue::{PushError, Queue};
use crate::serializer::{self, Frame};

const SHARDS: usize = 16;

/// How a subscriber receives broadcasts.
pub(crate) enum Delivery {
    /// A joined channel: encoded frames straight to its connection, intercepted events to its task.
    Channel { outbox: Arc<Outbox>, intercepts: &'static [&'static str], mailbox: Arc<Queue<ChannelMsg>> },
    /// A connection subscribed to its socket id: acts on `disconnect` only.
    SocketId { outbox: Arc<Outbox> },
    /// A queue read by user code.
    Queue(Arc<Queue<Arc<Broadcast>>>),
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
        // Each serializer's frame is built on first use and shared by every subscriber using it.
        let mut frames: [Option<Option<Frame>>; serializer::COUNT] = Default::default();
        for sub in subs.iter().filter(|s| Some(s.id) != from) {
            match &sub.delivery {
                Delivery::Channel { outbox, intercepts, mailbox } => {
                    if intercepts.contains(&broadcast.event.as_str()) {
                        let msg = ChannelMsg::Out(broadcast.clone());
                        if let Err(PushError::Full(_)) = mailbox.try_push(msg) {
                            crate::metrics::metrics().pubsub_dropped.increment(1);
                            tracing::warn!(topic = %broadcast.topic, event = %broadcast.event,
                                "channel mailbox full, intercepted broadcast dropped");
                        }
                        continue;
                    }
                    let slot = &mut frames[outbox.serializer.index()];
                    let frame = slot.get_or_insert_with(|| {
                        outbox
                            .serializer
                            .encode_broadcast(&broadcast.topic, &broadcast.event, &broadcast.payload)
                            .map_err(|e| {
                                tracing::warn!(topic = %broadcast.topic, event = %broadcast.event,
                                serializer = ?outbox.serializer, "broadcast not sent: {e}")
                            })
                            .ok()
                    });
                    if let Some(frame) = frame {
                        outbox.push(frame.clone());
                    }
                }
                Delivery::SocketId { outbox } => {
                    if broadcast.event == "disconnect" {
                        outbox.shut(CloseReason::Disconnect);
                    }
                }
                Delivery::Queue(queue) => {
                    if let Err(PushError::Full(_)) = queue.try_push(broadcast.clone()) {
                        crate::metrics::metrics().pubsub_dropped.increment(1);
                        tracing::warn!(topic = %broadcast.topic, "subscription queue full, broadcast dropped");
                    }
                }
            }
        }
    }
}
