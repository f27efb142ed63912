//! One client connection, whatever its transport: control events, routing to channels, and the table of
//! joined channels (Phoenix's `Phoenix.Socket` transport state).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::channel::{ChannelMsg, JoinStart, Tasks, TerminateReason};
use crate::config::SocketConfig;
use crate::outbox::{CloseReason, Outbox};
use crate::payload::Payload;
use crate::presence::PresenceSlot;
use crate::pubsub::{Deliver, Delivery, Outgoing, PubSub, SubscriptionGuard};
use crate::queue::Queue;
use crate::serializer::{Address, Message};
use crate::socket::{Router, Socket};
use crate::state::StateMap;

/// What every connection of one mounted socket handler shares.
pub(crate) struct SocketShared<S> {
    pub router: Router<S>,
    pub pubsub: PubSub,
    pub presence: PresenceSlot,
    pub config: SocketConfig,
    /// The endpoint's app state.
    pub state: StateMap,
}

struct Joined {
    join_ref: Option<Arc<str>>,
    mailbox: Arc<Queue<ChannelMsg>>,
    abort: AbortHandle,
    instance: u64,
}

pub(crate) struct Connection<S: Socket> {
    assigns: Arc<S>,
    outbox: Arc<Outbox>,
    shared: Arc<SocketShared<S>>,
    channels: HashMap<Arc<str>, Joined>,
    /// The channel tasks, which say here when they end.
    tasks: Arc<Tasks>,
    next_instance: u64,
    /// Joins in the current join-rate window, and when that window started.
    joins: (u32, Instant),
    _id: Option<SubscriptionGuard>,
}

impl<S: Socket> Connection<S> {
    pub(crate) fn new(assigns: S, outbox: Arc<Outbox>, shared: Arc<SocketShared<S>>) -> Self {
        let socket_id = |id: String| {
            let delivery = Delivery::Custom(Box::new(SocketId(outbox.clone())));
            shared.pubsub.subscribe_with(&id, delivery)
        };
        let id = assigns.id().map(socket_id);
        Connection {
            assigns: Arc::new(assigns),
            outbox,
            shared,
            channels: HashMap::new(),
            tasks: Arc::default(),
            next_instance: 0,
            joins: (0, Instant::now()),
            _id: id,
        }
    }

    /// The settings of the connection's socket handler.
    pub(crate) fn assigns(&self) -> &S {
        &self.assigns
    }

    pub(crate) fn config(&self) -> &SocketConfig {
        &self.shared.config
    }

    /// The connection's outbound queue.
    pub(crate) fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// Handles one message from the client. Joins complete before the next message is read, as in Phoenix.
    pub(crate) async fn handle(&mut self, msg: Message) {
        crate::metrics::metrics().messages_in.increment(1);
        self.forget_ended();
        if msg.topic == "phoenix" && msg.event == "heartbeat" {
            // Phoenix answers with a null join_ref, whatever the heartbeat carried.
            self.reply(None, &msg, "ok", Payload::empty());
            return;
        }
        if let Some(why) = self.over_limit(&msg) {
            let (topic, event) = (truncated(&msg.topic, LOGGED_NAME_MAX), truncated(&msg.event, LOGGED_NAME_MAX));
            tracing::warn!(%topic, %event, "message refused: {why}");
            // The reply names the topic only as far as the limit: an oversized one is not echoed back whole.
            let topic = truncated(&msg.topic, self.shared.config.max_topic_length);
            let response = reason(why);
            let to = Address { join_ref: msg.join_ref.as_deref(), ref_: msg.ref_.as_deref(), topic };
            self.outbox.send_reply(to, "error", &response);
            return;
        }
        match msg.event.as_str() {
            // Joins are rare and their future is large: boxed, it is not part of every idle connection's state.
            "phx_join" => Box::pin(self.join(msg)).await,
            "phx_leave" => self.leave(msg),
            _ => self.forward(msg).await,
        }
    }

