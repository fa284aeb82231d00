//! Highlight words: the config file's `highlights = ["rust", "deploy"]`. A message holding one
//! (any case, as a whole word) is marked as a mention of our nick is: drawn highlighted,
//! counted with `!`, rung and notified for. The word matching is the one mentions use
//! ([`contains_word`]), so a nick and a highlight word match alike.

/// Most highlight words: each is looked for in every message, so the list stays short.
pub const MAX_HIGHLIGHTS: usize = 32;

/// Longest highlight word, in characters.
pub const MAX_HIGHLIGHT_CHARS: usize = 64;

/// The words, lower-cased once, checked against every message from someone else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Highlights {
    words: Vec<String>,
}

impl Highlights {
    /// The words as the config file gives them: each trimmed, none empty, at most
    /// [`MAX_HIGHLIGHTS`] of at most [`MAX_HIGHLIGHT_CHARS`] characters. The error says which
    /// one is refused and why.
    pub fn parse(words: &[String]) -> Result<Self, String> {
        if words.len() > MAX_HIGHLIGHTS {
            return Err(format!("{} highlight words; at most {MAX_HIGHLIGHTS}", words.len()));
        }
        let mut out = Vec::with_capacity(words.len());
        for word in words {
            let trimmed = word.trim();
            if trimmed.is_empty() {
                return Err("a highlight word is empty".into());
            }
            if trimmed.chars().count() > MAX_HIGHLIGHT_CHARS {
                return Err(format!(
                    "the highlight word {trimmed:?} is longer than {MAX_HIGHLIGHT_CHARS} characters"
                ));
            }
            if trimmed.chars().any(char::is_control) {
                return Err(format!("the highlight word {trimmed:?} holds a control character"));
            }
            out.push(trimmed.to_lowercase());
        }
        Ok(Self { words: out })
    }

    /// The words, lower-cased.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Whether `text` holds one of the words.
    pub fn matches(&self, text: &str) -> bool {
        if self.words.is_empty() {
            return false;
        }
        let text = text.to_lowercase();
        self.words.iter().any(|word| contains_word(&text, word))
    }
}

/// A character that continues a word (a nick's characters among them): a match next to one
/// is inside a longer word, not the word itself.
fn part_of_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Whether lower-cased `text` holds lower-cased `word` not inside a longer word: nothing
/// before or after it that [`part_of_word`] counts.
pub fn contains_word(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(part_of_word) && !after.is_some_and(part_of_word)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn words(list: &[&str]) -> Result<Highlights, String> {
        Highlights::parse(&list.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>())
    }

    /// Whole words in any case, never inside a longer word; phrases too.
    #[test]
    fn words_match_whole_in_any_case() {
        let h = words(&["rust", "Deploy", "on call"]).unwrap();
        assert!(h.matches("I love Rust!"));
        assert!(h.matches("DEPLOY now"));
        assert!(h.matches("who is on call?"));
        assert!(h.matches("(rust)"));
        assert!(!h.matches("trusty tools"));
        assert!(!h.matches("rust_lang"));
        assert!(!h.matches("rusty"));
        assert!(!h.matches("redeployed"));
        assert!(!Highlights::default().matches("rust"));
    }

    /// The list is bounded and every word checked.
    #[test]
    fn bad_lists_are_refused_with_a_reason() {
        let many: Vec<String> = (0..=MAX_HIGHLIGHTS).map(|i| format!("w{i}")).collect();
        assert!(Highlights::parse(&many).unwrap_err().contains("at most"));
        assert!(words(&["  "]).unwrap_err().contains("empty"));
        let long = "x".repeat(MAX_HIGHLIGHT_CHARS + 1);
        assert!(words(&[long.as_str()]).unwrap_err().contains("longer than"));
        assert!(words(&["a\u{1b}b"]).unwrap_err().contains("control"));
        assert_eq!(words(&[" Rust "]).unwrap().words(), ["rust"]);
    }
}
