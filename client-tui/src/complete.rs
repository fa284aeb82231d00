//! Tab completion of the word before the cursor: commands (`/jo` → `/join `), room names
//! (after `/join`, `/leave`, `/who`, or a word starting with `#`), and nicks: of the current
//! room for a plain word (at the start of the line with `: ` after it, as IRC clients do), of
//! everyone known after `/msg`. Nicks who spoke lately come first. Pressing Tab again cycles
//! through the candidates, Shift+Tab back; any other key ends the cycle.

use std::collections::BTreeSet;

use protocol::{Nick, RoomName, command::HELP};

use crate::app::App;
use crate::window::Target;

/// Entries looked back through to order nicks by how lately they spoke.
const RECENT_ENTRIES: usize = 500;

/// Commands only this client knows (not in the protocol's list).
const CLIENT_COMMANDS: [&str; 3] = ["/connect", "/members", "/quit"];

/// A completion in progress: Tab again cycles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// Byte index in the input where the completed word starts.
    start: usize,
    /// What each candidate becomes in the input, suffix included.
    candidates: Vec<String>,
    /// The candidate now in the input.
    index: usize,
    /// The input as this completion left it: if it changed since, the cycle is over.
    left: String,
}

impl Completion {
    pub fn candidates(&self) -> &[String] {
        &self.candidates
    }
}

/// What kind of word is being completed.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Command,
    Room {
        hash: bool,
    },
    /// Nicks of the current room; `line_start`: the word begins the line.
    Member {
        line_start: bool,
    },
    /// Anyone known.
    Anyone,
}

fn kind(before: &str, start: usize) -> Kind {
    let word = &before[start..];
    let previous = before[..start].split_whitespace().collect::<Vec<_>>();
    match (previous.as_slice(), word) {
        ([], w) if w.starts_with('/') => Kind::Command,
        (_, w) if w.starts_with('#') => Kind::Room { hash: true },
        ([cmd], _)
            if matches!(
                lower(cmd).as_str(),
                "/join" | "/j" | "/leave" | "/part" | "/who" | "/names"
            ) =>
        {
            Kind::Room { hash: false }
        }
        ([cmd], _) if matches!(lower(cmd).as_str(), "/msg" | "/query" | "/m") => Kind::Anyone,
        ([], _) => Kind::Member { line_start: true },
        _ => Kind::Member { line_start: false },
    }
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

impl App {
    /// Tab (`forward`) or Shift+Tab.
    pub(crate) fn complete(&mut self, forward: bool) {
        if let Some(c) = self.completion.as_mut().filter(|c| c.left == self.input.as_str()) {
            let n = c.candidates.len();
            c.index = if forward { (c.index + 1) % n } else { (c.index + n - 1) % n };
            let (start, with) = (c.start, c.candidates[c.index].clone());
            self.input.replace_before_cursor(start, &with);
            if let Some(c) = self.completion.as_mut() {
                c.left = self.input.as_str().to_owned();
            }
            return;
        }
        self.completion = None;
        let before = self.input.before_cursor();
        let start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let word = lower(&before[start..]);
        let candidates: Vec<String> = match kind(before, start) {
            Kind::Command => {
                let mut names: Vec<&str> = HELP
                    .iter()
                    .filter_map(|(usage, _)| usage.split_whitespace().next())
                    .chain(CLIENT_COMMANDS)
                    .collect();
                names.sort_unstable();
                names.dedup();
                names
                    .into_iter()
                    .filter(|n| n.starts_with(&word))
                    .map(|n| format!("{n} "))
                    .collect()
            }
            Kind::Room { hash } => {
                let typed = word.trim_start_matches('#');
                self.room_names()
                    .into_iter()
                    .filter(|r| lower(r.as_str()).starts_with(typed))
                    .map(|r| if hash { format!("#{r} ") } else { format!("{r} ") })
                    .collect()
            }
            Kind::Member { line_start } => {
                let suffix = if line_start { ": " } else { " " };
                self.nicks_here()
                    .into_iter()
                    .filter(|n| lower(n.as_str()).starts_with(&word))
                    .map(|n| format!("{n}{suffix}"))
                    .collect()
            }
            Kind::Anyone => self
                .nicks_known()
                .into_iter()
                .filter(|n| lower(n.as_str()).starts_with(&word))
                .map(|n| format!("{n} "))
                .collect(),
        };
        let Some(first) = candidates.first().cloned() else { return };
        self.input.replace_before_cursor(start, &first);
        self.completion =
            Some(Completion { start, candidates, index: 0, left: self.input.as_str().to_owned() });
    }

    /// Rooms the client knows of: its windows and the server's room lists.
    fn room_names(&self) -> Vec<RoomName> {
        let mut rooms: BTreeSet<RoomName> = self.windows.known_rooms.clone();
        for w in self.windows.iter() {
            if let Target::Room(room) = &w.target {
                rooms.insert(room.clone());
            }
        }
        rooms.into_iter().collect()
    }

    /// Members of the current room (or the other side of a private chat), those who spoke
    /// lately first, then the rest alphabetically; never ourselves.
    fn nicks_here(&self) -> Vec<Nick> {
        let Some(w) = self.windows.current_window() else { return Vec::new() };
        let mut out: Vec<Nick> = Vec::new();
        let me = self.link.nick.key();
        let mut push = |n: &Nick| {
            if n.key() != me && !out.iter().any(|o| o.key() == n.key()) {
                out.push(n.clone());
            }
        };
        for entry in w.entries().iter().rev().take(RECENT_ENTRIES) {
            if let Some(from) = &entry.from
                && (w.members.contains(from) || matches!(w.target, Target::Private(_)))
            {
                push(from);
            }
        }
        let mut rest: Vec<&Nick> = w.members.iter().collect();
        rest.sort_by_key(|n| lower(n.as_str()));
        for n in rest {
            push(n);
        }
        if let Target::Private(other) = &w.target {
            push(other);
        }
        out
    }

    /// Everyone the client knows of: members of every room and private chats, alphabetically.
    fn nicks_known(&self) -> Vec<Nick> {
        let me = self.link.nick.key();
        let mut all: Vec<Nick> = Vec::new();
        for w in self.windows.iter() {
            let from_target = match &w.target {
                Target::Private(n) => Some(n),
                Target::Room(_) => None,
            };
            for n in w.members.iter().chain(from_target) {
                if n.key() != me && !all.iter().any(|o| o.key() == n.key()) {
                    all.push(n.clone());
                }
            }
        }
        all.sort_by_key(|n| lower(n.as_str()));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_completed_depends_on_the_words_before() {
        let k = |s: &str| kind(s, s.rfind(' ').map_or(0, |i| i + 1));
        assert_eq!(k("/jo"), Kind::Command);
        assert_eq!(k("/join ru"), Kind::Room { hash: false });
        assert_eq!(k("/JOIN ru"), Kind::Room { hash: false });
        assert_eq!(k("see #ru"), Kind::Room { hash: true });
        assert_eq!(k("/msg Tr"), Kind::Anyone);
        assert_eq!(k("Tr"), Kind::Member { line_start: true });
        assert_eq!(k("hi Tr"), Kind::Member { line_start: false });
        assert_eq!(k("/msg Tracy hi Mi"), Kind::Member { line_start: false });
    }
}
