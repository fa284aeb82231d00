//! Nicks and room names: types that can only hold a valid value.
//!
//! A value is checked once, where it enters (the wire, a command line, a flag); everything past
//! that point takes a [`Nick`] or a [`RoomName`] and never re-checks.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unicode_width::UnicodeWidthChar;

use crate::limits::{MAX_NICK_CHARS, MAX_ROOM_CHARS};

/// Why a nick or room name was refused. The message names the rule, never echoes raw input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is longer than {max} characters")]
    TooLong { what: &'static str, max: usize },
    #[error("{what} may not contain {}", describe_char(*.ch))]
    BadChar { what: &'static str, ch: char },
}

/// Names a character for an error message without writing it raw: a control or invisible
/// character would otherwise reach somebody's terminal through the error text.
fn describe_char(ch: char) -> String {
    if ch == ' ' {
        "spaces".to_owned()
    } else if ch.is_control() || crate::sanitize::is_invisible(ch) {
        format!("U+{:04X}", ch as u32)
    } else {
        format!("'{ch}' (U+{:04X})", ch as u32)
    }
}

/// Punctuation allowed in nicks besides letters and digits: the IRC set, so people keep the
/// nicks they already have.
const NICK_PUNCTUATION: &str = "_-[]{}|^`\\";

/// Punctuation allowed in room names besides letters and digits.
const ROOM_PUNCTUATION: &str = "_-.";

/// A person's name on the server: 1 to [`MAX_NICK_CHARS`] letters, digits or `_-[]{}|^\``
/// (any script: "Michael", "小明"). No spaces, controls, bidi or zero-width characters, so a
/// nick always displays as what it is.
///
/// Shared, not copied: cloning one (into a member list of thousands, into every event) is a
/// reference-count increment.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nick(Arc<str>);

/// The identity of a nick for uniqueness: two nicks with the same key cannot be online at once.
/// Nicks that differ only by case or by characters that look alike collide: "Michael",
/// "MICHAEL", "Міchael" (Cyrillic М and і), "Ｍichael" (fullwidth) and "rnichael" are one
/// nick, so nobody can pass for somebody else. The key is the UTS #39 confusable skeleton of
/// the lower-cased nick; it is for comparing, never for display, and does not sort
/// alphabetically.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NickKey(Box<str>);

impl NickKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Nick {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        check_name(s, "nick", MAX_NICK_CHARS, |c| {
            c.is_alphanumeric() || NICK_PUNCTUATION.contains(c)
        })?;
        Ok(Self(s.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key under which this nick is unique on a server.
    pub fn key(&self) -> NickKey {
        // Case and look-alikes interleave. Starting from upper case makes case variants one
        // string and catches capitals that pass for Latin ones (Cyrillic "М", Greek "Ι"); the
        // rounds of skeleton then lower case catch lower-case look-alikes ("rn" for "m",
        // Cyrillic "е"), and the skeleton of "0" is "O", whose lower case is "o". Real nicks
        // settle after two rounds; the bound keeps any input cheap.
        NickKey(look_alike_key(&self.0))
    }
}

/// `name` in a form that look-alikes share: case and confusable characters folded.
fn look_alike_key(name: &str) -> Box<str> {
    let mut key = name.to_uppercase();
    for _ in 0..MAX_KEY_ROUNDS {
        let next: String = match ascii_skeleton(&key) {
            Some(mut skeleton) => {
                skeleton.make_ascii_lowercase();
                skeleton
            }
            None => unicode_security::skeleton(&key).flat_map(char::to_lowercase).collect(),
        };
        if next == key {
            break;
        }
        key = next;
    }
    key.into()
}

/// The skeleton of an ASCII `text` whose characters' skeletons are ASCII too (all but `%`'s):
/// its characters' skeletons one after the other, since the normalisation around the mapping
/// changes no ASCII. A table look-up per character rather than a search of the confusables:
/// most names are ASCII, and a join looks up the key of each nick on its members page.
/// `None` for any other text.
fn ascii_skeleton(text: &str) -> Option<String> {
    static TABLE: std::sync::OnceLock<[Option<String>; 128]> = std::sync::OnceLock::new();
    if !text.is_ascii() {
        return None;
    }
    let table = TABLE.get_or_init(|| {
        std::array::from_fn(|b| {
            let c = char::from(u8::try_from(b).unwrap_or(0));
            let skeleton: String = unicode_security::skeleton(c.encode_utf8(&mut [0; 4])).collect();
            skeleton.is_ascii().then_some(skeleton)
        })
    });
    let mut skeleton = String::with_capacity(text.len());
    for b in text.bytes() {
        skeleton.push_str(table[usize::from(b)].as_deref()?);
    }
    Some(skeleton)
}

/// A room's name with look-alikes folded ("rust", "rսst" with an Armenian "ս", and "rуst"
/// with a Cyrillic "у" are one key), so two rooms that read the same cannot both exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoomKey(Box<str>);

impl RoomKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Maps keyed by `RoomKey` can be looked up by the key's text.
impl std::borrow::Borrow<str> for RoomKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// Rounds of skeleton and lower case in [`Nick::key`].
const MAX_KEY_ROUNDS: usize = 4;

/// A room: 1 to [`MAX_ROOM_CHARS`] letters, digits or `_-.`, case-insensitive and therefore
/// kept in lower case. A leading `#` is accepted and dropped (`#Rust` is `rust`), so IRC habits
/// work; displays add the `#` back. Shared like [`Nick`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomName(Arc<str>);

impl RoomName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        // Lower-case first and check what is kept: lower-casing can lengthen a name or add a
        // mark ("İ" is "i" + U+0307), and the stored name must pass its own rules.
        let lower = s.strip_prefix('#').unwrap_or(s).to_lowercase();
        check_name(&lower, "room name", MAX_ROOM_CHARS, |c| {
            c.is_alphanumeric() || ROOM_PUNCTUATION.contains(c)
        })?;
        Ok(Self(lower.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The room everybody starts in.
    pub fn lobby() -> Self {
        Self("lobby".into())
    }

    /// The key its look-alikes share, by the rules of [`Nick::key`].
    pub fn key(&self) -> RoomKey {
        RoomKey(look_alike_key(&self.0))
    }
}

/// Most combining marks in a row in a name: enough for real scripts (Hindi "हिंदी" puts a vowel
/// sign and a nasal mark on one letter), too few to stack marks over the neighbouring lines.
const MAX_NAME_MARKS: usize = 2;

fn check_name(
    s: &str,
    what: &'static str,
    max: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::Empty { what });
    }
    let mut marks = 0;
    for (count, ch) in s.chars().enumerate() {
        if count >= max {
            return Err(NameError::TooLong { what, max });
        }
        // Letters that draw nothing (Hangul fillers) count as alphanumeric; they are refused
        // with the other invisible characters, so every name is visible.
        if !allowed(ch) || crate::sanitize::is_invisible(ch) {
            return Err(NameError::BadChar { what, ch });
        }
        if ch.width() == Some(0) {
            marks += 1;
            if count == 0 || marks > MAX_NAME_MARKS {
                return Err(NameError::BadChar { what, ch });
            }
        } else {
            marks = 0;
        }
    }
    Ok(())
}

macro_rules! string_newtype {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, NameError> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_newtype!(Nick);
string_newtype!(RoomName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicks_of_any_script_are_accepted() {
        for ok in ["Michael", "小明", "Zoë", "a", "x_y-z[1]{2}|^`\\", &"n".repeat(32)] {
            assert!(Nick::parse(ok).is_ok(), "{ok:?} should be a valid nick");
        }
    }

    #[test]
    fn nicks_with_spaces_controls_or_invisibles_are_refused() {
        let cases = [
            ("", NameError::Empty { what: "nick" }),
            ("Mi chael", NameError::BadChar { what: "nick", ch: ' ' }),
            ("Mi\u{1b}[2J", NameError::BadChar { what: "nick", ch: '\u{1b}' }),
            ("ab\u{202e}cd", NameError::BadChar { what: "nick", ch: '\u{202e}' }),
            ("ab\u{200b}cd", NameError::BadChar { what: "nick", ch: '\u{200b}' }),
            ("#room", NameError::BadChar { what: "nick", ch: '#' }),
            ("/nick", NameError::BadChar { what: "nick", ch: '/' }),
        ];
        for (input, want) in cases {
            assert_eq!(Nick::parse(input), Err(want), "{input:?}");
        }
        assert_eq!(Nick::parse(&"n".repeat(33)), Err(NameError::TooLong { what: "nick", max: 32 }));
    }

    #[test]
    fn error_messages_never_contain_the_raw_control_character() {
        let err = Nick::parse("a\u{1b}b").unwrap_err().to_string();
        assert_eq!(err, "nick may not contain U+001B");
        let err = Nick::parse("a b").unwrap_err().to_string();
        assert_eq!(err, "nick may not contain spaces");
    }

    #[test]
    fn nick_keys_ignore_case() {
        let a = Nick::parse("Michael").unwrap();
        let b = Nick::parse("MICHAEL").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.key(), b.key());
    }

    /// The table of ASCII skeletons gives what the full skeleton gives, on every pair of
    /// ASCII characters (what a key's rounds look at) and on a few names.
    #[test]
    fn ascii_keys_are_the_full_skeletons_keys() {
        let full = |name: &str| -> String {
            let mut key = name.to_uppercase();
            for _ in 0..MAX_KEY_ROUNDS {
                let next: String =
                    unicode_security::skeleton(&key).flat_map(char::to_lowercase).collect();
                if next == key {
                    break;
                }
                key = next;
            }
            key
        };
        for a in 0u8..128 {
            for b in 0u8..128 {
                let name = String::from_utf8(vec![a, b]).unwrap();
                assert_eq!(&*look_alike_key(&name), full(&name), "{name:?}");
            }
        }
        for name in ["Michael", "rnichael", "c00l", "BiII", "bi11", "x_|l1I|_x", "Tracy-42"] {
            assert_eq!(&*look_alike_key(name), full(name), "{name:?}");
        }
    }

    /// Nicks that look alike are the same nick: other scripts' look-alike letters, fullwidth
    /// forms, digits that pass for letters; nicks that merely share letters are not.
    #[test]
    fn nick_keys_ignore_confusable_characters() {
        let key = |s: &str| Nick::parse(s).unwrap().key();
        let same = [
            ("Michael", "\u{41c}\u{456}chael"), // Cyrillic М and і
            ("Michael", "mi\u{441}hael"),       // Cyrillic с
            ("Michael", "\u{ff2d}ichael"),      // fullwidth Ｍ
            ("Michael", "\u{ff4d}\u{ff49}\u{ff43}\u{ff48}\u{ff41}\u{ff45}\u{ff4c}"),
            ("Michael", "rnichael"),
            ("Tracy", "Tr\u{430}cy"), // Cyrillic а
            ("Tracy", "TRACY"),
            ("cool", "c00l"),
            ("Bill", "BiII"),
            ("Bill", "bi11"),
            ("paypal", "\u{440}\u{430}\u{443}\u{440}\u{430}l"),
            ("Ελένη", "ελένη"),
        ];
        for (a, b) in same {
            assert_eq!(key(a), key(b), "{a:?} and {b:?} look alike");
        }
        let different = [("Michael", "Michelle"), ("Anna", "Anne"), ("小明", "小朋"), ("ab", "ba")];
        for (a, b) in different {
            assert_ne!(key(a), key(b), "{a:?} and {b:?} are different nicks");
        }
    }

    #[test]
    fn invisible_letters_and_stacked_marks_are_refused() {
        for bad in
            ["\u{3164}", "a\u{115f}", "\u{ffa0}b", "Tracy\u{345}\u{345}\u{345}", "\u{301}abc"]
        {
            assert!(Nick::parse(bad).is_err(), "{bad:?} should be refused");
        }
        for ok in ["हिंदी", "Nguyễn"] {
            assert!(Nick::parse(ok).is_ok(), "{ok:?} should be accepted");
        }
    }

    #[test]
    fn room_names_are_checked_after_lower_casing() {
        assert!(
            RoomName::parse("İ").is_err(),
            "lower-cases to i + U+0307 alone... and must be checked"
        );
        assert!(RoomName::parse(&"İ".repeat(32)).is_err());
        assert_eq!(RoomName::parse("ÀÉ").unwrap().as_str(), "àé");
    }

    #[test]
    fn room_names_are_lower_case_and_drop_one_hash() {
        assert_eq!(RoomName::parse("#Rust").unwrap().as_str(), "rust");
        assert_eq!(RoomName::parse("rust-lang.de").unwrap().as_str(), "rust-lang.de");
        assert!(RoomName::parse("#").is_err());
        assert!(RoomName::parse("##x").is_err());
        assert!(RoomName::parse("a b").is_err());
        assert!(RoomName::parse(&"r".repeat(33)).is_err());
    }

    #[test]
    fn deserialising_validates() {
        let ok: Nick = serde_json::from_str("\"Tracy\"").unwrap();
        assert_eq!(ok.as_str(), "Tracy");
        let err = serde_json::from_str::<Nick>("\"Tr acy\"").unwrap_err();
        assert!(err.to_string().contains("nick may not contain spaces"), "{err}");
    }
}
