//! An attacker's reading side: whole lines out of what the server sends, without parsing JSON
//! (a line's type and codes are found by their bytes, as the members' readers do), with every
//! byte, goodbye and refusal counted on the way.

use std::sync::Arc;

use memchr::memmem;
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;

use super::counts::Counts;

/// Bytes asked of the socket at once.
const READ_CHUNK: usize = 64 * 1024;

pub struct Inbox {
    r: OwnedReadHalf,
    /// What has been read and not yet handed out: the start of a line.
    partial: Vec<u8>,
    counts: Arc<Counts>,
}

impl Inbox {
    pub fn new(r: OwnedReadHalf, counts: Arc<Counts>) -> Inbox {
        Inbox { r, partial: Vec::with_capacity(READ_CHUNK), counts }
    }

    /// Waits for what the server sends next and hands each whole line of it to `each`, after
    /// counting its bytes and any goodbye or refusal. False once the connection has ended.
    pub async fn read(&mut self, mut each: impl FnMut(&[u8])) -> bool {
        self.partial.reserve(READ_CHUNK);
        let n = self.r.read_buf(&mut self.partial).await.unwrap_or(0);
        if n == 0 {
            return false;
        }
        Counts::add(&self.counts.bytes, n as u64);
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', &self.partial) {
            let line = &self.partial[start..end];
            start = end + 1;
            if is(line, "bye") {
                self.counts.bye(code(line).unwrap_or("?"));
            } else if is(line, "error") {
                let counter = if code(line) == Some("flood") {
                    &self.counts.refusals
                } else {
                    &self.counts.errors
                };
                Counts::add(counter, 1);
            }
            each(line);
        }
        self.partial.drain(..start);
        true
    }
}

/// Whether `line` is a server message of type `kind`.
pub fn is(line: &[u8], kind: &str) -> bool {
    line.strip_prefix(b"{\"type\":\"")
        .and_then(|rest| rest.strip_prefix(kind.as_bytes()))
        .is_some_and(|rest| rest.starts_with(b"\""))
}

/// Whether `line` is an `error` that answers a request of type `request`.
pub fn error_for(line: &[u8], request: &str) -> bool {
    is(line, "error") && field(line, "request") == Some(request)
}

/// Messages from `nick` in `line`: a `message` of theirs, or those in a page of `history` (a
/// joiner's own first messages may come in its join's backlog rather than live).
pub fn from(line: &[u8], nick: &str) -> usize {
    if is(line, "message") {
        usize::from(field(line, "from") == Some(nick))
    } else if is(line, "history") {
        memmem::find_iter(line, format!("\"from\":\"{nick}\"").as_bytes()).count()
    } else {
        0
    }
}

/// The `code` of an `error` or `bye`.
pub fn code(line: &[u8]) -> Option<&str> {
    field(line, "code")
}

/// The value of a string field with no escapes in it (a code, a type, a room, a nick of
/// the bench's).
pub fn field<'a>(line: &'a [u8], name: &str) -> Option<&'a str> {
    let key = format!("\"{name}\":\"");
    let at = memmem::find(line, key.as_bytes())? + key.len();
    let rest = line.get(at..)?;
    let len = memchr::memchr(b'"', rest)?;
    std::str::from_utf8(&rest[..len]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_told_apart_by_their_bytes() {
        let flood = br#"{"type":"error","code":"flood","message":"slow down","request":"say","retry_after_ms":1500}"#;
        assert!(is(flood, "error") && !is(flood, "err"));
        assert_eq!(code(flood), Some("flood"));
        assert!(error_for(flood, "say") && !error_for(flood, "join"));
        let bye = br#"{"type":"bye","code":"flooding","message":"you kept sending"}"#;
        assert_eq!((is(bye, "bye"), code(bye)), (true, Some("flooding")));
        let members = br#"{"type":"members","room":"lobby","nicks":["a","b"]}"#;
        assert_eq!(field(members, "room"), Some("lobby"));
        assert_eq!(field(members, "nick"), None);
        assert!(!is(br#"{"type":"message""#, "members"));
        let page = br#"{"type":"history","room":"lobby","messages":[{"seq":1,"from":"rf1","text":"a"},{"seq":2,"from":"rf10","text":"b"},{"seq":3,"from":"rf1","text":"c"}],"beginning":true}"#;
        assert_eq!((from(page, "rf1"), from(page, "rf10"), from(page, "rf")), (2, 1, 0));
        let own =
            br#"{"type":"message","id":"x","room":"lobby","seq":4,"from":"rf1","kind":"say"}"#;
        assert_eq!((from(own, "rf1"), from(own, "rf10")), (1, 0));
    }
}
