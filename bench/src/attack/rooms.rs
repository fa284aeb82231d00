//! The room spammer: makes ever new rooms (`spam-1`, `spam-2`, ...), as fast as the server
//! lets it: it joins one, and once the join is answered leaves it and joins the next. Each is
//! a room the server creates and drops again; the joins are what flood control counts. It
//! leaves lobby first: the members' chat is not what it is after.

use super::ROOM;
use super::inbox::{field, is};
use super::lines;
use super::repeat::Requests;

const PREFIX: &str = "spam-";

pub const REQUESTS: Requests =
    Requests { nick: "rooms", setup, request, answers, fails: "join", window: 1 };

fn setup(out: &mut Vec<u8>) {
    lines::leave(out, ROOM);
}

/// Leaves the room of the last request (after a reconnection: a room it is no longer in, an
/// error it does not wait for) and makes the next.
fn request(n: u64, out: &mut Vec<u8>) {
    if n > 0 {
        lines::leave(out, &format!("{PREFIX}{n}"));
    }
    lines::join(out, &format!("{PREFIX}{}", n + 1));
}

/// A new room's member list: the room was made.
fn answers(line: &[u8]) -> bool {
    is(line, "members") && field(line, "room").is_some_and(|room| room.starts_with(PREFIX))
}
