//! Presence: who is online in each topic, on every node (Phoenix.Presence, wire-compatible with the `Presence`
//! class of the `phoenix` npm client).
//!
//! # Design
//! The state is a set of entries `(topic, key, meta)`, each with a unique `phx_ref`. Every entry has exactly
//! one owner, the node whose channel tracked it, and only the owner adds or removes it; other nodes hold
//! replicas. Because writers never conflict, the replicated set is a CRDT in its simplest form: each node's
//! state is a log of its own adds and removes numbered by a clock, and a replica is either up to date with
//! that clock or asks for a fresh copy.
//!
//! - **Replicas** are identified by node name and incarnation (a random number chosen at start), so a node that
//!   restarts is a new replica and the old incarnation's entries leave: no zombies after a deploy.
//! - **Deltas**: each change is broadcast to the other nodes with the owner's next clock value. A replica
//!   applies a delta only if it is the next one; on a gap (a lost message, a partition) it asks the owner for
//!   its whole state and replaces its copy, computing the joins and leaves from the difference, so entries are
//!   never duplicated.
//! - **Heartbeats** carry the owner's clock every `broadcast_period`; a replica behind it asks for the state.
//!   A replica not heard from for `down_period` is down: its entries leave. When it is heard from again (the
//!   partition healed), its state is fetched and its entries join again.
//! - **Diffs**: every node computes `presence_diff` from its own replicated state and broadcasts it to its
//!   own subscribers only, as Phoenix does, so clients get one diff per change whichever node they are on.
//!
//! Entries tracked by a channel are removed when that channel ends, whatever the reason (leave, close, crash,
//! disconnect, duplicate join).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::config::setters;
use crate::pubsub::{Broadcast, PubSub};

/// The internal topic replicas talk on.
const REPLICATION_TOPIC: &str = "phx_presence:replication";

/// Timing of the replication between nodes, with Phoenix's defaults.
///
/// ```
/// use std::time::Duration;
/// use channels_runtime::presence::PresenceConfig;
///
/// let config = PresenceConfig::default().broadcast_period(Duration::from_millis(500)).down_period(Duration::from_secs(10));
/// # drop(config);
/// ```
#[derive(Debug, Clone)]
pub struct PresenceConfig {
    broadcast_period: Duration,
    down_period: Duration,
    max_entry_bytes: usize,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        PresenceConfig {
            broadcast_period: Duration::from_millis(1500),
            down_period: Duration::from_secs(30),
            max_entry_bytes: 8 << 10,
        }
    }
}

setters! {
    PresenceConfig {
        /// How often a node sends a heartbeat with its clock. Default 1.5 s, as Phoenix.
        broadcast_period: Duration;
        /// A node silent this long is down and its entries leave. Default 30 s, as Phoenix.
        down_period: Duration;
        /// The largest entry tracked, its key and its meta as JSON; a larger one is refused
        /// ([`TrackError::TooLarge`]), since every client joining the topic receives every entry. Default 8 KiB.
        max_entry_bytes: usize;
    }
}

/// Why a presence was not tracked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackError {
    /// The key and the meta, as JSON, are larger than [`PresenceConfig::max_entry_bytes`].
    TooLarge {
        /// Its size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
}

impl fmt::Display for TrackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackError::TooLarge { size, max } => {
                write!(f, "presence entry of {size} bytes over the {max}-byte limit")
            }
        }
    }
}

impl std::error::Error for TrackError {}

/// The presence tracker of one PubSub: cheap to clone.
///
/// ```
/// use channels_runtime::presence::Presence;
/// use channels_runtime::pubsub::PubSub;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let presence = Presence::start(PubSub::new(), Default::default());
/// assert_eq!(presence.list("rooms:lobby"), serde_json::json!({}));
/// # }
/// ```
#[derive(Clone)]
pub struct Presence {
    inner: Arc<Inner>,
}

