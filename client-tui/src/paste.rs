//! Pastes. A paste of one line goes into the input line. A paste of several lines is held
//! and the person is asked what to do with it, so a wrong clipboard never floods a room:
//! send it as one multi-line message, send it line by line, put it in the input line to edit
//! (lines joined by spaces), or drop it.
//!
//! Line by line, one line is on its way at a time: the next goes when the server has echoed
//! the last. When the server's flood control refuses a line, it is sent again once the server
//! says it may be (`retry_after_ms`), so no line is lost and none is sent twice.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent};
use protocol::limits::MAX_TEXT_BYTES;
use protocol::{ClientMsg, ErrorCode, Nick, RoomName, Text};

use crate::app::{App, Connection};
use crate::entry::EntryKind;
use crate::event::Effect;
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

/// Where lines sent line by line go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Destination {
    Room(RoomName),
    Person(Nick),
}

impl Destination {
    fn request(&self, text: Text) -> ClientMsg {
        match self {
            Self::Room(room) => ClientMsg::Say { room: room.clone(), text },
            Self::Person(to) => ClientMsg::Msg { to: to.clone(), text },
        }
    }
}

/// Lines being sent one at a time.
#[derive(Debug, Clone)]
pub struct LineQueue {
    to: Destination,
    waiting: VecDeque<Text>,
    /// The line sent and not yet echoed, and when it was sent.
    in_flight: Option<(Text, Instant)>,
    /// Refused by flood control: send `in_flight` again at this time.
    retry_at: Option<Instant>,
}

