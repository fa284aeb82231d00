//! What the server tells of people: our own away state (the answer to `/away`), someone's
//! away message after we wrote to them (shown in their private window, where the reply was
//! expected), and the answer to `/whois`.

use std::collections::BTreeMap;

use protocol::{Label, Nick, RoomName, ServerMsg, describe};

use super::App;
use crate::entry::{Entry, EntryKind, clean};
use crate::window::Target;

impl App {
    /// An `away` from the server: ours (we are away, or back) or that of someone we wrote to.
    pub(crate) fn on_away(&mut self, nick: Nick, text: Option<Label>) {
        let me = self.link.is_me(&nick);
        let line = describe::away(&nick, text.as_ref(), me);
        if me {
            self.away = text;
            self.note_from_server(EntryKind::Info, &line);
            return;
        }
        let index = self.windows.open(Target::Private(nick));
        let note = Entry::note(self.time_now(), EntryKind::Info, clean(&line));
        self.push(index, note);
    }

    /// Who of a page of members is away, and why, after the list itself.
    pub(crate) fn on_members_away(&mut self, room: &RoomName, away: &BTreeMap<Nick, Label>) {
        if away.is_empty() {
            return;
        }
        let who: Vec<String> = away.iter().map(|(nick, text)| format!("{nick} ({text})")).collect();
        let line = format!("away in #{room}: {}", who.join(", "));
        self.room_note(room, &line);
    }

    /// The answer to `/whois`: its lines in the window it was asked in.
    pub(crate) fn on_whois(&mut self, msg: &ServerMsg) {
        let lines = describe::whois(msg, |ts| {
            let day = self.settings.day_of(ts).map(|d| d.to_string()).unwrap_or_default();
            format!("{day} {}", self.settings.time_of(ts))
        });
        for line in lines {
            self.note_from_server(EntryKind::Info, &line);
        }
    }
}
