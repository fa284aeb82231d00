//! Everything the client reacts to, merged into one enum: keys and pastes from the terminal,
//! what the network task reports, and the clock.

use std::time::Instant;

use crossterm::event::KeyEvent;
use protocol::fingerprint::Sha256Digest;
use protocol::{Nick, ServerMsg};

use crate::chatlog::Record;
use crate::notify::Notice;
use crate::tls::{Refusal, Trusted};

#[derive(Debug, Clone)]
pub enum Event {
    Key(KeyEvent),
    Paste(String),
    /// The mouse wheel: rows to scroll the conversation, up positive.
    Scroll(i32),
    /// The terminal's new size in columns and rows.
    Resize(u16, u16),
    Net(NetEvent),
    /// The time now: timers (reconnecting, paced sending) that are due run. The event loop
    /// sends one at every wake-up; tests pass a fake clock.
    Tick(Instant),
    /// The terminal gained (true) or lost (false) focus, for terminals that say.
    Focus(bool),
}

/// What the network task tells the app.
#[derive(Debug, Clone)]
pub enum NetEvent {
    Connecting {
        server: String,
    },
    Connected {
        server: String,
        security: Security,
    },
    /// The connection could not be made; `reason` says why in plain words.
    Failed {
        reason: String,
    },
    /// The connection was not made: the server's certificate is not trusted (yet).
    Certificate(Refusal),
    Message(ServerMsg),
    /// A line from the server that this client cannot read (a newer server, a bug).
    Unreadable {
        reason: String,
    },
    /// The connection ended.
    Closed {
        reason: String,
    },
}

/// How a connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS, the certificate trusted for this reason.
    Tls(Trusted),
    /// Clear text; `loopback`: the server is on this machine, so nothing crosses a network.
    Plain { loopback: bool },
}

/// What the app asks its surroundings to do; `App::update` itself does no I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Send(protocol::ClientMsg),
    /// Open a new connection (the previous one has ended) and say [`crate::link::Link::hello`].
    Connect,
    /// Close the current connection without waiting for the server; no report follows.
    Disconnect,
    /// The person trusts this certificate of `server` (`host:port`): remember it, so this
    /// and later connections accept it.
    Trust {
        server: String,
        fingerprint: Sha256Digest,
    },
    /// Ring the terminal's bell.
    Bell,
    /// Ask the terminal for a desktop notification ([`crate::notify`]).
    Notify(Notice),
    /// Append a line to a window's chat log ([`crate::chatlog`]).
    Record(Record),
    /// The ignore list changed: keep these nicks on disk ([`crate::ignore`]).
    SaveIgnored(Vec<Nick>),
    Quit,
}
