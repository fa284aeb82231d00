//! Logging in to an account: the password the client says `hello` with ([`Credential`]),
//! the masked prompt that asks for one ([`PasswordPrompt`]), and the typed lines that carry
//! one (`/register`, `/passwd`, `/unregister`) or a room's key (`/join ROOM KEY`, `/mode +k
//! KEY`): [`secret_command`].
//!
//! A password is only ever held as a [`Password`] (wiped when dropped, hidden from `Debug`)
//! or in the prompt's buffer (the same); it is drawn as asterisks, kept out of the input
//! history, and never written to the log or to a file.

use std::fmt;

use protocol::limits::MAX_PASSWORD_BYTES;
use protocol::{Nick, NickKey, Password};

use crate::password::{Origin, wipe_string};

/// Shown for a password on the screen, whatever its length.
pub const MASK: &str = "********";

/// The password for one account, kept in memory for this run's connections.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The account it opens: sent only in a `hello` for this nick (or one that looks like
    /// it), never to another account.
    pub nick: NickKey,
    pub password: Password,
    pub origin: Origin,
}

impl Credential {
    pub fn new(nick: &Nick, password: Password, origin: Origin) -> Self {
        Self { nick: nick.key(), password, origin }
    }

    /// Whether this is the password of `nick`'s account.
    pub fn opens(&self, nick: &Nick) -> bool {
        self.nick == nick.key()
    }
}

/// The input line as a password prompt: "Password for Michael: ********".
pub struct PasswordPrompt {
    /// The account asked for.
    pub nick: Nick,
    /// What was typed; never reallocated (so no copy is left behind), wiped when dropped.
    typed: String,
}

impl fmt::Debug for PasswordPrompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordPrompt")
            .field("nick", &self.nick)
            .field("typed", &"(hidden)")
            .finish()
    }
}

impl Drop for PasswordPrompt {
    fn drop(&mut self) {
        wipe_string(std::mem::take(&mut self.typed));
    }
}

impl PasswordPrompt {
    pub fn new(nick: Nick) -> Self {
        Self { nick, typed: String::with_capacity(MAX_PASSWORD_BYTES) }
    }

    /// A typed character; control characters and anything past the longest password are
    /// not kept.
    pub fn insert(&mut self, c: char) {
        if c.is_control() || self.typed.len() + c.len_utf8() > MAX_PASSWORD_BYTES {
            return;
        }
        self.typed.push(c);
    }

    /// A paste: its first line.
    pub fn insert_str(&mut self, s: &str) {
        for c in s.chars().take_while(|&c| c != '\n' && c != '\r') {
            self.insert(c);
        }
    }

    pub fn backspace(&mut self) {
        self.typed.pop();
    }

    pub fn clear(&mut self) {
        // The bytes stay in the buffer until overwritten: overwrite them now.
        let len = self.typed.len();
        self.typed.clear();
        self.typed.extend(std::iter::repeat_n('\0', len));
        self.typed.clear();
    }

    /// Characters typed: the number of asterisks shown.
    pub fn len(&self) -> usize {
        self.typed.chars().count()
    }

    pub fn is_empty(&self) -> bool {
        self.typed.is_empty()
    }

    /// The prompt's label.
    pub fn label(&self) -> String {
        format!("Password for {}: ", protocol::sanitize(self.nick.as_str()))
    }

    /// What was typed, as a password (`None` if nothing was); the prompt is emptied.
    pub fn take(&mut self) -> Option<Password> {
        let password = Password::parse(&self.typed).ok();
        self.clear();
        password
    }
}

/// The commands whose arguments are passwords.
const SECRET_COMMANDS: [&str; 3] = ["register", "passwd", "unregister"];

/// Where the secret part of `line` starts (a byte index): after `/register`, `/passwd` or
/// `/unregister` (in any case) and a space; after `/join ROOM` and a space (the room's key);
/// after a `/mode` change that sets a key (`+k`, `+ik`) and a space. Everything from there on
/// is drawn as asterisks and the line is never kept for recall. `None` while nothing secret
/// has been typed.
pub fn secret_command(line: &str) -> Option<usize> {
    let rest = line.strip_prefix('/')?;
    let end = rest.find(char::is_whitespace)?;
    let name = &rest[..end];
    let args = 1 + end;
    if SECRET_COMMANDS.iter().any(|c| c.eq_ignore_ascii_case(name)) {
        return Some(args);
    }
    if ["join", "j"].iter().any(|c| c.eq_ignore_ascii_case(name)) {
        return after_word(line, args, |_| true);
    }
    if name.eq_ignore_ascii_case("mode") {
        return after_word(line, args, sets_key);
    }
    None
}

/// The byte index just past the first word of `line` from byte `from` on that `wanted`
/// accepts, when something (a space at least) follows it.
fn after_word(line: &str, from: usize, wanted: impl Fn(&str) -> bool) -> Option<usize> {
    let mut at = from;
    for piece in line[from..].split_inclusive(char::is_whitespace) {
        let word = piece.trim_end();
        let end = at + word.len();
        at += piece.len();
        if !word.is_empty() && wanted(word) {
            return (end < line.len()).then_some(end);
        }
    }
    None
}

/// Whether a `/mode` word sets a key (`+k`, `+ik`, `-m+k`): the next word is the key.
fn sets_key(word: &str) -> bool {
    let mut on = false;
    for c in word.chars() {
        match c {
            '+' => on = true,
            '-' => on = false,
            'k' if on => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn secret_commands_are_found_in_any_case() {
        assert_eq!(secret_command("/register hunter2"), Some(9));
        assert_eq!(secret_command("/REGISTER hunter2"), Some(9));
        assert_eq!(secret_command("/passwd a b"), Some(7));
        assert_eq!(secret_command("/unregister x"), Some(11));
        assert_eq!(secret_command("/register"), None, "nothing secret typed yet");
        assert_eq!(secret_command("//register x"), None, "a message, said as it is");
        assert_eq!(secret_command("/registered x"), None);
        assert_eq!(secret_command("register x"), None);
    }

    #[test]
    fn room_keys_are_secret_after_the_room_and_after_plus_k() {
        assert_eq!(secret_command("/join rust sesame"), Some(10));
        assert_eq!(secret_command("/J  rust  sesame"), Some(8));
        assert_eq!(secret_command("/join rust"), None, "no key typed yet");
        assert_eq!(secret_command("/mode +ik sesame"), Some(9));
        assert_eq!(secret_command("/mode +m -k"), None, "no key is set");
        assert_eq!(secret_command("/mode -m+k sesame"), Some(10));
        assert_eq!(secret_command("/mode +m"), None);
    }

    #[test]
    fn the_prompt_hides_what_is_typed() {
        let mut prompt = PasswordPrompt::new(Nick::parse("Michael").unwrap());
        let capacity = prompt.typed.capacity();
        prompt.insert_str("hunter2hunter2\nnext line");
        prompt.insert('\u{1b}');
        assert_eq!(prompt.len(), 14);
        assert!(!format!("{prompt:?}").contains("hunter2"));
        prompt.backspace();
        assert_eq!(prompt.take().unwrap().expose(), "hunter2hunter");
        assert!(prompt.is_empty());
        assert!(prompt.take().is_none());
        for _ in 0..MAX_PASSWORD_BYTES + 10 {
            prompt.insert('x');
        }
        assert_eq!(prompt.len(), MAX_PASSWORD_BYTES);
        assert_eq!(prompt.typed.capacity(), capacity, "never reallocated");
    }
}
