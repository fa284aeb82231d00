//! The flat-out closed loop: how many of each sender's messages each member of the room has
//! received, so that a sender keeps at most `--window` of its messages undelivered to the
//! room's slowest member (itself included: it counts its echo), and is woken, not polled, when
//! that member reads more.
//!
//! A member's reader finds the sender of each delivery from its `"from":"{prefix}m{i}"` field
//! without parsing JSON, and adds up a read's worth before touching the shared counts. A
//! sender whose window is full waits for one member, the one that holds its window back; only
//! that member's reader wakes it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use memchr::memmem::Finder;
use tokio::sync::Notify;

/// In [`Deliveries::waiting_on`]: the sender is not waiting.
const NOBODY: usize = usize::MAX;

/// What every member of one room has received from each of its senders.
pub struct Deliveries {
    /// `"from":"{prefix}m`: what precedes a sender's index in its deliveries.
    from: Finder<'static>,
    senders: usize,
    members: usize,
    /// `counts[s * members + m]`: how many of sender `s`'s messages member `m` has received.
    counts: Box<[AtomicU64]>,
    /// Per sender: the member whose next read may open its full window, or [`NOBODY`].
    waiting_on: Box<[AtomicUsize]>,
    /// Per sender: woken by that member's reader.
    wake: Box<[Notify]>,
}

impl Deliveries {
    /// A room of `members` members whose first `senders` (nicks `{prefix}m0`, ...) speak.
    pub fn new(prefix: &str, senders: usize, members: usize) -> Deliveries {
        let from = format!("\"from\":\"{prefix}m").into_bytes();
        Deliveries {
            from: Finder::new(&from).into_owned(),
            senders,
            members,
            counts: (0..senders * members).map(|_| AtomicU64::new(0)).collect(),
            waiting_on: (0..senders).map(|_| AtomicUsize::new(NOBODY)).collect(),
            wake: (0..senders).map(|_| Notify::new()).collect(),
        }
    }

    pub fn senders(&self) -> usize {
        self.senders
    }

    /// The sender of a delivery `line`, when it is one of the room's senders. `hint` is where
    /// the last line's `from` field was: the lines of one server put it at the same place,
    /// so that one comparison usually replaces the search.
    pub fn sender_of(&self, line: &[u8], hint: &mut usize) -> Option<usize> {
        let needle = self.from.needle();
        let at = if line.get(*hint..*hint + needle.len()) == Some(needle) {
            *hint
        } else {
            let at = self.from.find(line)?;
            *hint = at;
            at
        };
        let digits = &line[at + needle.len()..];
        let len = digits.iter().position(|&b| b == b'"')?;
        let digits = &digits[..len];
        // `m0`, `m1`, ... `m10`: no sign, no leading zero, nothing but digits.
        if digits.is_empty() || digits.len() > 9 || (digits.len() > 1 && digits[0] == b'0') {
            return None;
        }
        let index = digits
            .iter()
            .try_fold(0usize, |n, &d| d.is_ascii_digit().then(|| n * 10 + usize::from(d - b'0')))?;
        (index < self.senders).then_some(index)
    }

    /// Member `member` has received `batch[s]` more of sender `s`'s messages; `batch` is
    /// zeroed. A sender waiting for this member is woken.
    pub fn received(&self, member: usize, batch: &mut [u64]) {
        for (s, n) in batch.iter_mut().enumerate() {
            if *n == 0 {
                continue;
            }
            // SeqCst here and in `room`: either this reader sees the sender waiting for it, or
            // the sender, after saying so, sees this count (no wake-up is lost between them).
            self.counts[s * self.members + member].fetch_add(*n, Ordering::SeqCst);
            *n = 0;
            if self.waiting_on[s].load(Ordering::SeqCst) == member {
                // Kept as a permit if the sender is not yet waiting.
                self.wake[s].notify_one();
            }
        }
    }

    /// How many of sender `s`'s messages member `m` has received.
    pub fn count(&self, s: usize, m: usize) -> u64 {
        self.counts[s * self.members + m].load(Ordering::SeqCst)
    }

    /// The member that has received the fewest of sender `s`'s messages, and how many.
    pub fn slowest(&self, s: usize) -> (usize, u64) {
        let counts = &self.counts[s * self.members..(s + 1) * self.members];
        let mut slowest = (0, u64::MAX);
        for (m, count) in counts.iter().enumerate() {
            let count = count.load(Ordering::SeqCst);
            if count < slowest.1 {
                slowest = (m, count);
            }
        }
        slowest
    }

