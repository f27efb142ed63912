//! PubSub: topics, subscribers and broadcasts, as Phoenix.PubSub.
//!
//! Subscribers live in a registry sharded by topic, so broadcasts on different topics do not contend. A
//! broadcast is encoded at most once per serializer and every channel subscriber's connection receives a clone
//! of the same bytes (Phoenix's "fastlane"); only events a channel intercepts go through its task. Other
//! nodes are reached through an [`Adapter`]; the default is this node alone.

mod local;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) use local::Delivery;
use local::Registry;

use crate::payload::{IntoPayload, Payload};
use crate::queue::Queue;

/// A message for every subscriber of a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    /// The topic it was sent to.
    pub topic: String,
    /// The event name.
    pub event: String,
    /// The payload, serialized once.
    pub payload: Payload,
}

/// Carries broadcasts to the other nodes of a cluster.
///
/// The adapter only moves messages between nodes; each receiving node hands them to
/// [`PubSub::local_broadcast`], which encodes them once per serializer there.
pub trait Adapter: Send + Sync + 'static {
    /// This node's unique name.
    fn node_name(&self) -> &str;
    /// Sends `broadcast` to every other node. Delivery is at most once, as in Phoenix.
    fn broadcast(&self, broadcast: &Arc<Broadcast>);
}

/// The PubSub server of an endpoint: cheap to clone, usable from any task.
///
/// ```
/// use channels_runtime::PubSub;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let pubsub = PubSub::new();
/// let mut sub = pubsub.subscribe("rooms:lobby", 16);
/// pubsub.broadcast("rooms:lobby", "new_msg", &serde_json::json!({"body": "hi"}));
/// let b = sub.recv().await.unwrap();
/// assert_eq!(b.event, "new_msg");
/// # }
/// ```
#[derive(Clone)]
pub struct PubSub {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    next_id: AtomicU64,
    adapter: Option<Arc<dyn Adapter>>,
}

impl Default for PubSub {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for PubSub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PubSub").field("node", &self.node_name()).finish_non_exhaustive()
    }
}

impl PubSub {
    /// A PubSub for this node alone.
    pub fn new() -> Self {
        Self::build(None)
    }

    /// A PubSub whose broadcasts also reach other nodes through `adapter`.
    pub fn with_adapter(adapter: Arc<dyn Adapter>) -> Self {
        Self::build(Some(adapter))
    }

    fn build(adapter: Option<Arc<dyn Adapter>>) -> Self {
        PubSub { inner: Arc::new(Inner { registry: Registry::new(), next_id: AtomicU64::new(1), adapter }) }
    }

    /// This node's name: the adapter's, or `"local"`.
    pub fn node_name(&self) -> &str {
        self.inner.adapter.as_deref().map_or("local", |a| a.node_name())
    }

    /// Sends `event` with `payload` to every subscriber of `topic`, on every node.
    pub fn broadcast(&self, topic: &str, event: &str, payload: impl IntoPayload) {
        self.publish(Arc::new(Broadcast::new(topic, event, payload)), None);
    }

    /// Like [`broadcast`](Self::broadcast), on this node only.
    pub fn local_broadcast(&self, topic: &str, event: &str, payload: impl IntoPayload) {
        self.dispatch(&Arc::new(Broadcast::new(topic, event, payload)), None);
    }

    /// Delivers a broadcast that came from another node to this node's subscribers.
    pub fn deliver_remote(&self, broadcast: Arc<Broadcast>) {
        self.dispatch(&broadcast, None);
    }

    pub(crate) fn publish(&self, broadcast: Arc<Broadcast>, from: Option<u64>) {
        if let Some(adapter) = &self.inner.adapter {
            adapter.broadcast(&broadcast);
        }
        self.dispatch(&broadcast, from);
    }

    fn dispatch(&self, broadcast: &Arc<Broadcast>, from: Option<u64>) {
        self.inner.registry.dispatch(broadcast, from);
    }

    /// Subscribes a queue holding at most `capacity` broadcasts; when it is full, new broadcasts are dropped
    /// (and logged) rather than blocking the broadcaster. Dropping the [`Subscription`] unsubscribes.
    pub fn subscribe(&self, topic: &str, capacity: usize) -> Subscription {
        let queue = Arc::new(Queue::new(capacity));
        let guard = self.subscribe_with(topic, Delivery::Queue(queue.clone()));
        Subscription { guard, queue }
    }

    /// The number of subscribers of `topic` on this node.
    pub fn subscriber_count(&self, topic: &str) -> usize {
        self.inner.registry.count(topic)
    }

    pub(crate) fn subscribe_with(&self, topic: &str, delivery: Delivery) -> SubscriptionGuard {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner.registry.insert(topic, id, delivery);
        SubscriptionGuard { pubsub: self.clone(), topic: topic.into(), id }
    }
}

impl Broadcast {
    /// A broadcast of `event` with `payload` on `topic`.
    pub fn new(topic: &str, event: &str, payload: impl IntoPayload) -> Self {
        Broadcast { topic: topic.to_owned(), event: event.to_owned(), payload: payload.into_payload() }
    }
}

/// Keeps one registry entry alive; dropping it unsubscribes, so an aborted or crashed task cannot leak one.
pub(crate) struct SubscriptionGuard {
    pubsub: PubSub,
    topic: Box<str>,
    id: u64,
}

impl SubscriptionGuard {
    pub(crate) fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.pubsub.inner.registry.remove(&self.topic, self.id);
    }
}

/// A subscription made with [`PubSub::subscribe`]; unsubscribes when dropped.
pub struct Subscription {
    guard: SubscriptionGuard,
    queue: Arc<Queue<Arc<Broadcast>>>,
}

impl Subscription {
    /// The next broadcast. Never `None` while the subscription lives.
    pub async fn recv(&mut self) -> Option<Arc<Broadcast>> {
        self.queue.recv().await
    }

    /// The topic subscribed to.
    pub fn topic(&self) -> &str {
        &self.guard.topic
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").field("topic", &self.topic()).finish()
    }
}
