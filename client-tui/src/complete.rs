//! Tab completion of the word before the cursor: commands (`/jo` → `/join `, `/ki` →
//! `/kick `), room names (after `/join`, `/leave`, `/who`, after `/invite NICK`, or a word
//! starting with `#`), and nicks: of the current room for a plain word (at the start of the
//! line with `: ` after it, as IRC clients do) and after the commands about a member of the
//! room (`/kick`, `/ban`, `/mute`, `/op`, `/voice`, ...), of everyone known after `/msg`,
//! `/invite` and `/kill`. Nicks who spoke lately come first. Pressing Tab again cycles
//! through the candidates, Shift+Tab back; any other key ends the cycle.

use std::collections::BTreeSet;

use protocol::command::{self, CommandError, HELP};
use protocol::{Nick, RoomName};

use crate::input::Input;
use crate::window::Target;
use crate::windows::Windows;

/// Entries looked back through to order nicks by how lately they spoke.
const RECENT_ENTRIES: usize = 500;

/// Commands only this client knows (not in the protocol's list).
const CLIENT_COMMANDS: [&str; 4] = ["/connect", "/members", "/ignore", "/unignore"];

/// Commands whose first word is a member of the current room.
const ABOUT_A_MEMBER: [&str; 10] =
    ["/kick", "/k", "/ban", "/unban", "/mute", "/unmute", "/op", "/deop", "/voice", "/devoice"];

/// Commands whose first word is anyone, in the room or not: `/invite` lets somebody in who is
/// not there yet.
const ABOUT_ANYONE: [&str; 7] =
    ["/msg", "/query", "/m", "/invite", "/kill", "/ignore", "/unignore"];

/// Every command name a person may type, for completing: each usage's command in the
/// protocol's [`HELP`] and each command its descriptions mention (`also /passwd`, `/deop`),
/// those the parser knows, and the client's own. Sorted, each once.
pub fn command_names() -> Vec<&'static str> {
    let words = HELP.iter().flat_map(|(usage, what)| {
        let command = usage.split_whitespace().next();
        let mentioned = what
            .split_whitespace()
            .map(|w| w.trim_start_matches('(').trim_end_matches([',', ';', ')', '.']));
        command.into_iter().chain(mentioned)
    });
    let mut names: Vec<&str> = words
        .filter(|w| w.len() > 1 && w.starts_with('/'))
        .filter(|w| !matches!(command::parse(w), Err(CommandError::Unknown(_))))
        .chain(CLIENT_COMMANDS)
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

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
        ([cmd], _) if ABOUT_ANYONE.contains(&lower(cmd).as_str()) => Kind::Anyone,
        ([cmd], _) if ABOUT_A_MEMBER.contains(&lower(cmd).as_str()) => {
            Kind::Member { line_start: false }
        }
        ([cmd, _], _) if lower(cmd) == "/invite" => Kind::Room { hash: false },
        ([], _) => Kind::Member { line_start: true },
        _ => Kind::Member { line_start: false },
    }
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

impl Completion {
    /// Completes the word before the cursor in `input` with its first candidate; `None` when
    /// nothing fits. Candidates come from the open `windows`, never `me`.
    pub fn start(input: &mut Input, windows: &Windows, me: &Nick) -> Option<Self> {
        let before = input.before_cursor();
        let start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let candidates = candidates(before, start, windows, me);
        let first = candidates.first()?.clone();
        input.replace_before_cursor(start, &first);
        Some(Self { start, candidates, index: 0, left: input.as_str().to_owned() })
    }

    /// Tab again (`forward`) or Shift+Tab: the next or previous candidate in place of this one.
    /// Returns false, and does nothing, if `input` changed since: the cycle is over.
    pub fn cycle(&mut self, input: &mut Input, forward: bool) -> bool {
        if self.left != input.as_str() {
            return false;
        }
        let n = self.candidates.len();
        self.index = if forward { (self.index + 1) % n } else { (self.index + n - 1) % n };
        input.replace_before_cursor(self.start, &self.candidates[self.index]);
        self.left = input.as_str().to_owned();
        true
    }

