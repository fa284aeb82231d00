//! The client side of the protocol, as cheaply as the bench can do it: registering a member,
//! writing `say` lines that carry their send time, and reading deliveries without parsing JSON
//! (a delivery is a line that starts with `{"type":"message"`; its send time is found with a
//! SIMD substring search; flat out, its sender is found the same way, see `deliveries`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;

use crate::deliveries::Deliveries;
use crate::histogram::Histogram;
use crate::stream::{Dial, Reader, Writer, connect};

/// The start of every delivery.
pub const MESSAGE: &[u8] = b"{\"type\":\"message\"";

const ERROR: &[u8] = b"{\"type\":\"error\"";

/// Longest a connection and its hello may take: a server that takes longer is reported as
/// broken rather than waited for, so every run ends.
const HELLO_WAIT: Duration = Duration::from_secs(30);

/// Read buffer of a member that receives a busy room.
const BUSY_READER: usize = 1 << 16;

/// Connects (over TLS when `dial` says so) and registers `nick`; returns the connection's
/// halves after the lobby's member list.
pub async fn member(dial: Dial<'_>, nick: &str) -> anyhow::Result<(BufReader<Reader>, Writer)> {
    hello(dial, nick, BUSY_READER).await
}

/// [`member`] with a read buffer of `capacity` bytes (small for thousands of idle members).
pub async fn hello(
    dial: Dial<'_>,
    nick: &str,
    capacity: usize,
) -> anyhow::Result<(BufReader<Reader>, Writer)> {
    tokio::time::timeout(HELLO_WAIT, async {
        let (r, mut w) = connect(dial).await?;
        let hello = format!(
            "{{\"type\":\"hello\",\"nick\":\"{nick}\",\"protocol\":{}}}\n",
            protocol::PROTOCOL_VERSION
        );
        w.send(hello.as_bytes()).await?;
        let mut r = BufReader::with_capacity(capacity, r);
        expect(&mut r, |line| line.starts_with(b"{\"type\":\"members\"")).await?;
        Ok::<_, anyhow::Error>((r, w))
    })
    .await
    .with_context(|| {
        format!("{nick}: no member list within {} s of connecting", HELLO_WAIT.as_secs())
    })?
    .with_context(|| format!("{nick}: hello"))
}

/// Reads lines until one that `wanted` accepts. An `error` or `bye` line, or the end of the
/// connection, is an error that quotes what the server said.
pub async fn expect(
    r: &mut BufReader<Reader>,
    wanted: impl Fn(&[u8]) -> bool,
) -> anyhow::Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).await? == 0 {
            bail!("the server closed the connection");
        }
        if wanted(&line) {
            return Ok(());
        }
        if line.starts_with(ERROR) || line.starts_with(b"{\"type\":\"bye\"") {
            bail!("the server said {}", String::from_utf8_lossy(line.trim_ascii_end()));
        }
    }
}

/// Appends a `say` line to `room` whose text is `t`, the send time (16 digits of microseconds
/// since the run's epoch), then `padding`.
pub fn say_line(out: &mut Vec<u8>, room: &str, sent_us: u64, padding: &str) {
    use std::io::Write as _;
    // Writing to a Vec cannot fail.
    let _ = writeln!(
        out,
        "{{\"type\":\"say\",\"room\":\"{room}\",\"text\":\"t{sent_us:016}{padding}\"}}"
    );
}

/// Padding that makes a timed text `size` bytes long (`t` and the time take 17).
pub fn padding(size: usize) -> String {
    "x".repeat(size.saturating_sub(17))
}

const SENT_AT: &[u8] = b"\"text\":\"t";