struct Inner {
    pubsub: PubSub,
    me: ReplicaId,
    config: PresenceConfig,
    state: Mutex<State>,
    next_owner: AtomicU64,
    next_ref: AtomicU64,
    /// Set once this node said goodbye: it replicates nothing more, so the others do not take it back.
    departed: AtomicBool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct ReplicaId {
    node: String,
    vsn: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entry {
    topic: String,
    key: String,
    /// The meta as clients see it: the user's fields plus `phx_ref` (and `phx_ref_prev` after an update).
    meta: Map<String, Value>,
    /// The channel that tracked it; meaningful on the owning node only.
    #[serde(skip)]
    owner: u64,
}

impl Entry {
    fn phx_ref(&self) -> &str {
        self.meta.get("phx_ref").and_then(Value::as_str).unwrap_or_default()
    }
}

#[derive(Default)]
struct Replica {
    clock: u64,
    last_seen: Option<Instant>,
    /// Entries by topic, in the order they joined.
    topics: HashMap<String, Vec<Entry>>,
}

#[derive(Default)]
struct State {
    replicas: HashMap<ReplicaId, Replica>,
}

/// What replicas send each other.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Replication {
    Delta { from: ReplicaId, clock: u64, joins: Vec<Entry>, leaves: Vec<Entry> },
    Heartbeat { from: ReplicaId, clock: u64 },
    State { from: ReplicaId, clock: u64, entries: Vec<Entry> },
    SyncRequest { from: ReplicaId, to: ReplicaId },
    Down { from: ReplicaId },
}

/// The joins and leaves of one topic.
#[derive(Default)]
struct Diff {
    joins: Vec<Entry>,
    leaves: Vec<Entry>,
}

impl Presence {
    /// Starts the tracker on `pubsub`: its replication task runs until every handle is dropped.
    pub fn start(pubsub: PubSub, config: PresenceConfig) -> Presence {
        let me = ReplicaId { node: pubsub.node_name().to_owned(), vsn: random_u64() };
        let mut state = State::default();
        state.replicas.insert(me.clone(), Replica::default());
        let inner = Arc::new(Inner {
            pubsub: pubsub.clone(),
            me,
            config,
            state: Mutex::new(state),
            next_owner: AtomicU64::new(1),
            next_ref: AtomicU64::new(0),
            departed: AtomicBool::new(false),
        });
        let mut subscription = pubsub.subscribe(REPLICATION_TOPIC, 4096);
        let weak = Arc::downgrade(&inner);
        let period = inner.config.broadcast_period;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tokio::select! {
                    received = subscription.recv() => {
                        let (Some(broadcast), Some(inner)) = (received, weak.upgrade()) else { break };
                        match broadcast.payload.deserialize::<Replication>() {
                            Ok(msg) => inner.receive(msg),
                            Err(e) => tracing::warn!("presence replication message ignored: {e}"),
                        }
                    }
                    _ = tick.tick() => {
                        let Some(inner) = weak.upgrade() else { break };
                        inner.tick();
                    }
                }
            }
        });
        Presence { inner }
    }

    /// Tracks `key` with `meta` on the channel's topic, until [`untrack`](Self::untrack) or the channel ends.
    /// Returns the entry's `phx_ref`. `meta` must serialize to a JSON object.
    pub fn track(
        &self,
        socket: &mut impl PresenceTracker,
        key: &str,
        meta: impl Serialize,
    ) -> Result<String, TrackError> {
        socket.presence_owner(self).track(key, meta)
    }

    /// Replaces the meta of every entry the channel tracks under `key`: clients see the old meta leave and the
    /// new one join, carrying `phx_ref_prev`.
    pub fn update(&self, socket: &mut impl PresenceTracker, key: &str, meta: impl Serialize) -> Result<(), TrackError> {
        socket.presence_owner(self).update(key, meta)
    }

    /// Stops tracking `key` for the channel.
    pub fn untrack(&self, socket: &mut impl PresenceTracker, key: &str) {
        socket.presence_owner(self).untrack(key)
    }

    /// A handle that tracks entries on `topic` from any task (Phoenix's `track(pid, topic, key, meta)`); its
    /// entries leave when it is dropped.
    ///
    /// ```
    /// use channels_runtime::presence::Presence;
    /// use channels_runtime::pubsub::PubSub;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let presence = Presence::start(PubSub::new(), Default::default());
    /// let owner = presence.owner("rooms:lobby");
    /// owner.track("worker-1", serde_json::json!({"status": "busy"})).unwrap();
    /// assert_eq!(presence.list("rooms:lobby")["worker-1"]["metas"][0]["status"], "busy");
    /// drop(owner);
    /// assert_eq!(presence.list("rooms:lobby"), serde_json::json!({}));
    /// # }
    /// ```
    pub fn owner(&self, topic: &str) -> PresenceOwner {
        let id = self.inner.next_owner.fetch_add(1, Ordering::Relaxed);
        PresenceOwner { presence: self.clone(), id, topic: topic.into() }
    }

    /// Everyone present in `topic` on every node: `{key: {"metas": [meta, ..]}}`, the payload of
    /// `presence_state`.
    pub fn list(&self, topic: &str) -> Value {
        let state = self.inner.lock();
        let mut entries: Vec<&Entry> = Vec::new();
        // Down replicas are forgotten, so every replica held is up.
        for replica in state.replicas.values() {
            entries.extend(replica.topics.get(topic).into_iter().flatten());
        }
        group(entries.into_iter())
    }

    /// Tells the other nodes this one is leaving, so its entries leave at once rather than after the down
    /// period.
    pub fn shutdown(&self) {
        self.inner.send(&Replication::Down { from: self.inner.me.clone() });
        self.inner.departed.store(true, Ordering::SeqCst);
    }
}

