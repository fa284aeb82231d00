//! A session's requests about people rather than rooms: going away and coming back, the away
//! answer its private messages may get, `whois`, and when it last spoke (for others' `whois`).

use protocol::{ErrorCode, Label, Nick, RequestError, ServerMsg, now_millis};

use super::Session;
use crate::dialect::Dialect;
use crate::hub::away_text;

impl<D: Dialect> Session<D> {
    /// `away`: marks the session away with its message (one line, bounded), or back; the
    /// answer is the state now in force.
    pub(super) fn away(&mut self, nick: &Nick, text: Option<&Label>) {
        let text = away_text(text);
        self.hub.set_away(nick, self.id, text.clone());
        self.write(&ServerMsg::Away { nick: nick.clone(), text });
    }

    /// After a private message from `from` to `to`: `to`'s away message, the first time in
    /// its away period.
    pub(super) fn tell_away(&mut self, from: &Nick, to: &Nick) {
        if let Some(away) = self.hub.away_reply(from, to) {
            self.write(&away);
        }
    }

    /// `whois`: what the hub knows of `whom`, as `nick` may see it.
    pub(super) fn whois(&mut self, nick: &Nick, whom: &Nick) -> Result<(), RequestError> {
        let answer = self.hub.whois(whom, nick, self.id).ok_or_else(|| {
            RequestError::new(ErrorCode::NoSuchNick, format!("nobody called {whom} is online"))
        })?;
        self.write(&answer);
        Ok(())
    }

    /// The session said something: its idle time starts again.
    pub(super) fn spoke(&self) {
        self.direct.spoke(now_millis());
    }

    /// Writes a page of members with the away messages of those on it.
    pub(super) fn write_members(&mut self, mut page: ServerMsg) {
        self.hub.mark_away(&mut page);
        self.write(&page);
    }
}
