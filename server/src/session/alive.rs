//! A session's deadlines: the hello, and pings (or, to a person at `nc`, a notice) to a
//! silent client.

use tokio::time::Instant;

/// The session's deadlines: hello before `hello_timeout`; after that, a ping (or a notice)
/// after `quiet` of silence, and the end `grace` after that.
///
/// The intervals are the server's ([`Silence`]), passed in rather than kept here: this lives
/// in every session's future.
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
    pub(super) fn deadline(&self, registered: bool, silence: Silence) -> Instant {
        if !registered {
            return self.hello_by;
        }
        if self.pinged {
            self.heard + silence.quiet + silence.grace
        } else {
            self.heard + silence.quiet
        }
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

/// How long a registered client may be silent: `quiet`, then it is pinged (or told, if it
/// cannot answer a ping), then `grace` more before the end.
#[derive(Debug, Clone, Copy)]
pub(super) struct Silence {
    pub(super) quiet: std::time::Duration,
    pub(super) grace: std::time::Duration,
}