impl LineQueue {
    /// Lines not yet echoed, the one on its way included.
    pub fn left(&self) -> usize {
        self.waiting.len() + usize::from(self.in_flight.is_some())
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

impl App {
    /// A bracketed paste arrived.
    pub(crate) fn on_paste(&mut self, pasted: &str) -> Vec<Effect> {
        let paste = normalise(pasted);
        if paste.lines <= 1 {
            self.input.insert_str(&paste.text);
        } else {
            self.paste = Some(paste);
        }
        Vec::new()
    }

    /// A key while a paste waits for a choice.
    pub(crate) fn on_paste_key(&mut self, key: &KeyEvent) -> Vec<Effect> {
        let Some(choice) = PasteChoice::from_key(key) else { return Vec::new() };
        let Some(paste) = self.paste.take() else { return Vec::new() };
        match choice {
            PasteChoice::Cancel => Vec::new(),
            PasteChoice::Edit => {
                self.input.insert_str(&paste.text);
                Vec::new()
            }
            PasteChoice::AsOne => match Text::parse(&paste.text) {
                Ok(text) => self.send_to_current(text),
                Err(e) => {
                    self.note(
                        EntryKind::Error,
                        &format!("cannot send the paste as one message: {e}; try line by line"),
                    );
                    self.paste = Some(paste);
                    Vec::new()
                }
            },
            PasteChoice::LineByLine => self.send_lines(&paste.text),
        }
    }

    /// Where the current window's messages go, if anywhere.
    fn destination(&self) -> Option<Destination> {
        match self.windows.current_window().map(|w| &w.target) {
            Some(Target::Room(room)) => Some(Destination::Room(room.clone())),
            Some(Target::Private(nick)) => Some(Destination::Person(nick.clone())),
            None => None,
        }
    }

    fn send_to_current(&mut self, text: Text) -> Vec<Effect> {
        if self.connection != Connection::Registered {
            self.note(EntryKind::Error, "not connected to the server; paste not sent");
            return Vec::new();
        }
        match self.destination() {
            Some(to) => vec![Effect::Send(to.request(text))],
            None => {
                self.note(EntryKind::Error, "you are not in a room; /join one first");
                Vec::new()
            }
        }
    }

    fn send_lines(&mut self, text: &str) -> Vec<Effect> {
        if self.connection != Connection::Registered {
            self.note(EntryKind::Error, "not connected to the server; paste not sent");
            return Vec::new();
        }
        if self.sending.is_some() {
            self.note(EntryKind::Error, "still sending the last paste; wait for it to finish");
            return Vec::new();
        }
        let Some(to) = self.destination() else {
            self.note(EntryKind::Error, "you are not in a room; /join one first");
            return Vec::new();
        };
        let lines: Vec<Text> = text
            .lines()
            .flat_map(pieces)
            .filter_map(|line| Text::parse(line).ok())
            .take(MAX_PASTE_LINES)
            .collect();
        let mut queue = LineQueue { to, waiting: lines.into(), in_flight: None, retry_at: None };
        let effects = self.send_next_line(&mut queue);
        if queue.left() > 0 {
            self.sending = Some(queue);
        }
        effects
    }

    fn send_next_line(&self, queue: &mut LineQueue) -> Vec<Effect> {
        let Some(line) = queue.waiting.pop_front() else { return Vec::new() };
        queue.in_flight = Some((line.clone(), self.now));
        vec![Effect::Send(queue.to.request(line))]
    }

    /// Our own message arrived in room `room` (or a private one to `to`): if it is the line
    /// on its way, the next one goes.
    pub(crate) fn paste_echoed(
        &mut self,
        room: Option<&RoomName>,
        to: Option<&Nick>,
    ) -> Vec<Effect> {
        let Some(mut queue) = self.sending.take() else { return Vec::new() };
        let ours = match (&queue.to, room, to) {
            (Destination::Room(r), Some(room), _) => r == room,
            (Destination::Person(n), _, Some(to)) => n.key() == to.key(),
            _ => false,
        };
        let mut effects = Vec::new();
        if ours && queue.in_flight.is_some() && queue.retry_at.is_none() {
            queue.in_flight = None;
            effects = self.send_next_line(&mut queue);
        }
        if queue.left() > 0 {
            self.sending = Some(queue);
        }
        effects
    }

    /// An error from the server while lines are on their way: flood control's "slow down"
    /// retries the line; anything else stops the rest. (The error is shown either way.)
    pub(crate) fn paste_refused(&mut self, code: ErrorCode, retry_after_ms: Option<u64>) {
        let Some(queue) = self.sending.as_mut() else { return };
        if queue.in_flight.is_none() {
            return;
        }
        match (code, retry_after_ms) {
            (ErrorCode::Flood, Some(ms)) => {
                queue.retry_at = Some(self.now + Duration::from_millis(ms));
            }
            _ => self.stop_paste("the server refused a line"),
        }
    }

    /// Gives up the lines not yet sent, saying why.
    pub(crate) fn stop_paste(&mut self, why: &str) {
        if let Some(queue) = self.sending.take() {
            let left = queue.left();
            self.note(EntryKind::Error, &format!("{why}: {left} pasted lines not sent"));
        }
    }

    /// Resends a refused line when flood control allows; gives up on a line never echoed.
    pub(crate) fn pace_paste(&mut self, now: Instant) -> Vec<Effect> {
        let Some(queue) = self.sending.as_mut() else { return Vec::new() };
        if let Some(at) = queue.retry_at
            && now >= at
        {
            queue.retry_at = None;
            if let Some((line, sent)) = queue.in_flight.as_mut() {
                *sent = now;
                return vec![Effect::Send(queue.to.request(line.clone()))];
            }
        }
        if queue.retry_at.is_none()
            && queue.in_flight.as_ref().is_some_and(|(_, sent)| now >= *sent + ECHO_WAIT)
        {
            self.stop_paste("no echo from the server");
        }
        Vec::new()
    }

    pub(crate) fn paste_deadline(&self) -> Option<Instant> {
        let queue = self.sending.as_ref()?;
        queue.retry_at.or_else(|| queue.in_flight.as_ref().map(|(_, sent)| *sent + ECHO_WAIT))
    }
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
