//! A resume token as the server keeps it: its SHA-256, never the token itself, so a copy of
//! the hub's memory or of Redis does not hand anyone a session. Shown tokens are hashed and
//! compared in constant time.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct ResumeHash([u8; 32]);

impl ResumeHash {
    pub fn of(token: Uuid) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Whether `shown` is the token this is the hash of.
    pub fn matches(&self, shown: Option<Uuid>) -> bool {
        shown.is_some_and(|shown| bool::from(self.0.ct_eq(&Self::of(shown).0)))
    }

    /// Hex, as Redis keeps it.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() != 64 || !s.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(bytes))
    }
}

impl fmt::Debug for ResumeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResumeHash(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_matches_its_hash() {
        let token = Uuid::new_v4();
        let hash = ResumeHash::of(token);
        assert!(hash.matches(Some(token)));
        assert!(!hash.matches(Some(Uuid::new_v4())));
        assert!(!hash.matches(None));
        assert_eq!(ResumeHash::from_hex(&hash.hex()), Some(hash));
        assert!(!hash.hex().contains(&token.simple().to_string()));
        assert_eq!(ResumeHash::from_hex("zz"), None);
    }
}
