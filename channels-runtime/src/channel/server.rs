//! The task that runs one joined channel (Phoenix's `Channel.Server`).

use std::any::Any;
use std::future::{Future, poll_fn};
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use tokio::task::AbortHandle;

use super::{
    Channel, ChannelMsg, ChannelSocket, HandleResult, JoinResult, OutResult, Reply, StopReason, TerminateReason,
};
use crate::outbox::{Out, Outbox};
use crate::payload::Payload;
use crate::presence::PresenceSlot;
use crate::pubsub::{Delivery, PubSub};
use crate::queue::Queue;

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
    /// Identifies this incarnation in the connection's exit notices.
    pub instance: u64,
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

enum Exit {
    Left,
    Stopped(StopReason),
    Closed(TerminateReason),
}

async fn run<C: Channel>(start: JoinStart<C::Socket>, mailbox: Arc<Queue<ChannelMsg>>, joined: oneshot::Sender<bool>) {
    let JoinStart { topic, join_ref, ref_, payload, assigns, outbox, pubsub, presence, instance, replaces, .. } = start;
    let mut socket = ChannelSocket::<C> {
        topic: topic.clone(),
        join_ref,
        ref_: ref_.clone(),
        assigns,
        outbox: outbox.clone(),
        pubsub: pubsub.clone(),
        subscription: None,
        mailbox: mailbox.clone(),
        deferred: Mutex::new(Some(Vec::new())),
        presence_slot: presence,
        presence: None,
        _info: PhantomData,
    };
    let joining = catch_unwind(C::join(&topic, payload, &mut socket)).await;
    socket.ref_ = None;
    let (mut channel, response) = match joining {
        Ok(JoinResult::Ok(channel, response)) => (channel, response),
        Ok(JoinResult::Error(response)) => {
            tracing::info!(topic = %topic, response = ?response, "join refused");
            socket.reply(ref_.as_deref(), &Reply::error(response));
            return join_failed(&socket, replaces, joined);
        }
        Err(panic) => {
            tracing::error!(topic = %topic, panic = panic_message(&panic), "join crashed");
            socket.reply(ref_.as_deref(), &Reply::error(serde_json::json!({"reason": "join crashed"})));
            return join_failed(&socket, replaces, joined);
        }
    };
    let delivery = Delivery::Channel { outbox: outbox.clone(), intercepts: C::INTERCEPTS, mailbox: mailbox.clone() };
    let subscription = pubsub.subscribe_with(&topic, delivery);
    socket.subscription = Some(subscription.id());
    socket.reply(ref_.as_deref(), &Reply::ok(response));
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
        Ok(Exit::Left) => {
            send_control(&socket, "phx_close", Payload::empty());
            terminate(&mut channel, &mut socket, TerminateReason::Left).await;
        }
        Ok(Exit::Stopped(reason)) => {
            if reason.is_normal() {
                send_control(&socket, "phx_close", Payload::empty());
            } else {
                metrics.crashes.increment(1);
                tracing::warn!(topic = %topic, reason = ?reason, "channel stopped abnormally");
                send_control(&socket, "phx_error", crash_payload());
            }
            terminate(&mut channel, &mut socket, TerminateReason::Stopped(reason)).await;
        }
        Ok(Exit::Closed(reason)) => terminate(&mut channel, &mut socket, reason).await,
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
    outbox.notify(Out::ChannelExit { topic, instance });
}

/// Handles the mailbox until the channel ends.
async fn serve<C: Channel>(channel: &mut C, socket: &mut ChannelSocket<C>) -> Exit {
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
                        return Exit::Stopped(reason);
                    }
                }
            }
            ChannelMsg::Leave { ref_ } => {
                socket.reply(ref_.as_deref(), &Reply::ok(Payload::empty()));
                return Exit::Left;
            }
            ChannelMsg::Out(broadcast) => {
                if let OutResult::Stop(reason) = channel.handle_out(&broadcast.event, &broadcast.payload, socket).await
                {
                    return Exit::Stopped(reason);
                }
            }
            ChannelMsg::Info(info) => {
                // Only ChannelHandle<C::Info> pushes Info into this mailbox.
                let Ok(info) = info.downcast::<C::Info>() else { continue };
                if let OutResult::Stop(reason) = channel.handle_info(*info, socket).await {
                    return Exit::Stopped(reason);
                }
            }
            ChannelMsg::Close(reason) => return Exit::Closed(reason),
        }
    }
    Exit::Closed(TerminateReason::Closed)
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
        socket.outbox.send_message(old, old, &socket.topic, "phx_close", &Payload::empty());
    }
}

/// `phx_close` and `phx_error` carry the join_ref as their ref.
fn send_control<C: Channel>(socket: &ChannelSocket<C>, event: &str, payload: Payload) {
    let join_ref = socket.join_ref();
    socket.outbox.send_message(join_ref, join_ref, &socket.topic, event, &payload);
}

fn crash_payload() -> Payload {
    Payload::json(&serde_json::json!({"reason": "channel_crash"}))
}

/// Runs `fut`, turning a panic in any of its polls into an error.
pub(crate) async fn catch_unwind<F: Future>(fut: F) -> Result<F::Output, Box<dyn Any + Send>> {
    let mut fut = pin!(fut);
    poll_fn(|cx| match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
        Ok(poll) => poll.map(Ok),
        Err(panic) => std::task::Poll::Ready(Err(panic)),
    })
    .await
}

pub(crate) fn panic_message(panic: &Box<dyn Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic)")
}
