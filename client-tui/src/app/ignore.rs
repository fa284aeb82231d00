//! `/ignore NICK`, `/unignore NICK`, `/ignore` (the list): local commands over
//! [`crate::ignore::IgnoreList`], and leaving out what ignored people say: their room messages
//! (live, in history, filled in after a reconnect) and private messages are neither shown nor
//! counted, rung or notified for.

use protocol::Nick;

use super::App;
use crate::entry::{Entry, EntryKind};
use crate::event::Effect;
use crate::window::Window;

impl App {
    /// Carries out `line` if it is `/ignore` or `/unignore`; `None` if it is neither.
    pub(super) fn ignore_command(&mut self, line: &str) -> Option<Vec<Effect>> {
        let mut words = line.split_whitespace();
        let command = words.next()?;
        let ignore = command.eq_ignore_ascii_case("/ignore");
        if !ignore && !command.eq_ignore_ascii_case("/unignore") {
            return None;
        }
        let args: Vec<&str> = words.collect();
        let name = match (ignore, args.as_slice()) {
            (true, []) => {
                self.list_ignored();
                return Some(Vec::new());
            }
            (_, [name]) => name.trim_start_matches('@'),
            _ => {
                let usage = if ignore { "/ignore [NICK]" } else { "/unignore NICK" };
                self.note(EntryKind::Error, &format!("usage: {usage}"));
                return Some(Vec::new());
            }
        };
        let nick = match Nick::parse(name) {
            Ok(nick) => nick,
            Err(e) => {
                self.note(EntryKind::Error, &format!("cannot {command} that: {e}"));
                return Some(Vec::new());
            }
        };
        Some(if ignore { self.ignore(nick) } else { self.unignore(&nick) })
    }

    fn ignore(&mut self, nick: Nick) -> Vec<Effect> {
        if self.link.is_me(&nick) {
            self.note(EntryKind::Error, "you cannot ignore yourself");
            return Vec::new();
        }
        if let Err(e) = self.ignored.add(nick.clone()) {
            self.note(EntryKind::Error, &e.to_string());
            return Vec::new();
        }
        self.note(
            EntryKind::Info,
            &format!(
                "ignoring {nick}: their messages and private messages are not shown \
                 (/unignore {nick} to see them again)"
            ),
        );
        vec![Effect::SaveIgnored(self.ignored.named().to_vec())]
    }

    fn unignore(&mut self, nick: &Nick) -> Vec<Effect> {
        if !self.ignored.remove(nick) {
            self.note(EntryKind::Error, &format!("{nick} is not ignored"));
            return Vec::new();
        }
        self.note(EntryKind::Info, &format!("no longer ignoring {nick}"));
        vec![Effect::SaveIgnored(self.ignored.named().to_vec())]
    }

    fn list_ignored(&mut self) {
        let text = match self.ignored.named() {
            [] => "nobody is ignored (/ignore NICK hides someone's messages)".to_owned(),
            named => {
                let nicks: Vec<&str> = named.iter().map(Nick::as_str).collect();
                format!("ignored: {}", nicks.join(", "))
            }
        };
        self.note(EntryKind::Info, &text);
    }

    /// Whether what `from` says is left out: someone else, ignored.
    pub(crate) fn ignores(&self, from: &Nick) -> bool {
        !self.link.is_me(from) && self.ignored.contains(from)
    }

    /// Whether `entry`, on its way into window `index`, is left out: a message of someone
    /// ignored. Its number still counts as held, so the window neither asks for it again
    /// nor takes the next message for a gap.
    pub(super) fn hides(&mut self, index: usize, entry: &Entry) -> bool {
        let hidden = matches!(entry.kind, EntryKind::Say | EntryKind::Action)
            && entry.from.as_ref().is_some_and(|from| self.ignores(from));
        if hidden && let (Some(seq), Some(w)) = (entry.seq, self.windows.get_mut(index)) {
            passed(w, seq);
        }
        hidden
    }
}

/// Window `w` has seen message `seq` without holding an entry for it (left out): its range
/// of numbers held grows to take it in.
pub(super) fn passed(w: &mut Window, seq: u64) {
    w.newest_seq = Some(w.newest_seq.map_or(seq, |n| n.max(seq)));
    w.oldest_seq = Some(w.oldest_seq.map_or(seq, |o| o.min(seq)));
}