impl fmt::Debug for Presence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presence").field("node", &self.inner.me.node).finish_non_exhaustive()
    }
}

impl Replica {
    fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.topics.values().flatten()
    }

    fn insert(&mut self, entry: Entry) {
        self.topics.entry(entry.topic.clone()).or_default().push(entry);
    }

    fn remove_ref(&mut self, topic: &str, phx_ref: &str) -> Option<Entry> {
        let entries = self.topics.get_mut(topic)?;
        let i = entries.iter().position(|e| e.phx_ref() == phx_ref)?;
        let entry = entries.remove(i);
        if entries.is_empty() {
            self.topics.remove(topic);
        }
        Some(entry)
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn track(&self, owner: u64, topic: &str, key: &str, meta: Map<String, Value>, prev: Option<&str>) -> String {
        let entry = self.entry(owner, topic, key, meta, prev);
        let phx_ref = entry.phx_ref().to_owned();
        self.change(vec![entry], Vec::new());
        phx_ref
    }

    /// A new entry with a fresh `phx_ref` (and `phx_ref_prev` when it replaces one).
    fn entry(&self, owner: u64, topic: &str, key: &str, mut meta: Map<String, Value>, prev: Option<&str>) -> Entry {
        meta.insert("phx_ref".into(), Value::String(self.make_ref()));
        if let Some(prev) = prev {
            meta.insert("phx_ref_prev".into(), Value::String(prev.to_owned()));
        }
        Entry { topic: topic.to_owned(), key: key.to_owned(), meta, owner }
    }

    /// The local entries `pred` selects.
    fn local_entries(&self, pred: impl Fn(&Entry) -> bool) -> Vec<Entry> {
        self.lock().replicas[&self.me].entries().filter(|e| pred(e)).cloned().collect()
    }

    /// Removes the local entries `pred` selects.
    fn remove(&self, pred: impl Fn(&Entry) -> bool) {
        let leaves = self.local_entries(pred);
        if !leaves.is_empty() {
            self.change(Vec::new(), leaves);
        }
    }

    /// Applies a local change, tells this node's subscribers and replicates it.
    fn change(&self, joins: Vec<Entry>, leaves: Vec<Entry>) {
        let clock = {
            let mut state = self.lock();
            let local = state.replicas.get_mut(&self.me).expect("the local replica always exists");
            for leave in &leaves {
                local.remove_ref(&leave.topic, leave.phx_ref());
            }
            for join in &joins {
                local.insert(join.clone());
            }
            local.clock += 1;
            local.clock
        };
        self.broadcast_diffs(&joins, &leaves);
        self.send(&Replication::Delta { from: self.me.clone(), clock, joins, leaves });
    }

    fn receive(&self, msg: Replication) {
        match msg {
            Replication::Delta { from, .. }
            | Replication::Heartbeat { from, .. }
            | Replication::State { from, .. }
            | Replication::Down { from }
                if from == self.me => {}
            Replication::Delta { from, clock, joins, leaves } => {
                let applied = {
                    let mut state = self.lock();
                    match state.replicas.get_mut(&from) {
                        Some(replica) if replica.clock + 1 == clock => {
                            for leave in &leaves {
                                replica.remove_ref(&leave.topic, leave.phx_ref());
                            }
                            for join in &joins {
                                replica.insert(join.clone());
                            }
                            replica.clock = clock;
                            replica.last_seen = Some(Instant::now());
                            true
                        }
                        _ => false,
                    }
                };
                if applied {
                    self.broadcast_diffs(&joins, &leaves);
                } else {
                    self.request_sync(from);
                }
            }
            Replication::Heartbeat { from, clock } => {
                let behind = {
                    let mut state = self.lock();
                    match state.replicas.get_mut(&from) {
                        Some(replica) => {
                            replica.last_seen = Some(Instant::now());
                            replica.clock != clock
                        }
                        None => true,
                    }
                };
                if behind {
                    self.request_sync(from);
                }
            }
            Replication::State { from, clock, entries } => self.replace(from, clock, entries),
            Replication::SyncRequest { to, .. } if to == self.me => {
                let state = self.lock();
                let local = &state.replicas[&self.me];
                let msg = Replication::State {
                    from: self.me.clone(),
                    clock: local.clock,
                    entries: local.entries().cloned().collect(),
                };
                drop(state);
                self.send(&msg);
            }
            Replication::SyncRequest { .. } => {}
            Replication::Down { from } => self.drop_replica(&from),
        }
    }

    /// Replaces a replica's copy with its owner's state, telling subscribers the difference.
    fn replace(&self, from: ReplicaId, clock: u64, entries: Vec<Entry>) {
        let (joins, leaves, stale) = {
            let mut state = self.lock();
            // An older incarnation of the same node is gone for good.
            let stale: Vec<ReplicaId> = state
                .replicas
                .keys()
                .filter(|id| id.node == from.node && id.vsn != from.vsn && **id != self.me)
                .cloned()
                .collect();
            let replica = state.replicas.entry(from).or_default();
            let old: HashMap<&str, &Entry> = replica.entries().map(|e| (e.phx_ref(), e)).collect();
            let new: HashMap<&str, &Entry> = entries.iter().map(|e| (e.phx_ref(), e)).collect();
            let joins: Vec<Entry> = entries.iter().filter(|e| !old.contains_key(e.phx_ref())).cloned().collect();
            let leaves: Vec<Entry> = replica.entries().filter(|e| !new.contains_key(e.phx_ref())).cloned().collect();
            replica.topics.clear();
            for entry in entries {
                replica.insert(entry);
            }
            replica.clock = clock;
            replica.last_seen = Some(Instant::now());
            (joins, leaves, stale)
        };
        self.broadcast_diffs(&joins, &leaves);
        for id in stale {
            self.drop_replica(&id);
        }
    }

    /// Forgets a replica that is down or gone: its entries leave.
    fn drop_replica(&self, id: &ReplicaId) {
        let removed = self.lock().replicas.remove(id);
        if let Some(replica) = removed {
            tracing::info!(node = %id.node, "presence replica down, its entries leave");
            let leaves: Vec<Entry> = replica.entries().cloned().collect();
            self.broadcast_diffs(&[], &leaves);
        }
    }

    fn request_sync(&self, to: ReplicaId) {
        self.send(&Replication::SyncRequest { from: self.me.clone(), to });
    }

    /// Heartbeat, and the down check.
    fn tick(&self) {
        let (clock, down) = {
            let state = self.lock();
            let down: Vec<ReplicaId> = state
                .replicas
                .iter()
                .filter(|(_, r)| r.last_seen.is_some_and(|seen| seen.elapsed() >= self.config.down_period))
                .map(|(id, _)| id.clone())
                .collect();
            (state.replicas[&self.me].clock, down)
        };
        for id in down {
            self.drop_replica(&id);
        }
        self.send(&Replication::Heartbeat { from: self.me.clone(), clock });
    }

    /// Replication goes to the other nodes only: this node's own state needs no message, and a node alone
    /// sends nothing.
    fn send(&self, msg: &Replication) {
        if self.pubsub.is_clustered() && !self.departed.load(Ordering::SeqCst) {
            self.pubsub.publish_remote(Arc::new(Broadcast::new(REPLICATION_TOPIC, "replication", msg)));
        }
    }

    /// Broadcasts `presence_diff` to this node's subscribers of every topic touched.
    fn broadcast_diffs(&self, joins: &[Entry], leaves: &[Entry]) {
        let mut diffs: HashMap<&str, Diff> = HashMap::new();
        for join in joins {
            diffs.entry(&join.topic).or_default().joins.push(join.clone());
        }
        for leave in leaves {
            diffs.entry(&leave.topic).or_default().leaves.push(leave.clone());
        }
        for (topic, diff) in diffs {
            let payload = json!({"joins": group(diff.joins.iter()), "leaves": group(diff.leaves.iter())});
            self.pubsub.local_broadcast(topic, "presence_diff", &payload);
        }
    }

    fn make_ref(&self) -> String {
        // 12 bytes, as Phoenix: time, this replica, a counter; base64url, 16 characters.
        let n = self.next_ref.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&(nanos as u32).to_be_bytes());
        bytes[4..8].copy_from_slice(&(self.me.vsn as u32).to_be_bytes());
        bytes[8..].copy_from_slice(&(n as u32).to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

/// `{key: {"metas": [..]}}` in the order entries come.
fn group<'a>(entries: impl Iterator<Item = &'a Entry>) -> Value {
    let mut out = Map::new();
    for entry in entries {
        let slot = out.entry(entry.key.clone()).or_insert_with(|| json!({"metas": []}));
        if let Some(metas) = slot["metas"].as_array_mut() {
            metas.push(Value::Object(entry.meta.clone()));
        }
    }
    Value::Object(out)
}

fn meta_object(meta: impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(meta) {
        Ok(Value::Object(map)) => map,
        Ok(other) => {
            tracing::warn!(meta = %other, "presence meta is not a JSON object; tracked as {{\"meta\": ..}}");
            Map::from_iter([("meta".to_owned(), other)])
        }
        Err(e) => {
            tracing::warn!("presence meta does not serialize: {e}");
            Map::new()
        }
    }
}

fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    u64::from_le_bytes(bytes)
}