    pub fn candidates(&self) -> &[String] {
        &self.candidates
    }
}

/// What the word at byte `start` of `before` (the input before the cursor) may become.
fn candidates(before: &str, start: usize, windows: &Windows, me: &Nick) -> Vec<String> {
    let word = lower(&before[start..]);
    match kind(before, start) {
        Kind::Command => matching(command_names(), &word, "", " "),
        Kind::Room { hash } => {
            let typed = word.trim_start_matches('#');
            let prefix = if hash { "#" } else { "" };
            matching(room_names(windows).iter().map(RoomName::as_str), typed, prefix, " ")
        }
        Kind::Member { line_start } => {
            let suffix = if line_start { ": " } else { " " };
            matching(nicks_here(windows, me).iter().map(Nick::as_str), &word, "", suffix)
        }
        Kind::Anyone => matching(nicks_known(windows, me).iter().map(Nick::as_str), &word, "", " "),
    }
}

/// The `names` that start with `typed` (in any case), each as it goes into the input.
fn matching<'a>(
    names: impl IntoIterator<Item = &'a str>,
    typed: &str,
    prefix: &str,
    suffix: &str,
) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| lower(n).starts_with(typed))
        .map(|n| format!("{prefix}{n}{suffix}"))
        .collect()
}

/// Rooms the client knows of: its windows and the server's room lists.
fn room_names(windows: &Windows) -> Vec<RoomName> {
    let mut rooms: BTreeSet<RoomName> = windows.known_rooms.clone();
    for w in windows.iter() {
        if let Target::Room(room) = &w.target {
            rooms.insert(room.clone());
        }
    }
    rooms.into_iter().collect()
}

/// Members of the current room (or the other side of a private chat), those who spoke
/// lately first, then the rest alphabetically; never `me`.
fn nicks_here(windows: &Windows, me: &Nick) -> Vec<Nick> {
    let Some(w) = windows.current_window() else { return Vec::new() };
    let mut out: Vec<Nick> = Vec::new();
    let mut push = |n: &Nick| {
        if n.key() != me.key() && !out.iter().any(|o| o.key() == n.key()) {
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

/// Everyone the client knows of: members of every room and private chats, alphabetically;
/// never `me`.
fn nicks_known(windows: &Windows, me: &Nick) -> Vec<Nick> {
    let mut all: Vec<Nick> = Vec::new();
    for w in windows.iter() {
        let from_target = match &w.target {
            Target::Private(n) => Some(n),
            Target::Room(_) | Target::Server => None,
        };
        for n in w.members.iter().chain(from_target) {
            if n.key() != me.key() && !all.iter().any(|o| o.key() == n.key()) {
                all.push(n.clone());
            }
        }
    }
    all.sort_by_key(|n| lower(n.as_str()));
    all
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
        assert_eq!(k("/kick Tr"), Kind::Member { line_start: false });
        assert_eq!(k("/VOICE Tr"), Kind::Member { line_start: false });
        assert_eq!(k("/invite Tr"), Kind::Anyone);
        assert_eq!(k("/invite Tracy ru"), Kind::Room { hash: false });
    }

    #[test]
    fn every_command_is_a_name_to_complete() {
        let names = command_names();
        for name in [
            "/join",
            "/leave",
            "/msg",
            "/register",
            "/passwd",
            "/unregister",
            "/topic",
            "/mode",
            "/invite",
            "/kick",
            "/ban",
            "/unban",
            "/bans",
            "/mute",
            "/unmute",
            "/op",
            "/deop",
            "/voice",
            "/devoice",
            "/claim",
            "/disown",
            "/kill",
            "/gban",
            "/ungban",
            "/gbans",
            "/help",
            "/exit",
            "/quit",
            "/members",
            "/connect",
            "/ignore",
            "/unignore",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        assert!(names.iter().all(|n| !n.ends_with([',', ';', ')'])), "{names:?}");
    }
}
