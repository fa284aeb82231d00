//! Chat text and short labels: strings with a size bound that cannot be broken.
//!
//! The text itself is relayed as written; what is unsafe to display is the displaying side's
//! business (see [`crate::sanitize`]), so nothing a person typed is silently altered in transit.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::limits::{MAX_LABEL_BYTES, MAX_TEXT_BYTES};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("text is empty")]
    Empty,
    #[error("text is {len} bytes, more than the limit of {max}")]
    TooLong { len: usize, max: usize },
}

/// What a person says: 1 to [`MAX_TEXT_BYTES`] bytes with at least one visible character.
/// May hold several lines.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Text(Box<str>);

impl Text {
    pub fn parse(s: &str) -> Result<Self, TextError> {
        if s.len() > MAX_TEXT_BYTES {
            return Err(TextError::TooLong { len: s.len(), max: MAX_TEXT_BYTES });
        }
        if s.trim().is_empty() {
            return Err(TextError::Empty);
        }
        Ok(Self(s.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A short free-form string that is not chat (a client's name, a reason for leaving): at most
/// [`MAX_LABEL_BYTES`] bytes; empty allowed.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Label(Box<str>);

impl Label {
    pub fn parse(s: &str) -> Result<Self, TextError> {
        if s.len() > MAX_LABEL_BYTES {
            return Err(TextError::TooLong { len: s.len(), max: MAX_LABEL_BYTES });
        }
        Ok(Self(s.into()))
    }

    /// A label from a string the program itself wrote; cut at a character boundary if too long.
    pub fn truncate(s: &str) -> Self {
        let mut end = s.len().min(MAX_LABEL_BYTES);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        Self(s[..end].into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! text_newtype {
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

text_newtype!(Text);
text_newtype!(Label);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_bounds() {
        assert!(Text::parse("hi").is_ok());
        assert!(Text::parse("two\nlines").is_ok());
        assert_eq!(Text::parse(""), Err(TextError::Empty));
        assert_eq!(Text::parse(" \t\n"), Err(TextError::Empty));
        assert!(Text::parse(&"x".repeat(MAX_TEXT_BYTES)).is_ok());
        assert_eq!(
            Text::parse(&"x".repeat(MAX_TEXT_BYTES + 1)),
            Err(TextError::TooLong { len: MAX_TEXT_BYTES + 1, max: MAX_TEXT_BYTES })
        );
    }

    #[test]
    fn label_truncates_on_a_char_boundary() {
        let long = "é".repeat(MAX_LABEL_BYTES);
        let label = Label::truncate(&long);
        assert!(label.as_str().len() <= MAX_LABEL_BYTES);
        assert!(label.as_str().chars().all(|c| c == 'é'));
        assert!(Label::parse(&long).is_err());
    }
}
