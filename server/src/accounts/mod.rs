//! Accounts: a nick that only its password opens.
//!
//! An account is keyed by its nick's look-alike key ([`protocol::NickKey`]), so it owns every
//! nick that looks like it. What it holds ([`Account`]) lives in the broker, the same on every
//! node: SQLite for one node, Redis for several. This module holds what does not depend on
//! where accounts are kept.
//!
//! - [`password`]: Argon2id hashing and checking, off the runtime, a few at a time.
//! - [`failures`]: failed logins of an account, the wait they impose and what the owner is told.
//! - [`throttle`]: login attempts and new accounts per address; one password check per
//!   account at a time.

pub mod failures;
pub mod password;
pub mod throttle;

pub use failures::Failures;
use protocol::{ErrorCode, Nick, RequestError, Text};
use uuid::Uuid;

use crate::limits::MAX_OFFLINE_MESSAGES;
pub use throttle::Logins;

/// A registered nick.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// The nick as it was registered (its key is the account's key).
    pub nick: Nick,
    /// The password as an Argon2id PHC string.
    pub hash: String,
    pub failures: Failures,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("nick", &self.nick)
            .field("failures", &self.failures.count)
            .finish_non_exhaustive()
    }
}

/// A private message for an account that is away.
pub struct Waiting {
    pub id: Uuid,
    pub from: Nick,
    pub account: bool,
    pub to: Nick,
    pub text: Text,
    pub ts: u64,
}

/// The refusal of a private message for an account whose waiting list is full.
pub fn mailbox_full(to: &Nick) -> RequestError {
    RequestError::new(
        ErrorCode::MailboxFull,
        format!("{to} is away and has {MAX_OFFLINE_MESSAGES} messages waiting; try again later"),
    )
}
