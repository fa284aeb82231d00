//! The session's socket and timer, polled only when one of them may have become ready.
//!
//! Most of a session's wake-ups are for a room's event, and after each the session goes back
//! to waiting on everything, which polls the socket's readiness and the timer again, though
//! neither has changed. So the two register a waker of the watch's, which notes that it was
//! woken before waking the session: while it has not been, and the session waits on the same
//! things as when it last polled them, they are not polled again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures::task::AtomicWaker;
use tokio::time::Instant;

/// What the session waits on through the watch: whether it reads its socket, and its timer's
/// deadline. Waiting on something else is polled, not skipped.
pub(super) type Waits = (bool, Instant);

#[derive(Default)]
pub(super) struct Watch {
    shared: Arc<Watched>,
    /// What the last poll waited on, if it found nothing ready.
    waiting: Option<Waits>,
}

#[derive(Default)]
struct Watched {
    /// Set by a wake from the socket or the timer; cleared before they are polled.
    woken: AtomicBool,
    /// The session's task.
    task: AtomicWaker,
}

impl Wake for Watched {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.task.wake();
    }
}

impl Watch {
    /// Polls what `poll` polls, with the watch's waker, unless it found nothing ready the last
    /// time, waited on `waits` then too, and nothing woke it since.
    pub(super) fn poll<T>(
        &mut self,
        cx: &Context<'_>,
        waits: Waits,
        poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        // Registered before the look at `woken`: a wake after the look wakes the task, which
        // then finds `woken` set.
        self.shared.task.register(cx.waker());
        if self.waiting == Some(waits) && !self.shared.woken.load(Ordering::SeqCst) {
            return Poll::Pending;
        }
        // Cleared before the poll: a wake during or after it is not lost.
        self.shared.woken.store(false, Ordering::SeqCst);
        let waker = Waker::from(self.shared.clone());
        let polled = poll(&mut Context::from_waker(&waker));
        self.waiting = polled.is_pending().then_some(waits);
        polled
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// Counts the wakes of a task.
    #[derive(Default)]
    struct Task(AtomicUsize);

    impl Wake for Task {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The watch polls again only after one of its own wakers was woken, or when the session
    /// waits on something else; the wake reaches the session's task.
    #[test]
    fn a_watch_polls_again_only_once_woken_or_waiting_on_something_else() {
        let task = Arc::new(Task::default());
        let task_waker = Waker::from(task.clone());
        let cx = Context::from_waker(&task_waker);
        let mut watch = Watch::default();
        let polls = std::cell::Cell::new(0);
        let registered = std::cell::RefCell::new(None::<Waker>);
        let poll = |watch: &mut Watch, waits: Waits| {
            watch.poll(&cx, waits, |cx| {
                polls.set(polls.get() + 1);
                *registered.borrow_mut() = Some(cx.waker().clone());
                Poll::<()>::Pending
            })
        };
        let now = Instant::now();
        let later = now + std::time::Duration::from_secs(1);
        let waits = (true, now);
        assert!(poll(&mut watch, waits).is_pending());
        assert!(poll(&mut watch, waits).is_pending());
        assert_eq!(polls.get(), 1, "nothing woke it: not polled again");
        registered.borrow_mut().take().unwrap().wake();
        assert_eq!(task.0.load(Ordering::SeqCst), 1, "the wake reaches the task");
        assert!(poll(&mut watch, waits).is_pending());
        assert_eq!(polls.get(), 2, "woken: polled again");
        assert!(poll(&mut watch, (false, now)).is_pending());
        assert_eq!(polls.get(), 3, "no longer reading: polled again");
        assert!(poll(&mut watch, (false, later)).is_pending());
        assert_eq!(polls.get(), 4, "the timer moved: polled again");
        assert!(poll(&mut watch, (false, later)).is_pending());
        assert_eq!(polls.get(), 4);
    }

    /// Something found ready is looked at again the next time, woken or not: a read may leave
    /// more to read.
    #[test]
    fn a_watch_that_found_something_ready_polls_again() {
        let task_waker = Waker::from(Arc::new(Task::default()));
        let cx = Context::from_waker(&task_waker);
        let mut watch = Watch::default();
        let waits = (true, Instant::now());
        let mut polls = 0;
        for _ in 0..3 {
            assert!(
                watch
                    .poll(&cx, waits, |_| {
                        polls += 1;
                        Poll::Ready(())
                    })
                    .is_ready()
            );
        }
        assert_eq!(polls, 3);
    }
}
