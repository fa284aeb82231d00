//! The history scraper: asks for the members' room's last hundred messages (the most a page
//! holds) as fast as the server answers. Like `who`, `history` is free of flood control, and
//! each page is read from the store.

use super::ROOM;
use super::inbox::{field, is};
use super::lines;
use super::repeat::{Requests, stay};

/// The largest page the protocol allows.
const LIMIT: u32 = 100;

pub const REQUESTS: Requests = Requests {
    nick: "scraper",
    setup: stay,
    request,
    answers,
    fails: "history",
    // The server's own limit of queries in flight for one session.
    window: 4,
};

fn request(_: u64, out: &mut Vec<u8>) {
    lines::history(out, ROOM, LIMIT);
}

fn answers(line: &[u8]) -> bool {
    is(line, "history") && field(line, "room") == Some(ROOM)
}
