//! The task that runs one joined channel (Phoenix's `Channel.Server`), and the record of a connection's channel
//! tasks that tells the connection when one ends.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::task::AtomicWaker;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

use super::{Channel, ChannelMsg, ChannelSocket, HandleResult, JoinResult, OutResult, Reply, TerminateReason};
use crate::outbox::Outbox;
use crate::panic::{catch_unwind, panic_message};
use crate::payload::Payload;
use crate::presence::PresenceSlot;
use crate::pubsub::{Broadcast, Delivery, Intercept, PubSub};
use crate::queue::{PushError, Queue};
use crate::serializer::Address;
use crate::state::StateMap;

/// Everything a channel task needs to join.
pub(crate) struct JoinStart<S> {
    pub topic: Arc<str>,
    pub join_ref: Option<Arc<str>>,
    pub ref_: Option<Arc<str>>,
    pub payload: Payload,
    pub assigns: Arc<S>,
    pub outbox: Arc<Outbox>,
    pub pubsub: PubSub,
    pub presence: PresenceSlot,
    pub state: StateMap,
    /// Tells the connection when this task has ended.
    pub running: Running,
    /// When this join replaces a joined channel on the same topic: that channel's join_ref, closed after the
    /// new join's reply, as Phoenix orders it.
    pub replaces: Option<Option<Arc<str>>>,
    pub mailbox_capacity: usize,
}

/// A started channel task, joining.
pub(crate) struct Started {
    pub mailbox: Arc<Queue<ChannelMsg>>,
    /// Resolves to whether the join succeeded, once its reply is queued.
    pub joined: oneshot::Receiver<bool>,
    pub abort: AbortHandle,
}

/// Spawns the task of a channel of type `C`.
pub(crate) fn start<C: Channel>(start: JoinStart<C::Socket>) -> Started {
    let mailbox = Arc::new(Queue::new(start.mailbox_capacity));
    let (tx, joined) = oneshot::channel();
    let task = tokio::spawn(run::<C>(start, mailbox.clone(), tx));
    Started { mailbox, joined, abort: task.abort_handle() }
}

async fn run<C: Channel>(start: JoinStart<C::Socket>, mailbox: Arc<Queue<ChannelMsg>>, joined: oneshot::Sender<bool>) {
    let JoinStart {
        topic, join_ref, ref_, payload, assigns, outbox, pubsub, presence, state, running, replaces, ..
    } = start;
    let mut socket = ChannelSocket::<C> {
        topic: topic.clone(),
        join_ref: join_ref.clone().or_else(|| ref_.clone()),
        client_join_ref: join_ref,
        ref_: ref_.clone(),
        assigns,
        outbox: outbox.clone(),
        pubsub: pubsub.clone(),
        subscription: None,
        mailbox: mailbox.clone(),
        deferred: Mutex::new(Some(Vec::new())),
        presence_slot: presence,
        presence: None,
        state,
        _info: PhantomData,
    };
    let joining = catch_unwind(C::join(&topic, payload, &mut socket)).await;
    socket.ref_ = None;
    let (mut channel, response) = match joining {
        Ok(JoinResult::Ok(channel, response)) => (channel, response),
        Ok(JoinResult::Error(response)) => {
            tracing::info!(topic = %topic, response = ?response, "join refused");
            socket.reply_to_join(ref_.as_deref(), &Reply::error(response));
            return join_failed(&socket, replaces, joined);
        }
        Err(panic) => {
            tracing::error!(topic = %topic, panic = panic_message(&panic), "join crashed");
            socket.reply_to_join(ref_.as_deref(), &Reply::error(serde_json::json!({"reason": "join crashed"})));
            return join_failed(&socket, replaces, joined);
        }
    };
    let delivery =
        Delivery::Fastlane { outbox: outbox.clone(), intercepts: C::INTERCEPTS, handle_out: mailbox.clone() };
    let subscription = pubsub.subscribe_with(&topic, delivery);
    socket.subscription = Some(subscription.id());
    socket.reply_to_join(ref_.as_deref(), &Reply::ok(response));
    close_replaced(&socket, replaces);
    let deferred = socket.deferred.get_mut().unwrap_or_else(|e| e.into_inner()).take().unwrap_or_default();
    for frame in deferred {
        outbox.push(frame);
    }
    tracing::debug!(topic = %topic, join_ref = ?socket.join_ref, "joined");
    let _ = joined.send(true);
    let metrics = crate::metrics::metrics();
    metrics.joined.increment(1.0);

    match catch_unwind(serve(&mut channel, &mut socket)).await {
        Ok(reason) => {
            match &reason {
                TerminateReason::Left => send_control(&socket, "phx_close", Payload::empty()),
                TerminateReason::Stopped(stop) if stop.is_normal() => {
                    send_control(&socket, "phx_close", Payload::empty())
                }
                TerminateReason::Stopped(stop) => {
                    metrics.crashes.increment(1);
                    tracing::warn!(topic = %topic, reason = ?stop, "channel stopped abnormally");
                    send_control(&socket, "phx_error", crash_payload());
                }
                // The connection is closing: nobody to tell.
                TerminateReason::Closed | TerminateReason::Shutdown => {}
            }
            terminate(&mut channel, &mut socket, reason).await;
        }
        Err(panic) => {
            metrics.crashes.increment(1);
            tracing::error!(topic = %topic, panic = panic_message(&panic), "channel crashed");
            send_control(&socket, "phx_error", crash_payload());
        }
    }
    metrics.joined.decrement(1.0);
    drop(subscription);
    mailbox.close();
    mailbox.clear();
    // Last: whatever this channel sent is queued by now.
    drop(running);
}

