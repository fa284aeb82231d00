//! The join/leave churner: leaves the members' room and joins it again, in a loop. Every
//! leave and join is announced to each member, and every join reads the room's recent
//! history for the joiner. (`leave` takes no reason in the protocol; only `quit` does.)

use super::ROOM;
use super::inbox::{field, is};
use super::lines;
use super::repeat::{Requests, stay};

pub const REQUESTS: Requests =
    Requests { nick: "churner", setup: stay, request, answers, fails: "join", window: 1 };

fn request(_: u64, out: &mut Vec<u8>) {
    lines::leave(out, ROOM);
    lines::join(out, ROOM);
}

/// The member list that ends a join's answer.
fn answers(line: &[u8]) -> bool {
    is(line, "members") && field(line, "room") == Some(ROOM)
}
