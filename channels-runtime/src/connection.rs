//! One client connection, whatever its transport: control events, routing to channels, and the table of
//! joined channels (Phoenix's `Phoenix.Socket` transport state).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;
use tokio::task::AbortHandle;

use crate::channel::{ChannelMsg, JoinStart, TerminateReason};
use crate::config::SocketConfig;
use crate::outbox::Outbox;
use crate::payload::Payload;
use crate::presence::PresenceSlot;
use crate::pubsub::{Delivery, PubSub, SubscriptionGuard};
use crate::queue::Queue;
use crate::serializer::Message;
use crate::socket::{Router, Socket};

/// What every connection of one mounted socket handler shares.
pub(crate) struct SocketShared<S> {
    pub router: Router<S>,
    pub pubsub: PubSub,
    pub presence: PresenceSlot,
    pub config: SocketConfig,
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
    next_instance: u64,
    _id: Option<SubscriptionGuard>,
}

impl<S: Socket> Connection<S> {
    pub(crate) fn new(assigns: S, outbox: Arc<Outbox>, shared: Arc<SocketShared<S>>) -> Self {
        let id =
            assigns.id().map(|id| shared.pubsub.subscribe_with(&id, Delivery::SocketId { outbox: outbox.clone() }));
        Connection { assigns: Arc::new(assigns), outbox, shared, channels: HashMap::new(), next_instance: 0, _id: id }
    }

    /// Handles one message from the client. Joins complete before the next message is read, as in Phoenix.
    pub(crate) async fn handle(&mut self, msg: Message) {
        if msg.topic == "phoenix" && msg.event == "heartbeat" {
            self.reply(msg.join_ref.as_deref(), &msg, "ok", Payload::empty());
            return;
        }
        match msg.event.as_str() {
            "phx_join" => self.join(msg).await,
            "phx_leave" => self.leave(msg),
            _ => self.forward(msg).await,
        }
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
            instance: self.next_instance,
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

    /// A channel task ended: forget it unless the topic was joined again since.
    pub(crate) fn channel_exited(&mut self, topic: &str, instance: u64) {
        if self.channels.get(topic).is_some_and(|j| j.instance == instance) {
            self.channels.remove(topic);
        }
    }

    /// Ends every channel; their `terminate` runs with `reason`.
    pub(crate) fn close(&mut self, reason: TerminateReason) {
        for (_, joined) in self.channels.drain() {
            joined.mailbox.force_push(ChannelMsg::Close(reason.clone()));
        }
    }

    fn reply(&self, join_ref: Option<&str>, msg: &Message, status: &str, response: Payload) {
        self.outbox.send_reply(join_ref, msg.ref_.as_deref(), &msg.topic, status, &response);
    }
}

impl<S: Socket> Drop for Connection<S> {
    fn drop(&mut self) {
        self.close(TerminateReason::Closed);
    }
}

/// A message addresses the joined incarnation when its join_ref is null or equal to the channel's.
fn matches_join_ref(msg: &Message, joined: &Joined) -> bool {
    msg.join_ref.is_none() || msg.join_ref.as_deref() == joined.join_ref.as_deref()
}

fn reason(reason: &str) -> Payload {
    Payload::json(&json!({ "reason": reason }))
}
