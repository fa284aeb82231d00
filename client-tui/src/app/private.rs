//! A private window's commands and a window's own: `/query` opens one, `/me` and `/who` work
//! in one, `/close` closes (or leaves) the current window, `/clear` empties its view, and a
//! `/msg` typed in another window is echoed where it was typed.
//!
//! `/me` in a private chat travels as a private message whose text starts with
//! [`ACTION_PREFIX`] (the protocol's convention, [`protocol::private_action`]): drawn as an
//! action here and on the plain port.

pub use protocol::private_action::{ACTION_PREFIX, action_text, as_action};
use protocol::{Nick, Text};

use super::App;
use crate::entry::{Entry, EntryKind, clean};
use crate::window::Target;

impl App {
    /// `/query NAME`: shows the private window with `nick`, opened if new. Nothing is sent.
    pub(super) fn query(&mut self, nick: Nick) {
        if self.link.is_me(&nick) {
            self.note(
                EntryKind::Error,
                "that is you: /query NAME opens a window with someone else",
            );
            return;
        }
        // The window with them under any look-alike of the name, as the server reads it.
        let open = self
            .windows
            .iter()
            .position(|w| matches!(&w.target, Target::Private(with) if with.key() == nick.key()));
        let index = open.unwrap_or_else(|| self.windows.open(Target::Private(nick)));
        self.windows.switch_to(index);
    }

    /// `/close` in a private window, or `/leave` there: the window goes.
    pub(super) fn close_current(&mut self) {
        self.windows.close(self.windows.current);
        let current = self.windows.current;
        self.windows.switch_to(current);
    }

    /// `/clear`: the current window's view emptied; its history can be scrolled back to.
    pub(super) fn clear_current(&mut self) {
        let width = self.message_width();
        if let Some(w) = self.windows.current_window_mut() {
            w.clear(width);
        }
    }

    /// `/who` in the private window with `nick`: whether they are in any room we are in, as
    /// far as this client knows.
    pub(super) fn who_private(&mut self, nick: &Nick) {
        let rooms: Vec<String> = self
            .windows
            .iter()
            .filter(|w| matches!(w.target, Target::Room(_)))
            .filter(|w| w.members.iter().any(|m| m.key() == nick.key()))
            .map(|w| w.target.title())
            .collect();
        let text = if rooms.is_empty() {
            format!(
                "{nick} is in none of your rooms; /msg reaches them if they are online, and is \
                 kept for them if they have an account"
            )
        } else {
            format!("{nick} is online, in {}", rooms.join(", "))
        };
        self.note(EntryKind::Info, &text);
    }

    /// Our private message to `to` came back: if it was typed in another window (`/msg` in a
    /// room), it is shown there too, as `-> Tracy: text`.
    pub(super) fn private_echoed(&mut self, to: &Nick, text: &str) {
        let Some(typed_in) = self.composer.unsent.msg_answered(Some(to)) else { return };
        let Some(index) = self.windows.find(&typed_in) else { return };
        if self.windows[index].target == Target::Private(to.clone()) {
            return;
        }
        let line = clean(&format!("-> {to}: {text}"));
        let entry = Entry::note(self.time_now(), EntryKind::Info, line);
        self.push(index, entry);
    }

    /// `/me` in the private window with `to`.
    pub(super) fn private_action(&mut self, to: Nick, text: &Text) -> Option<protocol::ClientMsg> {
        match action_text(text) {
            Ok(text) => Some(protocol::ClientMsg::Msg { to, text }),
            Err(e) => {
                self.note(EntryKind::Error, &e.to_string());
                None
            }
        }
    }
}
