//! PubSub: topics, subscribers and broadcasts, as Phoenix.PubSub.
//!
//! Subscribers live in a registry sharded by topic, so broadcasts on different topics do not contend. A
//! broadcast is encoded at most once per serializer and every channel subscriber's connection receives a clone
//! of the same bytes (Phoenix's "fastlane"); only events a channel intercepts go through its task. Other
//! nodes are reached through an [`Adapter`]; the default is this node alone, which costs nothing.
//!
//! As in Phoenix.PubSub, an adapter carries a broadcast to the other nodes as one message, and each receiving
//! node dispatches it to its own subscribers (through [`LocalNode`]), so frames are encoded once per serializer
//! on each node, never once per remote subscriber. The adapter holds the node only weakly: a dropped endpoint
//! stops its adapter instead of being kept alive by it.

mod local;
#[cfg(feature = "redis")]
mod redis;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use local::Registry;
pub(crate) use local::{Deliver, Delivery, Intercept, Outgoing};
#[cfg(feature = "redis")]
pub use redis::{RedisConfig, RedisStartError};

use crate::payload::{IntoPayload, Payload};
use crate::queue::{PushError, Queue};

/// A message for every subscriber of a topic.
///
/// ```
/// use channels_runtime::pubsub::{Broadcast, PubSub};
/// use serde_json::json;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let pubsub = PubSub::new();
/// let mut sub = pubsub.subscribe("rooms:lobby", 16);
/// pubsub.broadcast("rooms:lobby", "new_msg", json!({"body": "hi"}));
/// let broadcast = sub.recv().await.unwrap();
/// assert_eq!(broadcast.event, "new_msg");
/// assert_eq!(*broadcast, Broadcast::new("rooms:lobby", "new_msg", json!({"body": "hi"})));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    /// The topic it was sent to.
    pub topic: String,
    /// The event name.
    pub event: String,
    /// The payload, serialized once.
    pub payload: Payload,
}

/// Carries broadcasts to the other nodes of a cluster (Phoenix.PubSub's adapter behaviour).
///
/// [`PubSub`] calls the adapter for every broadcast that must leave this node; the adapter hands what it
/// receives from other nodes to [`LocalNode::deliver`], and the receiving node encodes it once per serializer
/// there. Delivery is at most once, as in Phoenix: an adapter that cannot send drops the broadcast and counts
/// it in [`dropped`](Adapter::dropped). Both sending methods are called from channel tasks, so they must
/// return at once: queue, never wait on the network.
///
/// The Redis adapter (`PubSub::redis`, feature `redis`) is the one to use across processes; this example wires
/// two nodes of one process together to show the contract.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use channels_runtime::pubsub::{Adapter, Broadcast, LocalNode, PubSub};
///
/// /// Every node of the cluster, by name.
/// type Cluster = Arc<Mutex<Vec<(String, LocalNode)>>>;
///
/// struct InProcess { name: String, cluster: Cluster }
///
/// impl Adapter for InProcess {
///     fn node_name(&self) -> &str { &self.name }
///     fn broadcast(&self, b: &Arc<Broadcast>) {
///         for (name, node) in self.cluster.lock().unwrap().iter() {
///             if *name != self.name { node.deliver(b.clone()); }
///         }
///     }
///     fn direct_broadcast(&self, to: &str, b: &Arc<Broadcast>) {
///         for (name, node) in self.cluster.lock().unwrap().iter() {
///             if name == to { node.deliver(b.clone()); }
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let cluster = Cluster::default();
/// let node = |name: &str| {
///     let pubsub = PubSub::with_adapter(InProcess { name: name.into(), cluster: cluster.clone() });
///     cluster.lock().unwrap().push((name.into(), pubsub.local_node()));
///     pubsub
/// };
/// let (a, b) = (node("a"), node("b"));
/// let mut on_b = b.subscribe("rooms:lobby", 16);
/// a.broadcast("rooms:lobby", "new_msg", &serde_json::json!({"body": "hi"}));
/// assert_eq!(on_b.recv().await.unwrap().event, "new_msg");
/// # }
/// ```
pub trait Adapter: Send + Sync + 'static {
    /// This node's name, unique in the cluster.
    fn node_name(&self) -> &str;

    /// Sends `broadcast` to every other node (not to this one: [`PubSub`] delivers locally itself).
    fn broadcast(&self, broadcast: &Arc<Broadcast>);

    /// Sends `broadcast` to the node named `node` only, even when that is this node (as Phoenix does, it
    /// then takes the same path as a remote one).
    fn direct_broadcast(&self, node: &str, broadcast: &Arc<Broadcast>);

    /// How many broadcasts this adapter dropped so far (its queue was full, or the link to the other nodes
    /// was down). The default, for adapters that never drop, is 0.
    fn dropped(&self) -> u64 {
        0
    }
}

