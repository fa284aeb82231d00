//! How a session speaks to its client. The chat logic (`session`) is one; the dialects differ
//! only in turning lines into requests and events into bytes.
//!
//! - [`json`]: the protocol of `docs/protocol.md`; events are written as the bytes encoded once
//!   for every recipient.
//! - [`plain`]: readable lines for `nc`, `telnet` and small scripts, UTF-8 or GBK;
//!   [`plain_rooms`]: its lines for member lists, topics, modes, moderation and bans.

mod json;
pub mod plain;
mod plain_rooms;

use std::time::Duration;

use bytes::BytesMut;
use protocol::{ClientMsg, Line, Nick, RequestError, RoomName, ServerMsg};

use crate::event::Event;
pub use json::Json;
pub use plain::Plain;

/// What a dialect may know of its session.
#[derive(Clone, Copy)]
pub struct View<'a> {
    /// `None` until `hello` (or the plain-text port's first line) succeeds.
    pub nick: Option<&'a Nick>,
    pub rooms: &'a dyn JoinedRooms,
}

/// The rooms a session is in, as a dialect sees them.
pub trait JoinedRooms {
    fn contains(&self, room: &RoomName) -> bool;
    /// The room joined last.
    fn last(&self) -> Option<&RoomName>;
}

/// Room names in the order they were joined (tests, tools).
impl<T: AsRef<[RoomName]>> JoinedRooms for T {
    fn contains(&self, room: &RoomName) -> bool {
        self.as_ref().contains(room)
    }

    fn last(&self) -> Option<&RoomName> {
        self.as_ref().last()
    }
}

pub trait Dialect: Send + 'static {
    /// Written when the connection opens, before the client says anything.
    fn greet(&mut self, _out: &mut BytesMut) {}

    /// Whether the client can answer a `ping` (and so is pinged when silent).
    fn pings(&self) -> bool {
        true
    }

    /// Whether the client is given a resume token (and so can take its nick back after a lost
    /// connection, which is then kept for it for a while).
    fn resumes(&self) -> bool {
        true
    }

    /// A pause after which an unterminated line counts as complete; `None`: lines end at `\n`.
    fn line_pause(&self) -> Option<Duration> {
        None
    }

    /// Turns one line into a request. `None` when the line needs no request (a blank line, a
    /// command the dialect answers itself in `out`).
    fn read(
        &mut self,
        line: Line,
        view: View<'_>,
        out: &mut BytesMut,
    ) -> Option<Result<ClientMsg, RequestError>>;

    /// Writes a message meant for this session alone.
    fn write(&mut self, msg: &ServerMsg, view: View<'_>, out: &mut BytesMut);

    /// Writes an event shared with other sessions.
    fn write_event(&mut self, event: &Event, view: View<'_>, out: &mut BytesMut) {
        self.write(&event.msg, view, out);
    }
}
