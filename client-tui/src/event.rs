//! Everything the client reacts to, merged into one enum: keys and pastes from the terminal,
//! what the network task reports, and the clock.

use crossterm::event::KeyEvent;
use protocol::ServerMsg;

#[derive(Debug, Clone)]
pub enum Event {
    Key(KeyEvent),
    Paste(String),
    /// The terminal's new size in columns and rows.
    Resize(u16, u16),
    Net(NetEvent),
}

/// What the network task tells the app.
#[derive(Debug, Clone)]
pub enum NetEvent {
    Connecting {
        server: String,
    },
    Connected {
        server: String,
    },
    /// The connection could not be made; `reason` says why in plain words.
    Failed {
        reason: String,
    },
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

/// What the app asks its surroundings to do; `App::update` itself does no I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Send(protocol::ClientMsg),
    Quit,
}
