//! The composer: the input line being typed and what feeds it: the keys that edit it, recalling
//! sent lines with Up/Down, Tab completion, a paste waiting for a choice, pasted lines on
//! their way and the pace they go at, and lines typed while offline.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use protocol::Nick;

use crate::complete::Completion;
use crate::input::Input;
use crate::login::secret_command;
use crate::pace::Pacer;
use crate::paste::{LineQueue, PendingPaste, normalise};
use crate::unsent::Unsent;
use crate::windows::Windows;

/// Sent lines kept for Up/Down recall.
pub const HISTORY_CAPACITY: usize = 500;

#[derive(Debug, Default)]
pub struct Composer {
    pub input: Input,
    /// Lines sent, oldest first.
    history: Vec<String>,
    /// Position in `history` while recalling with Up/Down.
    recall: Option<usize>,
    /// A Tab completion being cycled through.
    pub completion: Option<Completion>,
    /// A multi-line paste waiting for the person to say what to do with it.
    pub paste: Option<PendingPaste>,
    /// Pasted lines being sent one at a time.
    pub(crate) sending: Option<LineQueue>,
    /// Lines typed while offline, and where each `/msg` was typed.
    pub unsent: Unsent,
    /// The server's rate for messages, and what was sent against it.
    pub(crate) pacer: Pacer,
}

impl Composer {
    /// A key that edits the line or recalls a sent one; returns whether it was one.
    pub fn edit(&mut self, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Char('a') if ctrl => self.input.home(),
            KeyCode::Char('e') if ctrl => self.input.end(),
            KeyCode::Char('u') if ctrl => self.input.delete_to_start(),
            KeyCode::Char('w') if ctrl => self.input.delete_word(),
            KeyCode::Char(c) if !ctrl && !alt => self.input.insert(c),
            KeyCode::Backspace => self.input.backspace(),
            KeyCode::Delete => self.input.delete(),
            KeyCode::Left => self.input.left(),
            KeyCode::Right => self.input.right(),
            KeyCode::Home => self.input.home(),
            KeyCode::End => self.input.end(),
            KeyCode::Up => self.recall_older(),
            KeyCode::Down => self.recall_newer(),
            _ => return false,
        }
        true
    }

    /// Enter: takes the line out of the input and remembers it for recall (unless it holds
    /// a password: [`secret_command`]); `None` if it is blank.
    pub fn submit(&mut self) -> Option<String> {
        let line = self.input.take();
        if line.trim().is_empty() {
            return None;
        }
        if secret_command(&line).is_none() {
            self.remember(&line);
        } else {
            self.recall = None;
        }
        Some(line)
    }

    /// Tab (`forward`) or Shift+Tab: the next candidate of the completion under way, or a new
    /// completion of the word before the cursor.
    pub fn complete(&mut self, forward: bool, windows: &Windows, me: &Nick) {
        if let Some(c) = self.completion.as_mut()
            && c.cycle(&mut self.input, forward)
        {
            return;
        }
        self.completion = Completion::start(&mut self.input, windows, me);
    }

    /// A bracketed paste: one line goes into the input, several wait for a choice.
    pub fn receive_paste(&mut self, pasted: &str) {
        let paste = normalise(pasted);
        if paste.lines <= 1 {
            self.input.insert_str(&paste.text);
        } else {
            self.paste = Some(paste);
        }
    }

    fn recall_older(&mut self) {
        let at = match self.recall {
            None if self.history.is_empty() => return,
            None => self.history.len() - 1,
            Some(0) => 0,
            Some(i) => i - 1,
        };
        self.recall = Some(at);
        self.input.set(&self.history[at]);
    }

    fn recall_newer(&mut self) {
        match self.recall {
            Some(i) if i + 1 < self.history.len() => {
                self.recall = Some(i + 1);
                self.input.set(&self.history[i + 1]);
            }
            Some(_) => {
                self.recall = None;
                self.input.set("");
            }
            None => {}
        }
    }

    fn remember(&mut self, line: &str) {
        self.recall = None;
        if self.history.last().map(String::as_str) != Some(line) {
            if self.history.len() == HISTORY_CAPACITY {
                self.history.remove(0);
            }
            self.history.push(line.to_owned());
        }
    }
}
