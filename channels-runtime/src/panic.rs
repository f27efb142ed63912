//! Panic isolation: a panic in user code (a channel callback, `connect`) ends only the task it ran in, and is
//! logged with its message.

use std::any::Any;
use std::future::{Future, poll_fn};
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::task::Poll;

/// Runs `fut`, turning a panic in any of its polls into an error.
pub(crate) async fn catch_unwind<F: Future>(fut: F) -> Result<F::Output, Box<dyn Any + Send>> {
    let mut fut = pin!(fut);
    poll_fn(|cx| match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
        Ok(poll) => poll.map(Ok),
        Err(panic) => Poll::Ready(Err(panic)),
    })
    .await
}

/// The message a panic carries, for the log.
pub(crate) fn panic_message(panic: &Box<dyn Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_an_error_with_its_message() {
        let ok = catch_unwind(async { 1 }).await;
        assert_eq!(ok.ok(), Some(1));
        let panicked = catch_unwind(async { panic!("boom {}", 42) }).await.unwrap_err();
        assert_eq!(panic_message(&panicked), "boom 42");
        let static_str = catch_unwind(async { std::panic::panic_any("static") }).await.unwrap_err();
        assert_eq!(panic_message(&static_str), "static");
        let other = catch_unwind(async { std::panic::panic_any(7u8) }).await.unwrap_err();
        assert_eq!(panic_message(&other), "(non-string panic)");
    }
}
