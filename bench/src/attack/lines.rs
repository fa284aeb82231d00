//! The request lines of the scenario's clients, as docs/protocol.md spells them. Values go in
//! as given: names are the bench's own (nothing to escape), and a text's JSON escapes, where
//! an attacker wants them, are the caller's.

use std::io::Write as _;

/// Writes one line; writing to a Vec cannot fail.
macro_rules! line {
    ($out:expr, $($fmt:tt)*) => {{
        let _ = writeln!($out, $($fmt)*);
    }};
}

pub fn hello(out: &mut Vec<u8>, nick: &str) {
    line!(
        out,
        "{{\"type\":\"hello\",\"nick\":\"{nick}\",\"protocol\":{}}}",
        protocol::PROTOCOL_VERSION
    );
}

pub fn say(out: &mut Vec<u8>, room: &str, text: &str) {
    line!(out, "{{\"type\":\"say\",\"room\":\"{room}\",\"text\":\"{text}\"}}");
}

pub fn join(out: &mut Vec<u8>, room: &str) {
    line!(out, "{{\"type\":\"join\",\"room\":\"{room}\"}}");
}

/// `leave` takes no reason (only `quit` does).
pub fn leave(out: &mut Vec<u8>, room: &str) {
    line!(out, "{{\"type\":\"leave\",\"room\":\"{room}\"}}");
}

pub fn who(out: &mut Vec<u8>, room: &str) {
    line!(out, "{{\"type\":\"who\",\"room\":\"{room}\"}}");
}

pub fn history(out: &mut Vec<u8>, room: &str, limit: u32) {
    line!(out, "{{\"type\":\"history\",\"room\":\"{room}\",\"limit\":{limit}}}");
}

pub fn nick(out: &mut Vec<u8>, nick: &str) {
    line!(out, "{{\"type\":\"nick\",\"nick\":\"{nick}\"}}");
}

pub fn quit(out: &mut Vec<u8>, reason: &str) {
    line!(out, "{{\"type\":\"quit\",\"reason\":\"{reason}\"}}");
}

/// Lines in `bytes`: what a batch counts as requests.
pub fn count(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines are the protocol's own: each parses as the client message it means.
    #[test]
    fn every_line_is_a_request_the_protocol_reads() {
        let mut out = Vec::new();
        hello(&mut out, "rf1");
        say(&mut out, "lobby", "hi");
        join(&mut out, "spam-1");
        leave(&mut out, "spam-1");
        who(&mut out, "lobby");
        history(&mut out, "lobby", 100);
        nick(&mut out, "hop1b");
        quit(&mut out, &"x".repeat(200));
        assert_eq!(count(&out), 8);
        for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let parsed: Result<protocol::ClientMsg, _> = serde_json::from_slice(line);
            assert!(parsed.is_ok(), "{}: {parsed:?}", String::from_utf8_lossy(line));
        }
    }
}