    /// How many more messages sender `s`, which has sent `sent`, may send now, keeping at most
    /// `window` undelivered to some member.
    #[cfg(test)]
    fn free(&self, s: usize, sent: u64, window: u64) -> u64 {
        free(sent, self.slowest(s).1, window)
    }

    /// Waits until sender `s`, which has sent `sent`, may send again; returns how many.
    pub async fn room(&self, s: usize, sent: u64, window: u64) -> u64 {
        loop {
            let (slowest, delivered) = self.slowest(s);
            let free = free(sent, delivered, window);
            if free > 0 {
                self.waiting_on[s].store(NOBODY, Ordering::SeqCst);
                return free;
            }
            // Say whom we wait for, then look again: a read that landed before the slowest
            // member's reader could see this is seen here instead.
            self.waiting_on[s].store(slowest, Ordering::SeqCst);
            if self.count(s, slowest) == delivered {
                self.wake[s].notified().await;
            }
        }
    }
}

/// What a window of `window` leaves free after `sent` messages of which the slowest member has
/// received `delivered`.
fn free(sent: u64, delivered: u64, window: u64) -> u64 {
    window.saturating_sub(sent.saturating_sub(delivered))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    /// A `message` line as chat-server writes it (its own serialiser, its own field order).
    fn server_line(from: &str, seq: u64, text: &str) -> Vec<u8> {
        let json = serde_json::json!({
            "type": "message",
            "id": "01937a0e-1c2b-7000-8000-000000000001",
            "room": "lobby",
            "seq": seq,
            "from": from,
            "kind": "say",
            "text": text,
            "ts": 1_763_700_000_000u64,
        });
        let msg: protocol::ServerMsg = serde_json::from_value(json).unwrap();
        let line = protocol::encode_line(&msg).to_vec();
        assert!(line.starts_with(crate::wire::MESSAGE), "{}", String::from_utf8_lossy(&line));
        line
    }

    #[test]
    fn finds_the_sender_of_chat_server_lines() {
        let d = Deliveries::new("", 12, 100);
        let mut hint = 0;
        let text = "t0000000001234567xxxxxxxxxxxxxxxx";
        assert_eq!(d.sender_of(&server_line("m0", 9, text), &mut hint), Some(0));
        assert!(hint > 0, "the hint moved to the from field");
        let first = hint;
        assert_eq!(d.sender_of(&server_line("m1", 9, text), &mut hint), Some(1));
        assert_eq!(hint, first);
        // One more digit of `seq` moves the field: found again by searching.
        assert_eq!(d.sender_of(&server_line("m11", 10, text), &mut hint), Some(11));
        assert_eq!(hint, first + 1);
        assert_eq!(d.sender_of(&server_line("m10", 100_000, text), &mut hint), Some(10));
        // Listeners, and nicks that are not the bench's.
        assert_eq!(d.sender_of(&server_line("m12", 10, text), &mut hint), None);
        assert_eq!(d.sender_of(&server_line("m150", 10, text), &mut hint), None);
        assert_eq!(d.sender_of(&server_line("m01", 10, text), &mut hint), None);
        assert_eq!(d.sender_of(&server_line("m1x", 10, text), &mut hint), None);
        assert_eq!(d.sender_of(&server_line("alice", 10, text), &mut hint), None);
        assert_eq!(d.sender_of(&server_line("mm1", 10, text), &mut hint), None);
        // A text that quotes a sender's field is escaped: it cannot pass for one.
        let quoting = server_line("alice", 10, r#"say "from":"m3" now"#);
        assert_eq!(d.sender_of(&quoting, &mut 0), None);
        assert_eq!(d.sender_of(&server_line("m3", 10, r#""from":"m4""#), &mut 0), Some(3));
    }

    #[test]
    fn finds_the_sender_under_a_prefix() {
        // Against a running server the nicks carry the run's prefix.
        let d = Deliveries::new("b4242r3", 10, 20);
        let text = "t0000000001234567xx";
        assert_eq!(d.sender_of(&server_line("b4242r3m7", 1, text), &mut 0), Some(7));
        assert_eq!(d.sender_of(&server_line("b4242r2m7", 1, text), &mut 0), None);
        assert_eq!(d.sender_of(&server_line("m7", 1, text), &mut 0), None);
        assert_eq!(d.sender_of(&server_line("xb4242r3m7", 1, text), &mut 0), None);
    }

    #[test]
    fn a_stale_hint_is_harmless() {
        let d = Deliveries::new("", 10, 10);
        let line = server_line("m5", 1, "t0000000001234567");
        for mut hint in [0, 3, line.len() - 2, line.len(), line.len() + 100] {
            assert_eq!(d.sender_of(&line, &mut hint), Some(5));
        }
        assert_eq!(d.sender_of(b"", &mut 1000), None);
        assert_eq!(d.sender_of(b"\"from\":\"m5", &mut 0), None, "cut off before the quote");
    }

    #[test]
    fn the_slowest_member_holds_the_window() {
        // 2 senders, 3 members; sender 0 is member 0.
        let d = Deliveries::new("", 2, 3);
        assert_eq!(d.free(0, 0, 256), 256);
        // Sender 0 has sent 300; its own echo is back for all of them, member 1 has 200,
        // member 2 only 50.
        d.received(0, &mut [300, 0]);
        d.received(1, &mut [200, 0]);
        let mut batch = [50, 7];
        d.received(2, &mut batch);
        assert_eq!(batch, [0, 0], "a batch is zeroed once counted");
        assert_eq!(d.slowest(0), (2, 50));
        assert_eq!(d.free(0, 300, 256), 6, "300 sent, 250 not yet at member 2");
        d.received(2, &mut [10, 0]);
        assert_eq!(d.free(0, 300, 256), 16);
        // Member 2 catches up past member 1: now member 1 is the slowest.
        d.received(2, &mut [240, 0]);
        assert_eq!(d.slowest(0), (1, 200));
        assert_eq!(d.free(0, 300, 256), 156);
        // Sender 1's counts are its own: nobody but member 2 has any of them.
        assert_eq!(d.slowest(1), (0, 0));
        assert_eq!(d.free(1, 256, 256), 0);
        assert_eq!(d.free(1, 10, 256), 246);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_full_window_waits_for_the_slowest_member() {
        let d = Arc::new(Deliveries::new("", 1, 3));
        d.received(0, &mut [4]);
        d.received(1, &mut [4]);
        d.received(2, &mut [1]);
        // 4 sent with a window of 3: member 2, with 1, holds it shut.
        let waiting = tokio::spawn({
            let d = d.clone();
            async move { d.room(0, 4, 3).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        assert_eq!(d.waiting_on[0].load(Ordering::SeqCst), 2);
        // Reads of the others change nothing.
        d.received(0, &mut [0]);
        d.received(1, &mut [0]);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        // Member 2 reads one more: room for one.
        d.received(2, &mut [1]);
        let free = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert_eq!(free.unwrap().unwrap(), 1);
        assert_eq!(d.waiting_on[0].load(Ordering::SeqCst), NOBODY);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_read_before_the_wait_is_not_lost() {
        // The slowest member reads after the sender named it but before the sender waits: the
        // wake-up is kept as a permit (`notify_waiters` would lose it).
        let d = Deliveries::new("", 1, 2);
        d.received(0, &mut [2]);
        assert_eq!(d.free(0, 2, 2), 0);
        d.waiting_on[0].store(1, Ordering::SeqCst);
        d.received(1, &mut [1]);
        let woken = tokio::time::timeout(Duration::from_secs(5), d.wake[0].notified()).await;
        assert!(woken.is_ok(), "the permit was kept");
        // A member the sender does not wait for leaves no permit behind.
        d.received(0, &mut [1]);
        let woken = tokio::time::timeout(Duration::from_millis(50), d.wake[0].notified()).await;
        assert!(woken.is_err(), "woken by a member it was not waiting for");
        assert_eq!(d.room(0, 2, 2).await, 1);
    }

    #[test]
    fn free_never_underflows() {
        assert_eq!(free(10, 4, 256), 250);
        assert_eq!(free(300, 44, 256), 0);
        assert_eq!(free(400, 44, 256), 0);
        // Counted before the sender added what it wrote.
        assert_eq!(free(5, 9, 256), 256);
    }
}
