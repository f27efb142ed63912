//! The loop every transport runs a connection with: frames out, messages in, the idle deadline, the server's
//! close requests and the shutdown drain, written once. A transport says only how frames travel.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::{Instant, sleep_until, timeout};

use crate::channel::TerminateReason;
use crate::connection::Connection;
use crate::lifecycle::Lifecycle;
use crate::outbox::CloseReason;
use crate::queue::{Taken, recycle};
use crate::serializer::{Frame, Message};
use crate::socket::Socket;

/// How long channels may take to end at shutdown, and a closing handshake to finish.
pub(crate) const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The client has gone: its connection failed or it closed it.
pub(crate) struct Gone;

/// What a transport received from its client.
pub(crate) enum Inbound {
    /// One message.
    Message(Message),
    /// Messages to handle in order, then acknowledge (a LongPoll POST waits for it).
    Batch(Vec<Message>, oneshot::Sender<()>),
    /// The client sent something the connection cannot go on after.
    Refused(CloseReason),
    /// The client closed, or the connection failed.
    Gone,
}

/// How frames travel between a client and its connection.
pub(crate) trait Transport: Send {
    /// Writes every frame in `frames` (leaving it empty) or fails because the client has gone. May wait on a
    /// client that does not read; the driver stops waiting when the server closes the connection.
    fn send(&mut self, frames: &mut VecDeque<Frame>) -> impl Future<Output = Result<(), Gone>> + Send;

    /// The next thing the client sent.
    fn recv(&mut self) -> impl Future<Output = Inbound> + Send;

    /// When the client counts as idle if nothing happens before: `None` when it is idle now.
    fn idle_deadline(&self, now: Instant) -> Option<Instant>;

    /// The client's address, for logs.
    fn peer(&self) -> SocketAddr;

    /// Ends the transport; `reason` is why the server closes it, `None` when the client has gone.
    fn close(self, reason: Option<CloseReason>) -> impl Future<Output = ()> + Send;
}

/// Runs `connection` over `transport` until either side ends it, then closes both.
pub(crate) async fn drive<S: Socket, T: Transport>(
    mut transport: T,
    mut connection: Connection<S>,
    lifecycle: Lifecycle,
) {
    let outbox = connection.outbox().clone();
    let mut batch = VecDeque::new();
    // One timer for both deadlines (idle, and this connection's drain turn at shutdown), and the two close
    // signals made once: this loop wakes for every frame written, so each wake-up must stay cheap.
    let mut drain_at: Option<Instant> = None;
    let now = Instant::now();
    let mut timer = pin!(sleep_until(transport.idle_deadline(now).unwrap_or(now)));
    let mut shutting_down = pin!(lifecycle.shutting_down());
    let mut shut = pin!(outbox.shut_down());
    let reason = loop {
        if let Some(at) = drain_at.filter(|at| *at < timer.deadline()) {
            timer.as_mut().reset(at);
        }
        tokio::select! {
            biased;
            () = &mut shutting_down, if drain_at.is_none() => {
                drain_at = Some(Instant::now() + lifecycle.drain_delay());
            }
            open = outbox.recv_all(&mut batch) => {
                if let Some(reason) = outbox.close_reason() {
                    break Some(reason);
                }
                if !open {
                    break None;
                }
                let bytes = batch.iter().map(Frame::len).sum();
                let written = {
                    let mut send = pin!(transport.send(&mut batch));
                    match poll_once(send.as_mut()).await {
                        Some(result) => Ok(result),
                        // The client's socket is full. Rare, so its wait is boxed, out of every connection's state.
                        None => {
                            let timeout = connection.config().write_timeout;
                            let wait = Writing { drain_at: &mut drain_at, lifecycle: &lifecycle, timeout };
                            Box::pin(wait.finish(send, shut.as_mut(), shutting_down.as_mut())).await
                        }
                    }
                };
                match written {
                    Ok(Ok(())) => {
                        outbox.written(bytes);
                        recycle(&mut batch);
                    }
                    Ok(Err(Gone)) => break None,
                    Err(reason) => break Some(reason),
                }
            }
            inbound = transport.recv() => match inbound {
                Inbound::Message(msg) => connection.handle(msg).await,
                Inbound::Batch(messages, dispatched) => {
                    for msg in messages {
                        connection.handle(msg).await;
                    }
                    let _ = dispatched.send(());
                }
                Inbound::Refused(reason) => break Some(reason),
                Inbound::Gone => break None,
            },
            () = &mut timer => {
                let now = Instant::now();
                if drain_at.is_some_and(|at| at <= now) {
                    break Some(CloseReason::Shutdown);
                }
                let Some(next) = transport.idle_deadline(now) else { break Some(CloseReason::IdleTimeout) };
                timer.as_mut().reset(drain_at.map_or(next, |at| at.min(next)));
            }
        }
    };
    // The ending is rare and has futures of its own: kept out of the state every open connection holds.
    Box::pin(finish(transport, connection, batch, reason)).await;
}

