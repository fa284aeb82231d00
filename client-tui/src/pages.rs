//! The later pages of big rooms' member lists (`members` with `more`), fetched one at a time
//! for all rooms: joining many big rooms at once (or coming back to them) then draws on the
//! server's request budget at the pace its answers come, and a page refused for flooding is
//! asked for again when the server says it may be, so no list stays half-filled.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use protocol::{ClientMsg, Nick, RoomName};

/// How long to wait before asking again for a page refused without a `retry_after_ms`.
pub const PAGE_RETRY: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct MemberPages {
    /// Rooms whose next page is wanted, each with the nick that page follows, in the order
    /// their last page came. One entry per room.
    waiting: VecDeque<(RoomName, Nick)>,
    /// The page asked for and not answered yet.
    asked: Option<(RoomName, Nick)>,
    /// When to ask again for `asked`, refused for flooding.
    retry_at: Option<Instant>,
}

impl MemberPages {
    /// A page of `room`'s list came; `next` is the nick the following page starts after, if
    /// there is one. Returns the page to ask for now, if any.
    pub fn came(&mut self, room: &RoomName, next: Option<Nick>) -> Option<ClientMsg> {
        if self.asked.as_ref().is_some_and(|(r, _)| r == room) {
            self.asked = None;
            self.retry_at = None;
        }
        // A list that starts again replaces the one being fetched.
        self.waiting.retain(|(r, _)| r != room);
        if let Some(after) = next {
            self.waiting.push_back((room.clone(), after));
        }
        self.ask_next()
    }

    /// A `who` was refused. For flooding (`wait`: how long the server says to wait), the page
    /// asked is asked again after it; otherwise it is given up and the next is asked for.
    /// `false` when no page was asked (the refusal was of a `/who` typed by the person).
    pub fn refused(
        &mut self,
        flooding: bool,
        wait: Option<Duration>,
        now: Instant,
    ) -> (bool, Option<ClientMsg>) {
        if self.asked.is_none() || self.retry_at.is_some() {
            return (false, None);
        }
        if flooding {
            self.retry_at = Some(now + wait.unwrap_or(PAGE_RETRY));
            return (true, None);
        }
        self.asked = None;
        (true, self.ask_next())
    }

    /// The refused page again, once its wait is over.
    pub fn due(&mut self, now: Instant) -> Option<ClientMsg> {
        if self.retry_at.is_none_or(|at| at > now) {
            return None;
        }
        self.retry_at = None;
        let (room, after) = self.asked.clone()?;
        Some(ClientMsg::Who { room, after: Some(after) })
    }

    /// When a refused page is to be asked for again.
    pub fn deadline(&self) -> Option<Instant> {
        self.retry_at
    }

    /// `room` is left: its pages are not wanted any more.
    pub fn forget(&mut self, room: &RoomName) -> Option<ClientMsg> {
        self.waiting.retain(|(r, _)| r != room);
        if self.asked.as_ref().is_some_and(|(r, _)| r == room) {
            self.asked = None;
            self.retry_at = None;
        }
        self.ask_next()
    }

    /// The connection is gone: the lists start again after the rejoins.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    fn ask_next(&mut self) -> Option<ClientMsg> {
        if self.asked.is_some() {
            return None;
        }
        let (room, after) = self.waiting.pop_front()?;
        self.asked = Some((room.clone(), after.clone()));
        Some(ClientMsg::Who { room, after: Some(after) })
    }
}