/// An endpoint's tracker, started on first use (inside the runtime, where its task can be spawned).
#[derive(Clone)]
pub(crate) struct PresenceSlot {
    pubsub: PubSub,
    config: PresenceConfig,
    presence: Arc<std::sync::OnceLock<Presence>>,
}

impl PresenceSlot {
    pub(crate) fn new(pubsub: PubSub, config: PresenceConfig) -> Self {
        PresenceSlot { pubsub, config, presence: Arc::default() }
    }

    pub(crate) fn get(&self) -> &Presence {
        self.presence.get_or_init(|| Presence::start(self.pubsub.clone(), self.config.clone()))
    }

    /// The tracker, if anything has used it.
    pub(crate) fn started(&self) -> Option<&Presence> {
        self.presence.get()
    }
}

/// What presence entries are tracked through: a channel's [`ChannelSocket`](crate::channel::ChannelSocket), whose
/// entries leave when the channel ends, whatever ends it.
pub trait PresenceTracker {
    /// The owner handle of what this tracks in `presence`, made on first use.
    fn presence_owner(&mut self, presence: &Presence) -> &PresenceOwner;
}

/// The entries one owner tracks on one topic: a channel holds one, and [`Presence::owner`] makes one for any
/// task. Dropping it untracks them all, as a Phoenix process exiting does.
pub struct PresenceOwner {
    presence: Presence,
    id: u64,
    topic: Box<str>,
}