/// The send time a message's text starts with: `t` and 16 digits of microseconds.
pub fn sent_at(line: &[u8]) -> Option<u64> {
    let at = memchr::memmem::find(line, SENT_AT)? + SENT_AT.len();
    let digits = line.get(at..at + 16)?;
    digits.iter().try_fold(0u64, |n, &d| d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0')))
}

const SEQ: &[u8] = b",\"seq\":";

/// A message's `seq` (its number in its room).
pub fn seq_of(line: &[u8]) -> Option<u64> {
    let at = memchr::memmem::find(line, SEQ)? + SEQ.len();
    let digits = line.get(at..)?;
    let len = digits.iter().position(|d| !d.is_ascii_digit()).unwrap_or(digits.len());
    if len == 0 || len > 19 {
        return None;
    }
    digits[..len].iter().try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

/// Microseconds since `epoch`.
pub fn micros(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// The measured window of a run, in microseconds since its epoch, and what happened in it.
/// Everything outside the window (warm-up, stragglers) is not counted.
#[derive(Default)]
pub struct Tally {
    from_us: AtomicU64,
    to_us: AtomicU64,
    pub sent: AtomicU64,
    pub delivered: AtomicU64,
    pub errors: AtomicU64,
    /// Deliveries a member had already had, or that came out of order (see
    /// [`Timing::SendTimes`]); not counted in `delivered`.
    pub repeated: AtomicU64,
}

impl Tally {
    pub fn open(&self, at_us: u64) {
        self.from_us.store(at_us.max(1), Ordering::Relaxed);
    }

    pub fn close(&self, at_us: u64) {
        self.to_us.store(at_us.max(1), Ordering::Relaxed);
    }

    pub fn contains(&self, t: u64) -> bool {
        let from = self.from_us.load(Ordering::Relaxed);
        let to = self.to_us.load(Ordering::Relaxed);
        from != 0 && t >= from && (to == 0 || t < to)
    }

    /// The window's length in seconds, once closed.
    pub fn seconds(&self) -> f64 {
        let from = self.from_us.load(Ordering::Relaxed);
        let to = self.to_us.load(Ordering::Relaxed);
        to.saturating_sub(from) as f64 / 1e6
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// What every task of a run shares: its clock, its tally, and when to stop.
#[derive(Clone)]
pub struct Shared {
    pub epoch: Instant,
    pub tally: Arc<Tally>,
    pub stop: watch::Receiver<bool>,
}

impl Shared {
    /// A run starting now, and the sender that stops it.
    pub fn new() -> (watch::Sender<bool>, Shared) {
        let (stop_tx, stop) = watch::channel(false);
        (stop_tx, Shared { epoch: Instant::now(), tally: Arc::default(), stop })
    }

    /// Microseconds since the run's start.
    pub fn now(&self) -> u64 {
        micros(self.epoch)
    }
}

/// Which deliveries count, and which are timed.
#[derive(Debug, Clone, Copy)]
pub enum Timing {
    /// Those that arrive inside the window; every `every`th is timed. For flat-out runs, where
    /// parsing every send time would cost the bench a core.
    Arrivals { every: u64 },
    /// Those sent inside the window, each timed: exact loss, for paced runs. With `in_order`
    /// (chat-server, which numbers a room's messages and sends each member them in that
    /// order), a delivery whose `seq` is not above the last one the member got is a repeat or
    /// out of order: counted in the tally's `repeated` instead, so that every message must
    /// reach every member once. (The bare server numbers its messages but may deliver them out
    /// of order.)
    SendTimes { in_order: bool },
}

/// Flat out: the room's delivery counts, and this member's index in them.
pub type Counted = (Arc<Deliveries>, usize);

/// Counts deliveries from one member's socket and times them from the send time in their
/// text; flat out, also counts them per sender in the room's [`Deliveries`], once a read.
/// Returns the latencies when the socket closes or `stop` turns true.
pub async fn receive(
    mut r: BufReader<Reader>,
    counted: Option<Counted>,
    timing: Timing,
    shared: Shared,
) -> Histogram {
    let Shared { epoch, tally, mut stop } = shared;
    let mut partial: Vec<u8> = Vec::new();
    let mut latencies = Histogram::default();
    let mut seen = 0u64;
    // This read's deliveries from each sender, and where the last line's `from` was.
    let mut from_senders = vec![0u64; counted.as_ref().map_or(0, |(d, _)| d.senders())];
    let mut from_at = 0;
    // The last `seq` this member got, for `Timing::SendTimes { in_order: true }`.
    let mut last_seq = 0u64;
    loop {
        let n = tokio::select! {
            biased;
            _ = stop.wait_for(|&s| s) => return latencies,
            read = r.fill_buf() => match read {
                Ok([]) | Err(_) => return latencies,
                Ok(bytes) => {
                    partial.extend_from_slice(bytes);
                    bytes.len()
                }
            },
        };
        r.consume(n);
        let now = micros(epoch);
        let arrived_in_window = tally.contains(now);
        let mut start = 0;
        let (mut arrived, mut bad, mut repeated) = (0u64, 0u64, 0u64);
        // SIMD searches (memchr): at millions of lines a second, the bench's own core must not
        // be what limits the figures.
        for end in memchr::memchr_iter(b'\n', &partial) {
            let line = &partial[start..end];
            start = end + 1;
            if line.starts_with(MESSAGE) {
                seen += 1;
                if let Some((deliveries, _)) = &counted
                    && let Some(s) = deliveries.sender_of(line, &mut from_at)
                {
                    from_senders[s] += 1;
                }
                match timing {
                    Timing::Arrivals { every } => {
                        if arrived_in_window {
                            arrived += 1;
                            if seen.is_multiple_of(every)
                                && let Some(sent) = sent_at(line)
                            {
                                latencies.record(now.saturating_sub(sent));
                            }
                        }
                    }
                    Timing::SendTimes { in_order } => {
                        let again = in_order
                            && seq_of(line).is_some_and(|seq| {
                                let again = seq <= last_seq;
                                last_seq = last_seq.max(seq);
                                again
                            });
                        if let Some(sent) = sent_at(line).filter(|&t| tally.contains(t)) {
                            if again {
                                repeated += 1;
                            } else {
                                arrived += 1;
                                latencies.record(now.saturating_sub(sent));
                            }
                        }
                    }
                }
            } else if line.starts_with(ERROR) && arrived_in_window {
                bad += 1;
            }
        }
        // What is left is the start of a line: the buffer stays near one read's size.
        partial.drain(..start);
        tally.delivered.fetch_add(arrived, Ordering::Relaxed);
        tally.errors.fetch_add(bad, Ordering::Relaxed);
        if repeated > 0 {
            tally.repeated.fetch_add(repeated, Ordering::Relaxed);
        }
        if let Some((deliveries, member)) = &counted {
            deliveries.received(*member, &mut from_senders);
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;

    use super::*;

    #[test]
    fn say_lines_carry_their_send_time() {
        let mut out = Vec::new();
        say_line(&mut out, "lobby", 1_234_567, &padding(20));
        assert_eq!(
            out,
            b"{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"t0000000001234567xxx\"}\n"
        );
        let delivered = br#"{"type":"message","id":"x","room":"lobby","seq":1,"from":"m0","kind":"say","text":"t0000000001234567xxx","ts":1}"#;
        assert_eq!(sent_at(delivered), Some(1_234_567));
        assert_eq!(sent_at(br#"{"type":"message","text":"hello"}"#), None);
        assert_eq!(sent_at(br#"{"type":"message","text":"t12"}"#), None);
        assert_eq!(seq_of(delivered), Some(1));
        assert_eq!(
            seq_of(br#"{"type":"message","room":"r","seq":1234567,"from":"m0"}"#),
            Some(1234567)
        );
        assert_eq!(seq_of(br#"{"type":"message","text":""seq":5"}"#), None);
        assert_eq!(seq_of(br#"{"type":"message","seq":}"#), None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_member_counts_what_each_sender_said_to_it() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let (r, _w) = client.into_split();
        let r = Reader::Plain(r);
        let deliveries = Arc::new(Deliveries::new("", 2, 3));
        let (stop_tx, shared) = Shared::new();
        let reading = tokio::spawn(receive(
            BufReader::new(r),
            Some((deliveries.clone(), 1)),
            Timing::Arrivals { every: 8 },
            shared,
        ));
        let line = |from: &str| {
            format!(
                "{{\"type\":\"message\",\"id\":\"x\",\"room\":\"lobby\",\"seq\":1,\"from\":\"{from}\",\"kind\":\"say\",\"text\":\"t0000000000000001\",\"ts\":1}}\n"
            )
        };
        // Sender 0 twice, sender 1 once, a listener, a presence line; the last message is cut
        // between two writes.
        let presence = "{\"type\":\"presence\",\"from\":\"m1\"}\n";
        let all = [line("m0"), line("m2"), line("m1"), line("m0")].concat() + presence;
        let cut = all.len() - presence.len() - 40;
        let d = &deliveries;
        let until = |s, n| async move {
            let wait = async {
                while d.count(s, 1) < n {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            };
            tokio::time::timeout(Duration::from_secs(5), wait).await.is_ok()
        };
        server.write_all(&all.as_bytes()[..cut]).await.unwrap();
        assert!(until(1, 1).await, "sender 1's line counted");
        assert_eq!(d.count(0, 1), 1, "the cut line is not counted yet");
        server.write_all(&all.as_bytes()[cut..]).await.unwrap();
        assert!(until(0, 2).await, "the cut line counted once whole");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!((d.count(0, 1), d.count(1, 1)), (2, 1));
        // Members 0 and 2 have received nothing: they hold both windows.
        assert_eq!((d.slowest(0), d.slowest(1)), ((0, 0), (0, 0)));
        let _ = stop_tx.send(true);
        reading.await.unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_repeat_or_an_older_seq_is_not_a_delivery() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let (r, _w) = client.into_split();
        let r = Reader::Plain(r);
        let (stop_tx, shared) = Shared::new();
        shared.tally.open(1);
        let tally = shared.tally.clone();
        let timing = Timing::SendTimes { in_order: true };
        let reading = tokio::spawn(receive(BufReader::new(r), None, timing, shared));
        let line = |seq: u64| {
            format!(
                "{{\"type\":\"message\",\"id\":\"x\",\"room\":\"lobby\",\"seq\":{seq},\"from\":\"m0\",\"kind\":\"say\",\"text\":\"t0000000000000005\",\"ts\":1}}\n"
            )
        };
        // 1, 2, 2 again, 4, then 3 late: three deliveries, two that are not.
        let all: String = [1, 2, 2, 4, 3].map(line).concat();
        server.write_all(all.as_bytes()).await.unwrap();
        let counted = async {
            while Tally::get(&tally.delivered) + Tally::get(&tally.repeated) < 5 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), counted).await.unwrap();
        assert_eq!((Tally::get(&tally.delivered), Tally::get(&tally.repeated)), (3, 2));
        let _ = stop_tx.send(true);
        reading.await.unwrap();
    }

    #[test]
    fn the_window_is_half_open() {
        let tally = Tally::default();
        assert!(!tally.contains(5), "not open yet");
        tally.open(10);
        assert!(tally.contains(10) && tally.contains(1_000_000));
        tally.close(20);
        assert!(tally.contains(19) && !tally.contains(20) && !tally.contains(9));
        assert_eq!(tally.seconds(), 10e-6);
    }
}