/// Polls `fut` once: its output if it is ready at once.
async fn poll_once<F: Future>(fut: Pin<&mut F>) -> Option<F::Output> {
    let mut fut = Some(fut);
    poll_fn(|cx| {
        Poll::Ready(fut.take().and_then(|f| match f.poll(cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        }))
    })
    .await
}

/// A write the client has not taken yet.
struct Writing<'a> {
    drain_at: &'a mut Option<Instant>,
    lifecycle: &'a Lifecycle,
    timeout: Duration,
}

impl Writing<'_> {
    /// Waits for `send` to finish, unless a close request (`shut`), the write timeout or this connection's drain
    /// turn comes first: a client that stopped reading must not hold its connection open.
    async fn finish(
        self,
        mut send: Pin<&mut impl Future<Output = Result<(), Gone>>>,
        mut shut: Pin<&mut impl Future<Output = CloseReason>>,
        mut shutting_down: Pin<&mut impl Future<Output = ()>>,
    ) -> Result<Result<(), Gone>, CloseReason> {
        let write_deadline = Instant::now() + self.timeout;
        loop {
            let deadline = self.drain_at.map_or(write_deadline, |at| at.min(write_deadline));
            tokio::select! {
                biased;
                reason = &mut shut => return Err(reason),
                result = &mut send => return Ok(result),
                () = &mut shutting_down, if self.drain_at.is_none() => {
                    *self.drain_at = Some(Instant::now() + self.lifecycle.drain_delay());
                }
                () = sleep_until(deadline) => {
                    crate::metrics::metrics().slow_clients.increment(1);
                    return Err(CloseReason::WriteTimeout);
                }
            }
        }
    }
}

/// Ends the channels and the transport. At shutdown the channels terminate first and finish what they were
/// doing: their last replies still go out before the close.
async fn finish<S: Socket, T: Transport>(
    mut transport: T,
    mut connection: Connection<S>,
    mut batch: VecDeque<Frame>,
    reason: Option<CloseReason>,
) {
    let peer = transport.peer();
    match reason {
        // Routine, and one per abandoned LongPoll session: not worth the info log.
        Some(CloseReason::IdleTimeout) => tracing::debug!(%peer, "closing idle connection"),
        Some(reason) => tracing::info!(%peer, reason = reason.as_str(), "closing connection"),
        None => {}
    }
    let outbox = connection.outbox().clone();
    if reason == Some(CloseReason::Shutdown) {
        connection.close(TerminateReason::Shutdown);
        let flushed = flush_channels(&mut transport, &connection, &mut batch);
        if timeout(CLOSE_TIMEOUT, flushed).await.is_err() {
            tracing::warn!(%peer, "channels did not end in time during shutdown");
        }
    }
    outbox.close();
    connection.close(TerminateReason::Closed);
    transport.close(reason).await;
}

/// Writes what the channels send until every one of them has ended.
async fn flush_channels<S: Socket, T: Transport>(
    transport: &mut T,
    connection: &Connection<S>,
    batch: &mut VecDeque<Frame>,
) {
    let outbox = connection.outbox();
    let mut ended = pin!(connection.channels_ended());
    loop {
        tokio::select! {
            biased;
            open = outbox.recv_all(batch) => {
                if !open || transport.send(batch).await.is_err() {
                    return;
                }
            }
            () = &mut ended => break,
        }
    }
    // What the last task queued just before it ended.
    if outbox.take_all(batch) == Taken::Some {
        let _ = transport.send(batch).await;
    }
}