impl PresenceOwner {
    /// The topic tracked on.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Whether this handle tracks in `presence`.
    pub(crate) fn belongs_to(&self, presence: &Presence) -> bool {
        Arc::ptr_eq(&self.presence.inner, &presence.inner)
    }

    /// Tracks `key` with `meta` until [`untrack`](Self::untrack) or the owner drops; returns the entry's
    /// `phx_ref`. `meta` must serialize to a JSON object.
    pub fn track(&self, key: &str, meta: impl Serialize) -> Result<String, TrackError> {
        let meta = self.entry_meta(key, meta)?;
        Ok(self.presence.inner.track(self.id, &self.topic, key, meta, None))
    }

    /// Replaces the meta of every entry tracked under `key`: clients see the old meta leave and the new one
    /// join, carrying `phx_ref_prev`.
    pub fn update(&self, key: &str, meta: impl Serialize) -> Result<(), TrackError> {
        let (inner, owner, topic) = (&self.presence.inner, self.id, &*self.topic);
        let meta = self.entry_meta(key, meta)?;
        let leaves = inner.local_entries(|e| e.owner == owner && e.topic == topic && e.key == key);
        let joins =
            leaves.iter().map(|prev| inner.entry(owner, topic, key, meta.clone(), Some(prev.phx_ref()))).collect();
        // One change, so clients see the leave and the join in one diff.
        inner.change(joins, leaves);
        Ok(())
    }

    /// `meta` as a JSON object, when it and `key` are within the size limit.
    fn entry_meta(&self, key: &str, meta: impl Serialize) -> Result<Map<String, Value>, TrackError> {
        let meta = meta_object(meta);
        let size = key.len() + serde_json::to_string(&meta).map_or(0, |json| json.len());
        let max = self.presence.inner.config.max_entry_bytes;
        if size > max {
            crate::metrics::metrics().presence_refused.increment(1);
            tracing::warn!(topic = %self.topic, size, max, "presence not tracked: entry too large");
            return Err(TrackError::TooLarge { size, max });
        }
        Ok(meta)
    }

    /// Stops tracking `key`.
    pub fn untrack(&self, key: &str) {
        let (owner, topic) = (self.id, &*self.topic);
        self.presence.inner.remove(|e| e.owner == owner && e.topic == topic && e.key == key);
    }
}

impl Drop for PresenceOwner {
    fn drop(&mut self) {
        let owner = self.id;
        self.presence.inner.remove(|e| e.owner == owner);
    }
}

impl fmt::Debug for PresenceOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresenceOwner").field("topic", &self.topic).finish_non_exhaustive()
    }
}
