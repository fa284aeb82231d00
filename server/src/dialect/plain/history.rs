//! How much of a room's earlier messages the plain-text port shows: on joining, the last
//! [`PLAIN_JOIN_LINES`] with a line saying how to see more; for `/history [N]`, which only this
//! port has (`chat-tui` pages its scrollback itself), the whole page asked for.

use std::collections::VecDeque;

use protocol::command::search::OLDER_MATCHES_EXIST;
use protocol::limits::MAX_HISTORY_PAGE;
use protocol::{ClientMsg, ErrorCode, MessageKind, RequestError, RoomName, Stored, sanitize};

use super::{author, message_lines};
use crate::limits::{PLAIN_HISTORY_ASKED, PLAIN_JOIN_LINES};

/// The usage of the plain port's own command, for `/help` and its errors.
pub(super) const USAGE: (&str, &str) = ("/history [N]", "show the last N messages of this room");

/// The lines of a search's answer: each match with its number (for `/goto`) and time, newest
/// first, between markers.
pub(super) fn found(room: &RoomName, text: &str, messages: &[Stored], more: bool) -> Vec<String> {
    let text = sanitize(text);
    if messages.is_empty() {
        return vec![format!("[{room}] No stored message holds \"{text}\".")];
    }
    let mut lines = vec![format!("[{room}] -- messages with \"{text}\", newest first --")];
    for m in messages {
        let from = author(&m.from, m.account);
        let prefix = match m.kind {
            MessageKind::Action => format!("[{room}] #{} {} * {from} ", m.seq, super::when(m.ts)),
            _ => format!("[{room}] #{} {} {from}: ", m.seq, super::when(m.ts)),
        };
        lines.extend(message_lines(&prefix, m.text()));
    }
    let end = if more { OLDER_MATCHES_EXIST } else { "end of matches" };
    lines.push(format!("[{room}] -- {end} --"));
    lines
}

/// The rooms of `/history` requests sent and not yet answered, oldest first: a page for one of
/// them is shown whole, any other page is a join's backlog.
#[derive(Debug, Default)]
pub(super) struct Asked(VecDeque<RoomName>);

impl Asked {
    /// The request of `/history [N]` typed in `current`, if `text` is that command.
    pub(super) fn read(
        &mut self,
        text: &str,
        current: Option<&RoomName>,
    ) -> Option<Result<ClientMsg, RequestError>> {
        let rest = text.trim().strip_prefix('/')?;
        let (name, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if !name.eq_ignore_ascii_case("history") {
            return None;
        }
        let limit = match args.trim() {
            "" => MAX_HISTORY_PAGE,
            n => match n.parse::<u32>() {
                Ok(n) if (1..=MAX_HISTORY_PAGE).contains(&n) => n,
                _ => {
                    return Some(Err(RequestError::new(
                        ErrorCode::BadCommand,
                        format!("usage: {}, N from 1 to {MAX_HISTORY_PAGE}", USAGE.0),
                    )));
                }
            },
        };
        let Some(room) = current else {
            return Some(Err(RequestError::new(
                ErrorCode::NotInRoom,
                "you are not in a room; /join one first",
            )));
        };
        self.expect(room);
        Some(Ok(ClientMsg::History { room: room.clone(), before: None, limit }))
    }

    /// A page of `room` was asked for (`/history`, `/goto`): it is shown whole.
    pub(super) fn expect(&mut self, room: &RoomName) {
        if self.0.len() == PLAIN_HISTORY_ASKED {
            self.0.pop_front();
        }
        self.0.push_back(room.clone());
    }

    /// The oldest `/history` was refused: no page answers it.
    pub(super) fn refused(&mut self) {
        self.0.pop_front();
    }

    /// Whether a page of `room` answers a `/history` (and is shown whole); forgets the request.
    fn answers(&mut self, room: &RoomName) -> bool {
        match self.0.iter().position(|r| r == room) {
            Some(at) => {
                self.0.remove(at);
                true
            }
            None => false,
        }
    }

    /// The lines of a page of earlier messages: all of an asked-for page; the last
    /// [`PLAIN_JOIN_LINES`] of a join's backlog, and how to see more when there is more.
    pub(super) fn render(
        &mut self,
        room: &RoomName,
        messages: &[Stored],
        beginning: bool,
    ) -> Vec<String> {
        if messages.is_empty() {
            self.answers(room);
            return Vec::new();
        }
        let whole = self.answers(room);
        let shown = if whole { messages.len() } else { messages.len().min(PLAIN_JOIN_LINES) };
        let skipped = messages.len() - shown;
        let mut lines = vec![format!("[{room}] -- earlier messages --")];
        for m in &messages[skipped..] {
            let from = author(&m.from, m.account);
            let (prefix, text) = match (m.kind, &m.text) {
                (MessageKind::Say, Some(text)) => (format!("[{room}] {from}: "), text),
                (MessageKind::Action, Some(text)) => (format!("[{room}] * {from} "), text),
                _ => {
                    lines.push(format!("[{room}] -- a message by {from}, deleted --"));
                    continue;
                }
            };
            lines.extend(message_lines(&prefix, text.as_str()));
        }
        if whole || (skipped == 0 && beginning) {
            lines.push(format!("[{room}] -- end of earlier messages --"));
        } else {
            lines.push(format!(
                "[{room}] -- end of earlier messages; /history {MAX_HISTORY_PAGE} shows more --"
            ));
        }
        lines
    }
}
