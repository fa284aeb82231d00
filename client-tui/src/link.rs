//! The connection as the app keeps it: where it stands, who we are on it (our nick, the
//! session's resume token, the account's password and whether we are logged in), how it is
//! protected, a certificate or password the person must be asked for, and whether and when
//! to try again after losing it ([`crate::reconnect`]).

use std::time::{Duration, Instant};

use protocol::{ByeCode, ClientMsg, Label, Nick, PROTOCOL_VERSION, Password};

use crate::event::Security;
use crate::login::{Credential, PasswordPrompt};
use crate::reconnect::Backoff;
use crate::tls::Refusal;

/// Why a plain-text client is not retried against a server that speaks TLS only: retrying in
/// clear would be turned away the same way, every time.
pub const TLS_ONLY: &str = "this server speaks TLS only: start chat-tui with --tls";

/// Why a connection that ended after too many wrong passwords is not retried by itself.
pub const LOGIN_FAILED: &str =
    "too many wrong passwords; type the password to try again, or /connect to be asked";

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    /// Connected, waiting for the welcome.
    Connected,
    Registered,
    Closed,
}

/// What follows a lost connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Retry {
    /// Nothing: the person is leaving.
    Leaving,
    /// Nothing: the server said goodbye for this reason (or its certificate is refused),
    /// which trying again would not change.
    Never(String),
    /// Nothing until the person answers whether to trust the server's certificate, or types
    /// the account's password.
    Asking,
    /// Another attempt, the `attempt`th since the last stable session, after `delay`.
    After { delay: Duration, attempt: u32 },
}

#[derive(Debug)]
pub struct Link {
    pub state: Connection,
    /// Our nick as the server knows it (the requested one until the welcome).
    pub nick: Nick,
    /// The session's resume token, from the welcome: the next hello shows it, so a lost
    /// connection gets the nick back at once even before the server notices it is dead.
    pub resume: Option<protocol::ResumeToken>,
    /// How the open connection is protected; `None` when none is open.
    pub security: Option<Security>,
    /// A refused certificate the person must see: one never seen ([`Refusal::Unknown`]: trust
    /// it?), or a changed one ([`Refusal::Changed`]: the warning, until closed).
    pub certificate: Option<Refusal>,
    /// The password every `hello` for its account carries: configured, typed at the prompt or
    /// given to `/register` in this run. In memory only.
    pub credential: Option<Credential>,
    /// Logged in: the session is the owner's of the account `nick`.
    pub account: bool,
    /// The server wants the account's password: the input line asks for it.
    pub login: Option<PasswordPrompt>,
    /// The new password of a `/register` or `/passwd` not answered yet: kept once it is.
    pub pending: Option<Password>,
    /// Why we are not on the nick asked for at start-up (taken, and what is tried instead):
    /// shown in the conversation pane until a window opens, then once in that window.
    pub nick_trouble: Option<String>,
    /// The nick asked for at start-up and how many fallbacks of it (`Mike_`, `Mike__`, ...)
    /// were tried since; `None` until it is refused.
    pub fallbacks: Option<(Nick, usize)>,
    /// Logins are throttled: no attempt before this.
    hold_until: Option<Instant>,
    /// When to try connecting again.
    backoff: Backoff,
    /// The person asked to quit: a lost connection is not retried.
    quitting: bool,
    /// The server said goodbye, or its certificate was refused, for a reason that retrying
    /// would not change.
    final_reason: Option<String>,
}

impl Link {
    /// Connecting as `nick`, for the first time; with the account's password if one is
    /// configured.
    pub fn new(nick: Nick, credential: Option<Credential>) -> Self {
        Self {
            state: Connection::Connecting,
            nick,
            resume: None,
            security: None,
            certificate: None,
            credential,
            account: false,
            login: None,
            pending: None,
            nick_trouble: None,
            fallbacks: None,
            hold_until: None,
            backoff: Backoff::default(),
            quitting: false,
            final_reason: None,
        }
    }

    /// The message to open the session with.
    pub fn hello(&self) -> ClientMsg {
        ClientMsg::Hello {
            nick: self.nick.clone(),
            protocol: PROTOCOL_VERSION,
            client: Label::truncate(concat!("chat-tui/", env!("CARGO_PKG_VERSION"))),
            resume: self.resume,
            password: self.password().cloned(),
        }
    }

    /// The password for our nick's account, if we have it.
    pub fn password(&self) -> Option<&Password> {
        self.credential.as_ref().filter(|c| c.opens(&self.nick)).map(|c| &c.password)
    }

