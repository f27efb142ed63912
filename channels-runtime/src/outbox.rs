//! The outbound side of one connection: the frames for its client, queued by its channel tasks and by PubSub, and
//! the reason the server closes it.

use std::collections::VecDeque;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;

use crate::config::SocketConfig;
use crate::payload::Payload;
use crate::queue::{PushError, Queue, Taken};
use crate::serializer::{Address, Frame, Serializer};

/// Why the server ends a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// A `disconnect` broadcast to the socket id: close code 1001, so the client reconnects.
    Disconnect,
    /// The outbox filled up: the client does not read fast enough.
    SlowClient,
    /// The server is shutting down: close code 1012, so the client reconnects elsewhere.
    Shutdown,
    /// The client sent a frame that does not decode (Phoenix's transport crashes on one): close code 1011.
    MalformedFrame,
    /// The client sent a frame over the size limit: close code 1009.
    FrameTooBig,
    /// A write to the client did not finish in time: it stopped reading. Its socket is full, so no close frame.
    WriteTimeout,
    /// The client sent nothing, not even a heartbeat, for the idle timeout: close code 1000.
    IdleTimeout,
    /// The client broke the WebSocket protocol (reserved bits, an unmasked frame, a bad opcode, a control frame
    /// over 125 bytes): close code 1002.
    ProtocolError,
    /// The client sent a text frame that is not UTF-8: close code 1007.
    InvalidUtf8,
}

impl CloseReason {
    pub(crate) fn code(self) -> u16 {
        match self {
            CloseReason::Disconnect => 1001,
            CloseReason::SlowClient => 1008,
            CloseReason::Shutdown => 1012,
            CloseReason::MalformedFrame => 1011,
            CloseReason::FrameTooBig => 1009,
            CloseReason::WriteTimeout => 1008,
            CloseReason::IdleTimeout => 1000,
            CloseReason::ProtocolError => 1002,
            CloseReason::InvalidUtf8 => 1007,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CloseReason::Disconnect => "disconnect",
            CloseReason::SlowClient => "slow client",
            CloseReason::Shutdown => "server shutdown",
            CloseReason::MalformedFrame => "malformed frame",
            CloseReason::FrameTooBig => "message too big",
            CloseReason::WriteTimeout => "write timeout",
            CloseReason::IdleTimeout => "idle timeout",
            CloseReason::ProtocolError => "protocol error",
            CloseReason::InvalidUtf8 => "invalid UTF-8",
        }
    }
}

/// A connection's outbound queue, shared by its channel tasks and by PubSub; bounded in frames and in bytes.
pub(crate) struct Outbox {
    queue: Queue<Frame>,
    pub(crate) serializer: Serializer,
    max_bytes: usize,
    /// Bytes queued or being written, not yet taken by the client.
    unwritten: AtomicUsize,
    close_reason: OnceLock<CloseReason>,
    shut: Notify,
}

impl Outbox {
    /// An outbox within `config`'s bounds in frames and bytes (a larger frame still goes alone).
    pub(crate) fn new(serializer: Serializer, config: &SocketConfig) -> Arc<Self> {
        Arc::new(Outbox {
            queue: Queue::new(config.outbox_capacity),
            serializer,
            max_bytes: config.max_outbox_bytes,
            unwritten: AtomicUsize::new(0),
            close_reason: OnceLock::new(),
            shut: Notify::new(),
        })
    }

    /// Queues a frame. A full outbox means the client cannot keep up: the connection is shut instead of
    /// slowing the sender or growing without bound.
    pub(crate) fn push(&self, frame: Frame) -> bool {
        let len = frame.len();
        let before = self.unwritten.fetch_add(len, Ordering::Relaxed);
        let pushed = if before > 0 && before + len > self.max_bytes {
            Err(PushError::Full(frame))
        } else {
            self.queue.try_push(frame)
        };
        match pushed {
            Ok(()) => true,
            Err(full_or_closed) => {
                self.unwritten.fetch_sub(len, Ordering::Relaxed);
                if let PushError::Full(_) = full_or_closed {
                    if self.close_reason().is_none() {
                        crate::metrics::metrics().slow_clients.increment(1);
                    }
                    self.shut(CloseReason::SlowClient);
                }
                false
            }
        }
    }

    /// Waits for frames (or the close), then moves every queued one into `batch`; `false` once closed and empty.
    pub(crate) async fn recv_all(&self, batch: &mut VecDeque<Frame>) -> bool {
        self.queue.recv_all(batch).await
    }

    /// Moves every queued frame into `batch` without waiting.
    pub(crate) fn take_all(&self, batch: &mut VecDeque<Frame>) -> Taken {
        self.queue.take_all(batch)
    }

    /// The client has taken `bytes` of what was queued: room for more.
    pub(crate) fn written(&self, bytes: usize) {
        self.unwritten.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Refuses further frames and drops those waiting: the connection is over.
    pub(crate) fn close(&self) {
        self.queue.close();
        self.queue.clear();
    }

    /// Asks the connection to close; the first reason wins.
    pub(crate) fn shut(&self, reason: CloseReason) {
        if self.close_reason.set(reason).is_ok() {
            self.queue.close();
            self.shut.notify_waiters();
        }
    }

    /// Resolves once the connection is asked to close, even while its writer is blocked on a slow client.
    pub(crate) async fn shut_down(&self) -> CloseReason {
        loop {
            let mut shut = pin!(self.shut.notified());
            shut.as_mut().enable();
            if let Some(reason) = self.close_reason() {
                return reason;
            }
            shut.await;
        }
    }

    pub(crate) fn close_reason(&self) -> Option<CloseReason> {
        self.close_reason.get().copied()
    }
}

impl Outbox {
    /// Encodes a non-reply message; an unencodable one is logged and dropped.
    pub(crate) fn message_frame(&self, to: Address<'_>, event: &str, payload: &Payload) -> Option<Frame> {
        let encoded = self.serializer.encode_message(to, event, payload);
        encoded.map_err(|e| tracing::warn!(topic = to.topic, event, "message not sent: {e}")).ok()
    }

    /// Encodes and queues a non-reply message.
    pub(crate) fn send_message(&self, to: Address<'_>, event: &str, payload: &Payload) -> bool {
        self.message_frame(to, event, payload).is_some_and(|frame| self.push(frame))
    }

    /// Encodes and queues a `phx_reply`; an unencodable one is logged and dropped.
    pub(crate) fn send_reply(&self, to: Address<'_>, status: &str, response: &Payload) -> bool {
        let encoded = self.serializer.encode_reply(to, status, response);
        let Ok(frame) = encoded.map_err(|e| tracing::warn!(topic = to.topic, status, "reply not sent: {e}")) else {
            return false;
        };
        crate::metrics::metrics().reply(status);
        self.push(frame)
    }
}
