//! Pastes, as held and as sent. A paste of one line goes into the input line. A paste of several
//! lines is held ([`PendingPaste`]) and the person is asked what to do with it, so a wrong
//! clipboard never floods a room: send it as one multi-line message, send it line by line, put
//! it in the input line to edit (lines joined by spaces), or drop it.
//!
//! Line by line, one line is on its way at a time: the next goes when the server has echoed
//! the last and the server's advertised rate allows ([`crate::pace`]), with one progress line
//! ("sending 7/15...") meanwhile. When the server's flood control refuses a line all the same,
//! it is sent again once the server says it may be (`retry_after_ms`), so no line is lost and
//! none is sent twice. Lines typed while offline go out the same way ([`crate::unsent`]).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent};
use protocol::limits::MAX_TEXT_BYTES;
use protocol::{ClientMsg, ErrorCode, Nick, RoomName, Text};

use crate::pace::Pacer;
use crate::window::Target;

/// Longest paste held, in bytes; the rest is dropped (and the prompt says so).
pub const MAX_PASTE_BYTES: usize = 256 * 1024;
/// Most lines a paste sends line by line.
pub const MAX_PASTE_LINES: usize = 1_000;
/// How long a line sent line by line waits for its echo before the rest are given up.
pub const ECHO_WAIT: Duration = Duration::from_secs(30);

/// A multi-line paste waiting for the person's choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPaste {
    /// Lines joined by `\n`, without control characters; not yet sanitised for display.
    pub text: String,
    pub lines: usize,
    /// Bytes dropped past [`MAX_PASTE_BYTES`].
    pub cut: usize,
}

/// What to do with a multi-line paste.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasteChoice {
    AsOne,
    LineByLine,
    Edit,
    Cancel,
}

impl PasteChoice {
    /// The key for each choice, as the prompt shows them.
    pub const KEYS: [(&'static str, &'static str); 4] = [
        ("Enter", "send as one message"),
        ("L", "send line by line"),
        ("E", "edit in the input line"),
        ("Esc", "cancel"),
    ];

    pub fn from_key(key: &KeyEvent) -> Option<Self> {
        match key.code {
            KeyCode::Enter | KeyCode::Char('1' | 'o' | 'O' | 'y' | 'Y') => Some(Self::AsOne),
            KeyCode::Char('l' | 'L' | '2') => Some(Self::LineByLine),
            KeyCode::Char('e' | 'E' | '3') => Some(Self::Edit),
            KeyCode::Esc | KeyCode::Char('c' | 'C' | 'n' | 'N' | 'q') => Some(Self::Cancel),
            _ => None,
        }
    }
}

/// Where a paste goes: the room or the person of the window it was pasted in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Room(RoomName),
    Person(Nick),
}

impl Destination {
    /// Where messages in a window for `target` go; none from the server window.
    pub fn of(target: &Target) -> Option<Self> {
        match target {
            Target::Server => None,
            Target::Room(room) => Some(Self::Room(room.clone())),
            Target::Private(nick) => Some(Self::Person(nick.clone())),
        }
    }

    /// The request that sends `text` there.
    pub fn request(&self, text: Text) -> ClientMsg {
        match self {
            Self::Room(room) => ClientMsg::Say { room: room.clone(), text },
            Self::Person(to) => ClientMsg::Msg { to: to.clone(), text },
        }
    }
}

/// One line on its way: what it says and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub to: Destination,
    /// `/me` in a room; a private action is already in its text ([`crate::private`]).
    pub action: bool,
    pub text: Text,
    /// Typed while offline: the number of its `queued:` note in the window it was typed in
    /// ([`crate::entry::Entry::queued`]).
    pub note: Option<u64>,
}

impl Line {
    /// The line a request sends, if it is a message to a room or a person.
    pub fn of(request: &ClientMsg) -> Option<Self> {
        let (to, action, text) = match request {
            ClientMsg::Say { room, text } => (Destination::Room(room.clone()), false, text),
            ClientMsg::Action { room, text } => (Destination::Room(room.clone()), true, text),
            ClientMsg::Msg { to, text } => (Destination::Person(to.clone()), false, text),
            _ => return None,
        };
        Some(Self { to, action, text: text.clone(), note: None })
    }

    /// The request that sends it.
    pub fn request(&self) -> ClientMsg {
        match (&self.to, self.action) {
            (Destination::Room(room), true) => {
                ClientMsg::Action { room: room.clone(), text: self.text.clone() }
            }
            _ => self.to.request(self.text.clone()),
        }
    }
}

