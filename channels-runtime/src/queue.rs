//! A bounded multi-producer, single-consumer queue that allocates nothing while empty.
//!
//! tokio's mpsc channels allocate a block of slots up front; with one outbound queue per connection and one
//! mailbox per joined channel that is kilobytes per idle client. This queue is a `VecDeque` behind a mutex: it
//! grows only while messages wait and is given back after a burst.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::pin;
use std::sync::Mutex;
use std::task::Poll;

use futures_util::task::AtomicWaker;
use tokio::sync::Notify;

/// Above this many slots an emptied buffer is released instead of kept for the next burst.
const KEEP_CAPACITY: usize = 64;

pub(crate) struct Queue<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    /// The one consumer's waker: cheaper to wake than a `Notify`, and every frame of every broadcast wakes it.
    readable: AtomicWaker,
    writable: Notify,
}

struct State<T> {
    items: VecDeque<T>,
    closed: bool,
}

/// What [`Queue::take_all`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Taken {
    /// Items, now moved out.
    Some,
    /// Nothing yet.
    Empty,
    /// Nothing, and nothing will come: the queue is closed.
    Closed,
}

/// Why an item was not queued; the item comes back.
#[derive(Debug)]
pub(crate) enum PushError<T> {
    Full(T),
    Closed(T),
}

impl<T> Queue<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        Queue {
            state: Mutex::new(State { items: VecDeque::new(), closed: false }),
            capacity: capacity.max(1),
            readable: AtomicWaker::new(),
            writable: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        // A panic while holding this lock cannot leave the deque inconsistent, so poisoning is ignored.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `item` unless the queue is full or closed.
    pub(crate) fn try_push(&self, item: T) -> Result<(), PushError<T>> {
        let mut state = self.lock();
        if state.closed {
            return Err(PushError::Closed(item));
        }
        if state.items.len() >= self.capacity {
            return Err(PushError::Full(item));
        }
        state.items.push_back(item);
        drop(state);
        self.readable.wake();
        Ok(())
    }

    /// Queues `item` past the capacity bound: for the few control messages that must never be lost.
    pub(crate) fn force_push(&self, item: T) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        state.items.push_back(item);
        drop(state);
        self.readable.wake();
        true
    }

    /// Queues `item`, waiting while the queue is full. Fails only when the queue is closed.
    pub(crate) async fn push(&self, mut item: T) -> Result<(), T> {
        loop {
            let mut writable = pin!(self.writable.notified());
            writable.as_mut().enable();
            match self.try_push(item) {
                Ok(()) => return Ok(()),
                Err(PushError::Closed(back)) => return Err(back),
                Err(PushError::Full(back)) => item = back,
            }
            writable.await;
        }
    }

    /// Waits for at least one item (or the close), then moves every queued item into `out`, which must be empty.
    /// Returns `false` once the queue is closed and nothing is left.
    pub(crate) async fn recv_all(&self, out: &mut VecDeque<T>) -> bool {
        poll_fn(|cx| {
            // Registered before looking, so a push right after the look wakes this task.
            self.readable.register(cx.waker());
            match self.take_all(out) {
                Taken::Some => Poll::Ready(true),
                Taken::Closed => Poll::Ready(false),
                Taken::Empty => Poll::Pending,
            }
        })
        .await
    }

    /// Moves every queued item into `out` (which must be empty) without waiting.
    pub(crate) fn take_all(&self, out: &mut VecDeque<T>) -> Taken {
        debug_assert!(out.is_empty());
        let mut state = self.lock();
        if state.items.is_empty() {
            return if state.closed { Taken::Closed } else { Taken::Empty };
        }
        // Producers wait for room only when the queue is full.
        let was_full = state.items.len() >= self.capacity;
        std::mem::swap(&mut state.items, out);
        drop(state);
        if was_full {
            self.writable.notify_waiters();
        }
        Taken::Some
    }

    /// Waits for one item; `None` once the queue is closed and empty.
    pub(crate) async fn recv(&self) -> Option<T> {
        poll_fn(|cx| {
            self.readable.register(cx.waker());
            let mut state = self.lock();
            let was_full = state.items.len() >= self.capacity;
            match state.items.pop_front() {
                Some(item) => {
                    if state.items.is_empty() && state.items.capacity() > KEEP_CAPACITY {
                        state.items = VecDeque::new();
                    }
                    drop(state);
                    if was_full {
                        self.writable.notify_one();
                    }
                    Poll::Ready(Some(item))
                }
                None if state.closed => Poll::Ready(None),
                None => Poll::Pending,
            }
        })
        .await
    }

    /// Refuses further pushes and wakes the consumer; queued items can still be received.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.readable.wake();
        self.writable.notify_waiters();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Drops everything queued (after a close, when nobody will read it).
    pub(crate) fn clear(&self) {
        let items = std::mem::take(&mut self.lock().items);
        drop(items);
    }
}

/// Gives back a drained buffer's memory after a burst, keeping small ones for reuse.
pub(crate) fn recycle<T>(buf: &mut VecDeque<T>) {
    debug_assert!(buf.is_empty());
    if buf.capacity() > KEEP_CAPACITY {
        *buf = VecDeque::new();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn bounded_and_ordered() {
        let q = Queue::new(2);
        q.try_push(1).unwrap();
        q.try_push(2).unwrap();
        assert!(matches!(q.try_push(3), Err(PushError::Full(3))));
        assert!(q.force_push(3));
        let mut out = VecDeque::new();
        assert!(q.recv_all(&mut out).await);
        assert_eq!(out.drain(..).collect::<Vec<_>>(), [1, 2, 3]);
        q.close();
        assert!(matches!(q.try_push(4), Err(PushError::Closed(4))));
        assert!(!q.recv_all(&mut out).await);
    }

    #[tokio::test]
    async fn push_waits_for_space() {
        let q = Arc::new(Queue::new(1));
        q.try_push(0).unwrap();
        let q2 = q.clone();
        let pusher = tokio::spawn(async move { q2.push(1).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!pusher.is_finished());
        assert_eq!(q.recv().await, Some(0));
        pusher.await.unwrap().unwrap();
        assert_eq!(q.recv().await, Some(1));
    }

    #[tokio::test]
    async fn recv_wakes_on_push_from_another_task() {
        let q = Arc::new(Queue::new(8));
        let q2 = q.clone();
        let reader = tokio::spawn(async move { q2.recv().await });
        tokio::time::sleep(Duration::from_millis(10)).await;
        q.try_push(7).unwrap();
        assert_eq!(reader.await.unwrap(), Some(7));
    }
}