/// Handles the mailbox until the channel ends.
async fn serve<C: Channel>(channel: &mut C, socket: &mut ChannelSocket<C>) -> TerminateReason {
    while let Some(msg) = socket.mailbox.recv().await {
        match msg {
            ChannelMsg::In { event, payload, ref_ } => {
                socket.ref_ = ref_;
                let result = channel.handle_in(&event, payload, socket).await;
                let ref_ = socket.ref_.take();
                match result {
                    HandleResult::NoReply => {}
                    HandleResult::Reply(reply) => socket.reply(ref_.as_deref(), &reply),
                    HandleResult::Stop { reason, reply } => {
                        if let Some(reply) = reply {
                            socket.reply(ref_.as_deref(), &reply);
                        }
                        return TerminateReason::Stopped(reason);
                    }
                }
            }
            ChannelMsg::Leave { ref_ } => {
                socket.reply(ref_.as_deref(), &Reply::ok(Payload::empty()));
                return TerminateReason::Left;
            }
            ChannelMsg::Out(broadcast) => {
                if let OutResult::Stop(reason) = channel.handle_out(&broadcast.event, &broadcast.payload, socket).await
                {
                    return TerminateReason::Stopped(reason);
                }
            }
            ChannelMsg::Info(info) => {
                // Only ChannelHandle<C::Info> pushes Info into this mailbox.
                let Ok(info) = info.downcast::<C::Info>() else { continue };
                if let OutResult::Stop(reason) = channel.handle_info(*info, socket).await {
                    return TerminateReason::Stopped(reason);
                }
            }
            ChannelMsg::Close(reason) => return reason,
        }
    }
    TerminateReason::Closed
}

async fn terminate<C: Channel>(channel: &mut C, socket: &mut ChannelSocket<C>, reason: TerminateReason) {
    if let Err(panic) = catch_unwind(channel.terminate(&reason, socket)).await {
        tracing::error!(topic = socket.topic(), panic = panic_message(&panic), "terminate crashed");
    }
}

fn join_failed<C: Channel>(
    socket: &ChannelSocket<C>,
    replaces: Option<Option<Arc<str>>>,
    joined: oneshot::Sender<bool>,
) {
    close_replaced(socket, replaces);
    socket.mailbox.close();
    let _ = joined.send(false);
}

/// Tells the client the channel this join replaced is closed.
fn close_replaced<C: Channel>(socket: &ChannelSocket<C>, replaces: Option<Option<Arc<str>>>) {
    if let Some(old) = replaces {
        let old = old.as_deref();
        let to = Address { join_ref: old, ref_: old, topic: &socket.topic };
        socket.outbox.send_message(to, "phx_close", &Payload::empty());
    }
}

/// `phx_close` and `phx_error` carry the join_ref as the client sent it, as their ref too.
fn send_control<C: Channel>(socket: &ChannelSocket<C>, event: &str, payload: Payload) {
    let join_ref = socket.client_join_ref.as_deref();
    socket.outbox.send_message(Address { join_ref, ref_: join_ref, topic: &socket.topic }, event, &payload);
}

fn crash_payload() -> Payload {
    Payload::json(&serde_json::json!({"reason": "channel_crash"}))
}

/// Intercepted broadcasts reach the channel's task, for its `handle_out`; a full mailbox drops them for this
/// channel alone.
impl Intercept for Queue<ChannelMsg> {
    fn intercept(&self, broadcast: &Arc<Broadcast>) {
        if let Err(PushError::Full(_)) = self.try_push(ChannelMsg::Out(broadcast.clone())) {
            crate::metrics::metrics().pubsub_dropped.increment(1);
            tracing::warn!(topic = %broadcast.topic, event = %broadcast.event,
                "channel mailbox full, intercepted broadcast dropped");
        }
    }
}

/// The channel tasks of one connection: how many run, and which ended since the connection last looked. Tasks
/// report here rather than through the outbox, so writers carry frames only.
#[derive(Default)]
pub(crate) struct Tasks {
    state: Mutex<TasksState>,
    /// Set when `ended` has entries, so the connection's per-message look costs no lock.
    any_ended: AtomicBool,
    /// The connection, waiting for every task to end (at shutdown).
    all_ended: AtomicWaker,
}

#[derive(Default)]
struct TasksState {
    running: usize,
    ended: Vec<(Arc<str>, u64)>,
}

impl Tasks {
    fn lock(&self) -> std::sync::MutexGuard<'_, TasksState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts the task of incarnation `instance` on `topic` as running until the returned value drops.
    pub(crate) fn start(self: &Arc<Self>, topic: Arc<str>, instance: u64) -> Running {
        self.lock().running += 1;
        Running { tasks: self.clone(), topic, instance }
    }

    /// The `(topic, instance)` of every task that ended since the last call.
    pub(crate) fn take_ended(&self) -> Vec<(Arc<str>, u64)> {
        if self.any_ended.swap(false, Ordering::Acquire) { std::mem::take(&mut self.lock().ended) } else { Vec::new() }
    }

    /// Resolves once no task runs.
    pub(crate) async fn all_ended(&self) {
        std::future::poll_fn(|cx| {
            self.all_ended.register(cx.waker());
            if self.lock().running == 0 { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
        })
        .await
    }
}

/// One running channel task; dropping it (the task ended, crashed or was aborted) tells its connection.
pub(crate) struct Running {
    tasks: Arc<Tasks>,
    topic: Arc<str>,
    instance: u64,
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut state = self.tasks.lock();
        state.running -= 1;
        state.ended.push((self.topic.clone(), self.instance));
        let none_left = state.running == 0;
        drop(state);
        self.tasks.any_ended.store(true, Ordering::Release);
        if none_left {
            self.tasks.all_ended.wake();
        }
    }
}