/// The receiving end of an [`Adapter`]: hands broadcasts that came from other nodes to this node's
/// subscribers. Made by [`PubSub::local_node`]; it does not keep the PubSub alive.
///
/// ```
/// use std::sync::Arc;
/// use channels_runtime::pubsub::{Broadcast, PubSub};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let pubsub = PubSub::new();
/// let local = pubsub.local_node();
/// let mut sub = pubsub.subscribe("rooms:lobby", 16);
/// assert!(local.deliver(Arc::new(Broadcast::new("rooms:lobby", "new_msg", serde_json::json!({})))));
/// assert_eq!(sub.recv().await.unwrap().event, "new_msg");
///
/// drop((sub, pubsub));
/// assert!(!local.deliver(Arc::new(Broadcast::new("rooms:lobby", "new_msg", serde_json::json!({})))));
/// # }
/// ```
#[derive(Clone)]
pub struct LocalNode {
    inner: Weak<Inner>,
}

impl LocalNode {
    /// Dispatches `broadcast` to this node's subscribers of its topic. Returns `false` once the PubSub is
    /// gone, which tells the adapter to stop.
    pub fn deliver(&self, broadcast: Arc<Broadcast>) -> bool {
        match self.inner.upgrade() {
            Some(inner) => {
                inner.registry.dispatch(&broadcast, None);
                true
            }
            None => false,
        }
    }
}

impl fmt::Debug for LocalNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalNode").field("alive", &(self.inner.strong_count() > 0)).finish()
    }
}