/// Lines being sent one at a time (a paste line by line, lines typed while offline), paced to
/// the server's rate ([`Pacer`]), each after the echo of the one before.
#[derive(Debug, Clone)]
pub struct LineQueue {
    waiting: VecDeque<Line>,
    /// The line sent and not yet echoed, and when it was sent.
    in_flight: Option<(Line, Instant)>,
    /// Refused by flood control: send `in_flight` again at this time.
    retry_at: Option<Instant>,
    /// The pace allows the next line at this time, not before.
    paced_at: Option<Instant>,
    /// Lines echoed so far, and lines in all: the progress shown.
    done: usize,
    total: usize,
}

/// What a line queue asks for when its time comes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pace {
    /// Nothing yet.
    Wait,
    /// Send this: the pace or flood control allows it now.
    Send(ClientMsg),
    /// The line on its way was never echoed: give up the rest.
    GiveUp,
}

impl LineQueue {
    /// The lines of `text` for `to`, long ones cut into pieces a message holds, at most
    /// [`MAX_PASTE_LINES`]; none sent yet.
    pub fn new(to: Destination, text: &str) -> Self {
        let lines = text
            .lines()
            .flat_map(pieces)
            .filter_map(|line| Text::parse(line).ok())
            .take(MAX_PASTE_LINES)
            .map(|text| Line { to: to.clone(), action: false, text, note: None });
        Self::of(lines)
    }

    /// `lines`, in order; none sent yet.
    pub fn of(lines: impl IntoIterator<Item = Line>) -> Self {
        let waiting: VecDeque<Line> = lines.into_iter().collect();
        let total = waiting.len();
        Self { waiting, in_flight: None, retry_at: None, paced_at: None, done: 0, total }
    }

    /// `line` goes after the ones waiting.
    pub fn push(&mut self, line: Line) {
        self.waiting.push_back(line);
        self.total += 1;
    }

    /// The lines of `other` go after these.
    pub fn extend(&mut self, other: LineQueue) {
        if let Some((line, _)) = other.in_flight {
            self.push(line);
        }
        other.waiting.into_iter().for_each(|line| self.push(line));
    }

    /// Lines not yet echoed, the one on its way included.
    pub fn left(&self) -> usize {
        self.waiting.len() + usize::from(self.in_flight.is_some())
    }

    /// Lines in all, sent or not.
    pub fn total(&self) -> usize {
        self.total
    }

    /// "sending 7/15...": the line on its way (or next) of all.
    pub fn progress(&self) -> String {
        format!("sending {}/{}...", (self.done + 1).min(self.total), self.total)
    }

    /// Sends the next line at `now` if one is waiting, nothing is on its way and `pacer`
    /// allows; otherwise, when the pace is what holds it, notes when it may go.
    pub fn send_next(&mut self, now: Instant, pacer: &mut Pacer) -> Option<ClientMsg> {
        if self.in_flight.is_some() || self.waiting.is_empty() {
            return None;
        }
        if let Err(at) = pacer.take(now) {
            self.paced_at = Some(at);
            return None;
        }
        self.paced_at = None;
        let line = self.waiting.pop_front()?;
        let request = line.request();
        self.in_flight = Some((line, now));
        Some(request)
    }

    /// Our own message arrived in room `room` (or a private one to `to`): if it is the line
    /// on its way, that line is done (its `queued:` note, if it has one, is returned with the
    /// request) and the next one goes when `pacer` allows.
    pub fn echoed(
        &mut self,
        room: Option<&RoomName>,
        to: Option<&Nick>,
        now: Instant,
        pacer: &mut Pacer,
    ) -> (Option<ClientMsg>, Option<u64>) {
        let Some((line, _)) = &self.in_flight else { return (None, None) };
        let ours = match (&line.to, room, to) {
            (Destination::Room(r), Some(room), _) => r == room,
            (Destination::Person(n), _, Some(to)) => n.key() == to.key(),
            _ => false,
        };
        if ours && self.retry_at.is_none() {
            let note = line.note;
            self.in_flight = None;
            self.done += 1;
            return (self.send_next(now, pacer), note);
        }
        (None, None)
    }

    /// Whether a line is on its way (sent, its echo not in yet).
    pub fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Whether an answer to a `request` (its type: `say`, `action`, `msg`) can be about the
    /// line on its way.
    pub fn answers(&self, request: &str) -> bool {
        self.in_flight.as_ref().is_some_and(|(line, _)| match (&line.to, line.action) {
            (Destination::Room(_), false) => request == "say",
            (Destination::Room(_), true) => request == "action",
            (Destination::Person(_), _) => request == "msg",
        })
    }

