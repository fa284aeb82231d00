//! Secrets on the wire, which no log line, error or `Debug` output shows: [`Password`] and
//! [`ResumeToken`].
//!
//! The wire carries passwords in `hello`, `register`, `passwd` and `unregister`. The type
//! bounds their size (a password is hashed with Argon2, whose cost must not be the sender's
//! to choose beyond this), hides them from `Debug`, has no `Display`, and wipes its bytes
//! when dropped.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::limits::{MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password is empty")]
    Empty,
    #[error("the password is longer than {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    #[error("a password has at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
}

/// A password as sent: 1 to [`MAX_PASSWORD_BYTES`] bytes. Whether it is good enough for a new
/// account ([`Password::strong_enough`]) is the server's question when registering; logging in
/// takes whatever the account was made with.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Zeroizing<String>);

impl Password {
    pub fn parse(s: &str) -> Result<Self, PasswordError> {
        if s.is_empty() {
            return Err(PasswordError::Empty);
        }
        if s.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::TooLong);
        }
        Ok(Self(Zeroizing::new(s.to_owned())))
    }

    /// The secret itself, for hashing and for sending; never for showing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it may be a new account's password: at least [`MIN_PASSWORD_CHARS`]
    /// characters, not counting spaces at either end.
    pub fn strong_enough(&self) -> Result<(), PasswordError> {
        if self.0.trim().chars().count() < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        Ok(())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(hidden)")
    }
}

impl Serialize for Password {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Zeroizing::new(<String>::deserialize(d)?);
        // The error names the rule broken, never the value.
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A session's resume token (`welcome`'s `resume`, shown again in a later `hello`): whoever
/// holds it can take the session's nick, so it is a secret like a password. Random (v4),
/// written as a uuid; `Debug` hides it.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResumeToken(uuid::Uuid);

impl ResumeToken {
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    /// The token itself, for hashing and for sending; never for showing.
    pub fn expose(&self) -> uuid::Uuid {
        self.0
    }
}

impl From<uuid::Uuid> for ResumeToken {
    fn from(uuid: uuid::Uuid) -> Self {
        Self(uuid)
    }
}

impl fmt::Debug for ResumeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResumeToken(hidden)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_resume_token() {
        let token = ResumeToken::random();
        let shown = format!("{:?}", Some(token));
        assert!(!shown.contains(&token.expose().to_string()), "{shown}");
        let json = serde_json::to_string(&token).unwrap();
        assert_eq!(json, format!("\"{}\"", token.expose()));
    }

    #[test]
    fn debug_hides_the_password() {
        let password = Password::parse("hunter2hunter2").unwrap();
        assert_eq!(format!("{password:?}"), "Password(hidden)");
        assert_eq!(password.expose(), "hunter2hunter2");
    }

    #[test]
    fn bounds() {
        assert_eq!(Password::parse(""), Err(PasswordError::Empty));
        assert!(Password::parse(&"x".repeat(MAX_PASSWORD_BYTES)).is_ok());
        assert_eq!(
            Password::parse(&"x".repeat(MAX_PASSWORD_BYTES + 1)),
            Err(PasswordError::TooLong)
        );
        assert_eq!(Password::parse("short").unwrap().strong_enough(), Err(PasswordError::TooShort));
        assert_eq!(
            Password::parse("  seven7  ").unwrap().strong_enough(),
            Err(PasswordError::TooShort)
        );
        assert!(Password::parse("eight888").unwrap().strong_enough().is_ok());
        assert!(Password::parse("éééééééé").unwrap().strong_enough().is_ok());
    }

    #[test]
    fn a_bad_password_is_refused_without_its_value() {
        let long = "secretsecret".repeat(MAX_PASSWORD_BYTES);
        let json = format!("\"{long}\"");
        let error = serde_json::from_str::<Password>(&json).unwrap_err().to_string();
        assert!(!error.contains("secret"), "{error}");
    }
}
