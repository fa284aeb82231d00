//! What a session writes to its client: events gathered into one batch, written with one
//! syscall, and a client that does not take its bytes let go of its rooms, then cut off.
//!
//! A batch is gathered in a buffer the worker thread lends to the session it polls, and that
//! the session gives back once the batch is written: a session between batches holds no
//! buffer (thousands of idle ones would otherwise hold one each), and a delivery costs no
//! allocation. A batch the client does not take at once is copied to a buffer of its own size,
//! and the spare goes back.

use std::cell::Cell;
use std::io::ErrorKind;

use bytes::{Buf, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::time::timeout;
use tracing::debug;

use super::end::End;
use super::speaking::Speaking;
use super::{Session, View};
use crate::dialect::Dialect;
use crate::event::{Event, SharedEvent};
use crate::limits::{MAX_EVENTS_PER_WRITE, MAX_PENDING_OUT, STALL_AFTER, WRITE_TIMEOUT};
use protocol::ServerMsg;

thread_local! {
    /// The buffer this thread lends to the session it polls, while none has it.
    static SPARE: Cell<Option<BytesMut>> = const { Cell::new(None) };
}

/// Makes `out` the thread's spare buffer if it has none of its own.
fn borrow_spare(out: &mut BytesMut) {
    if out.capacity() == 0
        && let Some(spare) = SPARE.take()
    {
        *out = spare;
    }
}

/// Gives `out`, written and never advanced (so its capacity is its whole allocation), back to
/// the thread; a buffer grown past [`MAX_PENDING_OUT`] (by one big event) is freed instead.
fn return_spare(out: &mut BytesMut) {
    let mut spare = std::mem::take(out);
    spare.clear();
    if spare.capacity() > 0 && spare.capacity() <= MAX_PENDING_OUT {
        SPARE.set(Some(spare));
    }
}

impl<D: Dialect> Session<D> {
    /// Takes the events that are already waiting, without waiting for more, so they go out in
    /// the same write.
    pub(super) fn take_ready_events(&mut self) {
        for _ in 0..MAX_EVENTS_PER_WRITE {
            if self.out.len() >= MAX_PENDING_OUT {
                break;
            }
            if let Some(event) = self.try_direct() {
                self.write_event(&event);
                continue;
            }
            match self.rooms.try_next() {
                Some((room, event)) => self.on_room_event(room, event),
                None => break,
            }
        }
        self.rooms.done_reading();
        if self.speaking.as_ref().is_some_and(Speaking::is_done) {
            self.speaking = None;
        }
    }

    /// A direct event that is already waiting.
    pub(super) fn try_direct(&mut self) -> Option<SharedEvent> {
        self.direct
            .try_recv()
            .or_else(|| self.speaking.as_mut().and_then(|s| s.answers.try_recv().ok()))
    }

    /// Takes every event already waiting in the rooms, with no batch limit: an answer that
    /// changes how the client reads later events (its new nick) must come after all events that
    /// were sent before it. Bounded by the rooms' channel capacity.
    pub(super) fn take_all_room_events(&mut self) {
        while let Some((room, event)) = self.rooms.try_next() {
            self.on_room_event(room, event);
        }
        self.rooms.done_reading();
    }

    pub(super) fn write(&mut self, msg: &ServerMsg) {
        borrow_spare(&mut self.out);
        let view = View { nick: self.nick.as_ref(), rooms: &self.rooms };
        crate::metrics::sending(msg);
        self.batch_events += 1;
        self.dialect.write(msg, view, &mut self.out);
    }

    pub(super) fn write_event(&mut self, event: &Event) {
        borrow_spare(&mut self.out);
        let view = View { nick: self.nick.as_ref(), rooms: &self.rooms };
        crate::metrics::sending(&event.msg);
        self.batch_events += 1;
        self.dialect.write_event(event, view, &mut self.out);
    }

    /// Writes what is pending. A client that takes longer than [`WRITE_TIMEOUT`] is dropped.
    ///
    /// Nearly always the socket takes everything at once, without waiting; only a client that
    /// reads slowly takes the slow path (boxed, so its timers cost the other sessions nothing).
    pub(super) async fn flush(&mut self) -> Result<(), End> {
        if self.out.is_empty() {
            // A buffer lent for a batch that did not come goes back too.
            return_spare(&mut self.out);
            self.batch_events = 0;
            return Ok(());
        }
        let events = std::mem::take(&mut self.batch_events);
        // Whether `out` is still whole (never advanced), so its `capacity` is all it holds:
        // only then may it be the thread's spare.
        let mut whole = true;
        while !self.out.is_empty() {
            match self.stream.try_write(&self.out) {
                Ok(0) => return Err(End::Dropped("the connection took no bytes".to_owned())),
                // All of it, as nearly always: cleared, not advanced.
                Ok(written) if written == self.out.len() => self.out.clear(),
                Ok(written) => {
                    self.out.advance(written);
                    whole = false;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    // A slow client keeps a buffer of what is left, not the thread's spare.
                    let rest = BytesMut::from(&self.out[..]);
                    let mut spare = std::mem::replace(&mut self.out, rest);
                    if whole {
                        return_spare(&mut spare);
                    }
                    whole = false;
                    Box::pin(self.flush_slowly()).await?;
                }
                Err(e) => return Err(End::Dropped(e.to_string())),
            }
        }
        // Over TLS, encrypted bytes may still wait for the socket.
        match self.stream.try_flush() {
            Ok(true) => {}
            Ok(false) => Box::pin(self.flush_slowly()).await?,
            Err(e) => return Err(End::Dropped(e.to_string())),
        }
        // The buffer goes back: a session between batches holds none (a member list of a big
        // room is tens of kilobytes, for each of thousands of idle sessions).
        if whole {
            return_spare(&mut self.out);
        } else {
            self.out = BytesMut::new();
        }
        crate::metrics::delivered(events);
        if self.rooms.take_let_go() {
            self.resubscribe();
        }
        Ok(())
    }

    /// Waits for the client to take what is pending. A client that has not taken its bytes
    /// after [`STALL_AFTER`] lets go of its rooms' channels meanwhile, so it does not hold back
    /// their senders (who wait for a room's slowest member); once the write completes it takes
    /// them up again and is filled in from history.
    pub(super) async fn flush_slowly(&mut self) -> Result<(), End> {
        // `write_all_buf` consumes what it writes, so after a timeout `out` holds exactly
        // what is left.
        let (stream, out, span) = (&mut self.stream, &mut self.out, &self.span);
        let write = async move {
            stream.write_all_buf(out).await?;
            stream.flush().await
        };
        tokio::pin!(write);
        let written = match timeout(STALL_AFTER, &mut write).await {
            Ok(written) => written,
            Err(_) => {
                let rooms = self.rooms.let_go();
                // Nor does a throttle it cannot look at while it writes: held, it would hold
                // the room's other senders back with it.
                self.throttle = None;
                if rooms > 0 {
                    debug!(parent: span, rooms, "not reading; letting go of its rooms meanwhile");
                }
                match timeout(WRITE_TIMEOUT.saturating_sub(STALL_AFTER), write).await {
                    Ok(written) => written,
                    Err(_) => return Err(End::TooSlow),
                }
            }
        };
        written.map_err(|e| End::Dropped(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A written batch's buffer goes back to the thread, the next batch (any session's) is
    /// gathered in it, and the session keeps none; one grown past the bound is freed.
    #[test]
    fn a_written_batch_gives_its_buffer_back_to_the_thread() {
        let mut first = BytesMut::new();
        borrow_spare(&mut first);
        first.extend_from_slice(b"{\"type\":\"pong\",\"token\":1}\n");
        let buffer = first.as_ptr();
        return_spare(&mut first);
        assert_eq!(first.capacity(), 0, "a session between batches holds no buffer");
        let mut next = BytesMut::new();
        borrow_spare(&mut next);
        assert_eq!(next.as_ptr(), buffer, "the next batch is gathered in the same buffer");
        assert!(next.is_empty());

        next.reserve(MAX_PENDING_OUT + 1);
        return_spare(&mut next);
        let mut after = BytesMut::new();
        borrow_spare(&mut after);
        assert_eq!(after.capacity(), 0, "a buffer past MAX_PENDING_OUT is not kept");
    }
}
