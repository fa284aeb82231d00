//! The nick hopper: in the members' room and the side rooms the members share, changes its
//! nick in a loop. Each change is announced in every room it is in, to every member there.

use super::SIDE_ROOMS;
use super::inbox::is;
use super::lines;
use super::repeat::Requests;

pub const REQUESTS: Requests =
    Requests { nick: "hopper", setup, request, answers, fails: "nick", window: 1 };

fn setup(out: &mut Vec<u8>) {
    for room in SIDE_ROOMS {
        lines::join(out, room);
    }
}

/// A nick no other connection has had: `n` counts over all of the hopper's connections.
fn request(n: u64, out: &mut Vec<u8>) {
    lines::nick(out, &format!("hop{n}"));
}

/// "Your nick is now ...".
fn answers(line: &[u8]) -> bool {
    is(line, "nick")
}
