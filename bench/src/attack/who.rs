//! The who spammer: asks for the member list of the members' room as fast as the server
//! answers. `who` costs nothing against flood control (it answers only the asker, at the
//! pace the asker reads), and the list of a room of a hundred grows with the room.

use super::ROOM;
use super::inbox::{field, is};
use super::lines;
use super::repeat::{Requests, stay};

pub const REQUESTS: Requests =
    Requests { nick: "who", setup: stay, request, answers, fails: "who", window: 4 };

fn request(_: u64, out: &mut Vec<u8>) {
    lines::who(out, ROOM);
}

fn answers(line: &[u8]) -> bool {
    is(line, "members") && field(line, "room") == Some(ROOM)
}