    /// The password we had for our nick was refused: forgotten, so that no later `hello`
    /// tries it again. Returns whether there was one (and where it came from).
    pub fn forget_password(&mut self) -> Option<crate::password::Origin> {
        let origin = self.credential.as_ref().filter(|c| c.opens(&self.nick)).map(|c| c.origin)?;
        self.credential = None;
        Some(origin)
    }

    /// Logins are throttled until `until`: the next attempt waits for it, however short the
    /// backoff would be.
    pub fn hold_until(&mut self, until: Instant) {
        self.hold_until = Some(until);
    }

    /// Whether `nick` is ours.
    pub fn is_me(&self, nick: &Nick) -> bool {
        nick.key() == self.nick.key()
    }

    /// Connected, welcomed or not: requests can be sent.
    pub fn is_open(&self) -> bool {
        matches!(self.state, Connection::Connected | Connection::Registered)
    }

    /// Waiting to try connecting again.
    pub fn reconnecting(&self) -> bool {
        self.state == Connection::Closed && self.backoff.deadline().is_some()
    }

    /// When the next attempt is due, if one is waiting.
    pub fn retry_at(&self) -> Option<Instant> {
        self.backoff.deadline()
    }

    /// The server welcomed us at `now` as `nick`, with a token to resume the session by.
    pub fn welcomed(&mut self, nick: Nick, resume: Option<protocol::ResumeToken>, now: Instant) {
        self.state = Connection::Registered;
        self.resume = resume;
        self.nick = nick;
        self.login = None;
        self.hold_until = None;
        self.backoff.registered(now);
    }

    /// The connection is gone at `now`: unless the person is leaving (or the server said not
    /// to come back), schedules the next attempt.
    pub fn lost(&mut self, now: Instant) -> Retry {
        self.state = Connection::Closed;
        self.security = None;
        self.account = false;
        if self.quitting {
            return Retry::Leaving;
        }
        if let Some(why) = &self.final_reason {
            return Retry::Never(why.clone());
        }
        if matches!(self.certificate, Some(Refusal::Unknown { .. })) || self.login.is_some() {
            self.backoff.cancel();
            return Retry::Asking;
        }
        let mut delay = self.backoff.lost(now);
        // A throttled login is not tried again before the server said it may be.
        if let Some(until) = self.hold_until.take()
            && until > now + delay
        {
            self.backoff.postpone(until);
            delay = until - now;
        }
        Retry::After { delay, attempt: self.backoff.failures() }
    }

    /// The server's goodbye: some reasons mean trying again would fail the same way.
    pub fn bye(&mut self, code: ByeCode, message: &str) {
        // Replaced: another client showed our token and has the nick now; ours is spent, so
        // retrying would only meet "nick in use", and as a comeback that is retried forever.
        if matches!(code, ByeCode::Quit | ByeCode::UnsupportedProtocol | ByeCode::Replaced) {
            self.final_reason = Some(message.to_owned());
        }
        if code == ByeCode::TlsRequired {
            self.final_reason = Some(TLS_ONLY.to_owned());
        }
        // The same password would be refused again: the person types it, or /connect.
        if code == ByeCode::LoginFailed {
            self.final_reason = Some(LOGIN_FAILED.to_owned());
        }
    }

    /// The server's certificate is refused for `why`: not retried until `/connect`.
    pub fn refuse(&mut self, why: String) {
        self.final_reason = Some(why);
    }

    /// The person is leaving: nothing is retried. Returns whether the server is there to be
    /// told.
    pub fn quit(&mut self) -> bool {
        self.quitting = true;
        self.backoff.cancel();
        self.is_open()
    }

    /// Whether the next attempt is due at `now`; if so, it starts.
    pub fn due(&mut self, now: Instant) -> bool {
        if self.state == Connection::Closed && self.backoff.take_due(now) {
            self.start();
            return true;
        }
        false
    }

    /// `/connect`: an attempt now instead of after the backoff, even after a final goodbye or
    /// a refused certificate. Returns false, and does nothing, unless the connection is closed.
    pub fn connect_now(&mut self) -> bool {
        if self.state != Connection::Closed {
            return false;
        }
        self.backoff.cancel();
        self.final_reason = None;
        self.certificate = None;
        self.start();
        true
    }

    /// An attempt starts. The state is `Connecting` from here on, so neither a due timer nor
    /// another `/connect` starts one again before this attempt has ended.
    fn start(&mut self) {
        self.state = Connection::Connecting;
    }
}