    /// The `queued:` note of the line on its way (sent, its echo not in yet), if it has one.
    pub fn in_flight_note(&self) -> Option<u64> {
        self.in_flight.as_ref().and_then(|(line, _)| line.note)
    }

    /// The `queued:` notes of the lines waiting, not sent yet.
    pub fn waiting_notes(&self) -> impl Iterator<Item = u64> + '_ {
        self.waiting.iter().filter_map(|line| line.note)
    }

    /// The server refused something at `now`. Flood control's "slow down" has the line on its
    /// way sent again when allowed; returns whether the rest must be given up instead.
    pub fn refused(&mut self, code: ErrorCode, retry_after_ms: Option<u64>, now: Instant) -> bool {
        if self.in_flight.is_none() {
            return false;
        }
        match (code, retry_after_ms) {
            (ErrorCode::Flood, Some(ms)) => {
                self.retry_at = Some(now + Duration::from_millis(ms));
                false
            }
            _ => true,
        }
    }

    /// Sends the next line when the pace allows, resends a refused line when flood control
    /// does; gives up on a line never echoed.
    pub fn pace(&mut self, now: Instant, pacer: &mut Pacer) -> Pace {
        if let Some(at) = self.retry_at
            && now >= at
        {
            self.retry_at = None;
            if let Some((line, sent)) = self.in_flight.as_mut() {
                *sent = now;
                return Pace::Send(line.request());
            }
        }
        if self.paced_at.is_some_and(|at| now >= at)
            && let Some(request) = self.send_next(now, pacer)
        {
            return Pace::Send(request);
        }
        if self.retry_at.is_none()
            && self.in_flight.as_ref().is_some_and(|(_, sent)| now >= *sent + ECHO_WAIT)
        {
            return Pace::GiveUp;
        }
        Pace::Wait
    }

    /// When [`LineQueue::pace`] has something to do.
    pub fn deadline(&self) -> Option<Instant> {
        let echo = self.in_flight.as_ref().map(|(_, sent)| *sent + ECHO_WAIT);
        self.retry_at.or(self.paced_at).or(echo)
    }
}

/// Normalises pasted text: `\r\n` and `\r` become `\n`, tabs four spaces, other control
/// characters are dropped, trailing blank lines too. Cut at [`MAX_PASTE_BYTES`].
pub fn normalise(pasted: &str) -> PendingPaste {
    let mut text = String::with_capacity(pasted.len().min(MAX_PASTE_BYTES));
    let mut cut = 0;
    let unified = pasted.replace("\r\n", "\n").replace('\r', "\n");
    for c in unified.chars() {
        let piece = match c {
            '\n' => "\n".to_owned(),
            '\t' => "    ".to_owned(),
            c if c.is_control() => continue,
            c => c.to_string(),
        };
        if text.len() + piece.len() > MAX_PASTE_BYTES {
            cut += piece.len();
            continue;
        }
        text.push_str(&piece);
    }
    let trimmed = text.trim_end_matches(|c: char| c.is_whitespace()).len();
    text.truncate(trimmed);
    let lines = text.lines().count();
    PendingPaste { text, lines, cut }
}

/// `text` in pieces of at most [`MAX_TEXT_BYTES`], cut at character boundaries.
fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > MAX_TEXT_BYTES {
        let mut at = MAX_TEXT_BYTES;
        while !rest.is_char_boundary(at) {
            at -= 1;
        }
        let (head, tail) = rest.split_at(at);
        out.push(head);
        rest = tail;
    }
    out.push(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_unifies_line_ends_and_drops_controls() {
        let p = normalise("one\r\ntwo\rthree\tx\u{1b}[31m\n\n \n");
        assert_eq!(p.text, "one\ntwo\nthree    x[31m");
        assert_eq!(p.lines, 3);
        assert_eq!(p.cut, 0);
        assert_eq!(normalise("single line\n").lines, 1);
        let big = normalise(&"x".repeat(MAX_PASTE_BYTES + 10));
        assert_eq!((big.text.len(), big.cut), (MAX_PASTE_BYTES, 10));
    }

    #[test]
    fn long_lines_are_cut_at_character_boundaries() {
        let line = "é".repeat(MAX_TEXT_BYTES);
        let parts = pieces(&line);
        assert_eq!(parts.concat(), line);
        assert!(parts.iter().all(|p| p.len() <= MAX_TEXT_BYTES && !p.is_empty()));
    }
}