/// The PubSub server of an endpoint: cheap to clone, usable from any task.
///
/// ```
/// use channels_runtime::pubsub::PubSub;
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
    adapter: Option<Box<dyn Adapter>>,
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

    /// A PubSub whose broadcasts also reach other nodes through `adapter`. Give the adapter's receiving side
    /// [`local_node`](Self::local_node) so broadcasts from other nodes reach this one; see [`Adapter`] for
    /// an example.
    pub fn with_adapter(adapter: impl Adapter) -> Self {
        Self::build(Some(Box::new(adapter)))
    }

    fn build(adapter: Option<Box<dyn Adapter>>) -> Self {
        PubSub { inner: Arc::new(Inner { registry: Registry::new(), next_id: AtomicU64::new(1), adapter }) }
    }

    /// The handle an adapter delivers other nodes' broadcasts through; see [`LocalNode`].
    pub fn local_node(&self) -> LocalNode {
        LocalNode { inner: Arc::downgrade(&self.inner) }
    }

    /// This node's name: the adapter's, or `"local"`.
    ///
    /// ```
    /// assert_eq!(channels_runtime::pubsub::PubSub::new().node_name(), "local");
    /// ```
    pub fn node_name(&self) -> &str {
        self.inner.adapter.as_deref().map_or("local", |a| a.node_name())
    }

    /// How many broadcasts could not be sent to other nodes (see [`Adapter::dropped`]); always 0 for a
    /// node-local PubSub.
    ///
    /// ```
    /// assert_eq!(channels_runtime::pubsub::PubSub::new().dropped(), 0);
    /// ```
    pub fn dropped(&self) -> u64 {
        self.inner.adapter.as_deref().map_or(0, |a| a.dropped())
    }

    /// Sends `event` with `payload` to every subscriber of `topic`, on every node.
    ///
    /// ```
    /// # let pubsub = channels_runtime::pubsub::PubSub::new();
    /// pubsub.broadcast("rooms:lobby", "new_msg", serde_json::json!({"body": "hi"}));
    /// ```
    pub fn broadcast(&self, topic: &str, event: &str, payload: impl IntoPayload) {
        self.publish(Arc::new(Broadcast::new(topic, event, payload)), None);
    }

    /// Like [`broadcast`](Self::broadcast), on this node only.
    ///
    /// ```
    /// # let pubsub = channels_runtime::pubsub::PubSub::new();
    /// pubsub.local_broadcast("cache:users", "invalidate", serde_json::json!({"id": 42}));
    /// ```
    pub fn local_broadcast(&self, topic: &str, event: &str, payload: impl IntoPayload) {
        self.dispatch(&Arc::new(Broadcast::new(topic, event, payload)), None);
    }

    /// Sends `event` with `payload` to the subscribers of `topic` on the node named `node` only (Phoenix's
    /// `direct_broadcast`). Without an adapter, only this node's own name reaches anyone.
    ///
    /// ```
    /// use channels_runtime::pubsub::PubSub;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let pubsub = PubSub::new();
    /// let mut sub = pubsub.subscribe("jobs", 16);
    /// pubsub.direct_broadcast("elsewhere", "jobs", "run", serde_json::json!({}));
    /// pubsub.direct_broadcast(pubsub.node_name(), "jobs", "run", serde_json::json!({"n": 1}));
    /// assert_eq!(sub.recv().await.unwrap().payload.as_json(), Some(r#"{"n":1}"#));
    /// # }
    /// ```
    pub fn direct_broadcast(&self, node: &str, topic: &str, event: &str, payload: impl IntoPayload) {
        let broadcast = Arc::new(Broadcast::new(topic, event, payload));
        match &self.inner.adapter {
            Some(adapter) => adapter.direct_broadcast(node, &broadcast),
            None if node == self.node_name() => self.dispatch(&broadcast, None),
            None => {}
        }
    }

    pub(crate) fn publish(&self, broadcast: Arc<Broadcast>, from: Option<u64>) {
        if let Some(adapter) = &self.inner.adapter {
            adapter.broadcast(&broadcast);
        }
        self.dispatch(&broadcast, from);
    }

    /// Whether other nodes can be reached (an adapter is configured).
    pub(crate) fn is_clustered(&self) -> bool {
        self.inner.adapter.is_some()
    }

    /// Sends `broadcast` to the other nodes only.
    pub(crate) fn publish_remote(&self, broadcast: Arc<Broadcast>) {
        if let Some(adapter) = &self.inner.adapter {
            adapter.broadcast(&broadcast);
        }
    }

    fn dispatch(&self, broadcast: &Arc<Broadcast>, from: Option<u64>) {
        self.inner.registry.dispatch(broadcast, from);
    }

    /// Subscribes a queue holding at most `capacity` broadcasts; when it is full, new broadcasts are dropped
    /// (and logged) rather than blocking the broadcaster. Dropping the [`Subscription`] unsubscribes.
    pub fn subscribe(&self, topic: &str, capacity: usize) -> Subscription {
        let queue = Arc::new(Queue::new(capacity));
        let guard = self.subscribe_with(topic, Delivery::Custom(Box::new(queue.clone())));
        Subscription { guard, queue }
    }

    /// The number of subscribers of `topic` on this node.
    pub fn subscriber_count(&self, topic: &str) -> usize {
        self.inner.registry.count(topic)
    }

    /// Subscribes `delivery` to `topic` until the guard drops.
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

/// A user's subscription queue: full means this reader is behind, so the broadcast is dropped for it alone.
impl Deliver for Arc<Queue<Arc<Broadcast>>> {
    fn deliver(&self, outgoing: &mut Outgoing<'_>) {
        if let Err(PushError::Full(_)) = self.try_push(outgoing.broadcast().clone()) {
            crate::metrics::metrics().pubsub_dropped.increment(1);
            tracing::warn!(topic = %outgoing.broadcast().topic, "subscription queue full, broadcast dropped");
        }
    }
}

/// A subscription made with [`PubSub::subscribe`]; unsubscribes when dropped.
///
/// ```
/// use channels_runtime::pubsub::PubSub;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let pubsub = PubSub::new();
/// let mut sub = pubsub.subscribe("rooms:lobby", 16);
/// pubsub.broadcast("rooms:lobby", "new_msg", serde_json::json!({"body": "hi"}));
/// while let Some(broadcast) = sub.recv().await {
///     println!("{} on {}: {:?}", broadcast.event, sub.topic(), broadcast.payload);
///     break; // a real reader loops for as long as it lives
/// }
/// drop(sub); // unsubscribes
/// assert_eq!(pubsub.subscriber_count("rooms:lobby"), 0);
/// # }
/// ```
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