    /// Which configured limit the message breaks, if any.
    fn over_limit(&mut self, msg: &Message) -> Option<&'static str> {
        let config = &self.shared.config;
        if msg.topic.len() > config.max_topic_length {
            return Some("topic too long");
        }
        if msg.event.len() > config.max_event_length {
            return Some("event too long");
        }
        if msg.payload.as_json().is_some_and(|json| json_depth(json) > config.max_payload_depth) {
            return Some("payload too deep");
        }
        if msg.event == "phx_join" {
            let (max, per) = config.join_rate;
            if self.joins.1.elapsed() >= per {
                self.joins = (0, Instant::now());
            }
            self.joins.0 += 1;
            if self.joins.0 > max {
                return Some("join rate exceeded");
            }
        }
        None
    }

    async fn join(&mut self, msg: Message) {
        let Some(route) = self.shared.router.find(&msg.topic) else {
            tracing::warn!(topic = %msg.topic, "join on a topic no channel route matches");
            return self.reply(None, &msg, "error", reason("unmatched topic"));
        };
        let replaces = match self.channels.remove(msg.topic.as_str()) {
            Some(old) => {
                tracing::debug!(topic = %msg.topic, "duplicate join, the joined channel is shut down");
                old.abort.abort();
                old.mailbox.close();
                Some(old.join_ref)
            }
            None if self.channels.len() >= self.shared.config.max_channels => {
                tracing::warn!(topic = %msg.topic, max = self.shared.config.max_channels, "too many channels joined");
                return self.reply(msg.join_ref.as_deref(), &msg, "error", reason("too many channels joined"));
            }
            None => None,
        };
        self.next_instance += 1;
        let topic: Arc<str> = msg.topic.into();
        let join_ref: Option<Arc<str>> = msg.join_ref.map(Into::into);
        let started = route.start(JoinStart {
            topic: topic.clone(),
            join_ref: join_ref.clone(),
            ref_: msg.ref_.map(Into::into),
            payload: msg.payload,
            assigns: self.assigns.clone(),
            outbox: self.outbox.clone(),
            pubsub: self.shared.pubsub.clone(),
            presence: self.shared.presence.clone(),
            state: self.shared.state.clone(),
            running: self.tasks.start(topic.clone(), self.next_instance),
            replaces,
            mailbox_capacity: self.shared.config.mailbox_capacity,
        });
        // A task that ends without answering was aborted: count it as not joined.
        if started.joined.await.unwrap_or(false) {
            let joined =
                Joined { join_ref, mailbox: started.mailbox, abort: started.abort, instance: self.next_instance };
            self.channels.insert(topic, joined);
        }
    }

    fn leave(&mut self, msg: Message) {
        match self.channels.get(msg.topic.as_str()) {
            Some(joined) if matches_join_ref(&msg, joined) => {
                let joined = self.channels.remove(msg.topic.as_str()).expect("just found");
                joined.mailbox.force_push(ChannelMsg::Leave { ref_: msg.ref_.map(Into::into) });
            }
            Some(_) => tracing::debug!(topic = %msg.topic, "leave with a stale join_ref ignored"),
            None => self.reply(msg.join_ref.as_deref(), &msg, "ok", Payload::empty()),
        }
    }

    async fn forward(&mut self, msg: Message) {
        match self.channels.get(msg.topic.as_str()) {
            Some(joined) if matches_join_ref(&msg, joined) => {
                let mailbox = joined.mailbox.clone();
                let event = ChannelMsg::In { event: msg.event, payload: msg.payload, ref_: msg.ref_.map(Into::into) };
                // Waiting here when the channel is behind slows only this client's reading.
                if mailbox.push(event).await.is_err() {
                    tracing::debug!(topic = %msg.topic, "message for a channel that just ended dropped");
                }
            }
            Some(_) => tracing::debug!(topic = %msg.topic, event = %msg.event, "message with a stale join_ref dropped"),
            None => {
                tracing::debug!(topic = %msg.topic, event = %msg.event, "message on a topic not joined");
                self.reply(None, &msg, "error", reason("unmatched topic"));
            }
        }
    }

    /// Forgets the channels whose tasks ended, unless their topic was joined again since.
    fn forget_ended(&mut self) {
        for (topic, instance) in self.tasks.take_ended() {
            if self.channels.get(&topic).is_some_and(|j| j.instance == instance) {
                self.channels.remove(&topic);
            }
        }
    }

    /// Ends every channel; their `terminate` runs with `reason`.
    pub(crate) fn close(&mut self, reason: TerminateReason) {
        for (_, joined) in self.channels.drain() {
            joined.mailbox.force_push(ChannelMsg::Close(reason.clone()));
        }
    }

    /// Resolves once every channel task of this connection has ended, and so has queued all it will send.
    pub(crate) async fn channels_ended(&self) {
        self.tasks.all_ended().await
    }

    fn reply(&self, join_ref: Option<&str>, msg: &Message, status: &str, response: Payload) {
        let to = Address { join_ref, ref_: msg.ref_.as_deref(), topic: &msg.topic };
        self.outbox.send_reply(to, status, &response);
    }
}

impl<S: Socket> Drop for Connection<S> {
    fn drop(&mut self) {
        self.close(TerminateReason::Closed);
    }
}

/// A connection subscribed to its socket id: a `disconnect` broadcast there closes it.
struct SocketId(Arc<Outbox>);

impl Deliver for SocketId {
    fn deliver(&self, outgoing: &mut Outgoing<'_>) {
        if outgoing.broadcast().event == "disconnect" {
            self.0.shut(CloseReason::Disconnect);
        }
    }
}

/// A message addresses the joined incarnation when its join_ref is null or equal to the channel's.
fn matches_join_ref(msg: &Message, joined: &Joined) -> bool {
    msg.join_ref.is_none() || msg.join_ref.as_deref() == joined.join_ref.as_deref()
}

/// The nesting depth of a JSON text: how many arrays and objects enclose its innermost value.
fn json_depth(json: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in json.bytes() {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (true, false, _) => {}
            (false, _, b'"') => in_string = true,
            (false, _, b'[' | b'{') => {
                depth += 1;
                max = max.max(depth);
            }
            (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// How much of a refused topic or event name the log shows.
const LOGGED_NAME_MAX: usize = 64;

/// `name` cut to at most `max` bytes (on a character boundary), so a hostile one cannot flood a log or a reply.
fn truncated(name: &str, max: usize) -> &str {
    let mut end = name.len().min(max);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

fn reason(reason: &str) -> Payload {
    Payload::json(&json!({ "reason": reason }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_json_depth() {
        assert_eq!(json_depth("1"), 0);
        assert_eq!(json_depth("{}"), 1);
        assert_eq!(json_depth(r#"{"a":[1,{"b":[]}],"c":{}}"#), 4);
        assert_eq!(json_depth(r#"{"a":"[[[[{{{\"]]"}"#), 1);
        assert_eq!(json_depth(&format!("{}{}", "[".repeat(100), "]".repeat(100))), 100);
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncated("short", 64), "short");
        let long = "é".repeat(100);
        assert!(truncated(&long, 64).len() <= 64 && long.starts_with(truncated(&long, 64)));
    }
}
