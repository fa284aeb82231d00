//! A session's deadlines: the hello, and pings to a silent client.

use tokio::time::Instant;

/// The session's deadlines: hello before `hello_timeout`; after that, a ping after
/// `ping_interval` of silence and the end after as long again.
///
/// The ping interval is the server's (`ServerInfo::ping_interval`), passed in rather than kept
/// here: this lives in every session's future.
pub(super) struct Alive {
    hello_by: Instant,
    heard: Instant,
    /// A ping was sent since the client was last heard.
    pinged: bool,
    /// Pings sent: the last one's token.
    pings: u64,
}

impl Alive {
    pub(super) fn new(hello_timeout: std::time::Duration) -> Self {
        let now = Instant::now();
        Self { hello_by: now + hello_timeout, heard: now, pinged: false, pings: 0 }
    }

    /// Anything from the client shows it is alive.
    pub(super) fn heard(&mut self) {
        self.heard = Instant::now();
        self.pinged = false;
    }

    /// When the next thing is due: the end of the hello time, a ping, or the end.
    pub(super) fn deadline(&self, registered: bool, interval: std::time::Duration) -> Instant {
        if !registered {
            return self.hello_by;
        }
        if self.pinged { self.heard + interval * 2 } else { self.heard + interval }
    }

    /// The token of a ping to send now, or `None` if one was sent already (time is up).
    pub(super) fn ping(&mut self) -> Option<u64> {
        if self.pinged {
            return None;
        }
        self.pings += 1;
        self.pinged = true;
        Some(self.pings)
    }
}
