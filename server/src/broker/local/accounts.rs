//! Accounts and the private messages waiting for them, on one node: SQLite tables of the
//! history database (or, with history in memory or off, of a database in memory of their own:
//! accounts then last until the server stops).
//!
//! A connection of its own, apart from the writer's: account changes are rare and small, and
//! must not wait behind a batch of room messages (nor they behind a hash). Calls run on the
//! blocking pool.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use protocol::{ErrorCode, Nick, NickKey, RequestError, ServerMsg, Text, now_millis};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tracing::warn;
use uuid::Uuid;

use super::schema;
use super::store::{Location, StoreError};
use crate::accounts::{Account, Failures, Waiting, mailbox_full};
use crate::limits::{MAX_OFFLINE_MESSAGES, OFFLINE_MESSAGE_DAYS};
use crate::sync::lock;

#[derive(Clone)]
pub struct LocalAccounts {
    conn: Arc<Mutex<Connection>>,
}

impl LocalAccounts {
    /// Opens the accounts' connection: to the history file (already migrated by the writer's
    /// store), or to a database in memory of its own.
    pub fn open(location: Option<&Location>) -> Result<Self, StoreError> {
        let conn = match location {
            Some(Location::File(path)) => {
                let open_err = |e: rusqlite::Error| StoreError::Open {
                    path: path.clone(),
                    reason: e.to_string(),
                };
                let mut conn = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(open_err)?;
                conn.busy_timeout(super::store::BUSY_TIMEOUT).map_err(open_err)?;
                super::store::writes_wait(&mut conn);
                conn
            }
            _ => {
                let mut conn = Connection::open_in_memory()?;
                schema::migrate(&mut conn).map_err(|source| StoreError::Schema {
                    path: PathBuf::from(":memory:"),
                    source,
                })?;
                conn
            }
        };
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Every account's nick, for the hub at start-up.
    pub fn nicks(&self) -> Result<Vec<Nick>, StoreError> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare("SELECT nick FROM accounts")?;
        let nicks = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .filter_map(|nick| nick.ok().and_then(|n| Nick::parse(&n).ok()))
            .collect();
        Ok(nicks)
    }

    pub async fn get(&self, key: &NickKey) -> Result<Option<Account>, RequestError> {
        let key = key.as_str().to_owned();
        self.run(move |conn| {
            let row = conn
                .query_row(
                    "SELECT nick, hash, failures FROM accounts WHERE key = ?1",
                    [&key],
                    |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                    },
                )
                .optional()?;
            Ok(row.and_then(|(nick, hash, failures)| {
                Some(Account {
                    nick: Nick::parse(&nick).ok()?,
                    hash,
                    failures: Failures::decode(&failures),
                })
            }))
        })
        .await
    }

    /// Makes `nick` an account; `false` if its key is one already.
    pub async fn create(&self, nick: &Nick, hash: String) -> Result<bool, RequestError> {
        let (key, nick) = (nick.key().as_str().to_owned(), nick.to_string());
        self.run(move |conn| {
            let n = conn.execute(
                "INSERT OR IGNORE INTO accounts (key, nick, hash, created) VALUES (?1, ?2, ?3, ?4)",
                params![key, nick, hash, to_sql(now_millis())],
            )?;
            Ok(n == 1)
        })
        .await
    }

    pub async fn set_hash(&self, key: &NickKey, hash: String) -> Result<(), RequestError> {
        let key = key.as_str().to_owned();
        self.run(move |conn| {
            conn.execute("UPDATE accounts SET hash = ?2 WHERE key = ?1", params![key, hash])?;
            Ok(())
        })
        .await
    }

    pub async fn set_failures(
        &self,
        key: &NickKey,
        failures: &Failures,
    ) -> Result<(), RequestError> {
        let (key, failures) = (key.as_str().to_owned(), failures.encode());
        self.run(move |conn| {
            conn.execute(
                "UPDATE accounts SET failures = ?2 WHERE key = ?1",
                params![key, failures],
            )?;
            Ok(())
        })
        .await
    }

    /// Deletes the account and the messages waiting for it.
    pub async fn delete(&self, key: &NickKey) -> Result<(), RequestError> {
        let key = key.as_str().to_owned();
        self.run(move |conn| {
            let tx = conn.unchecked_transaction()?;
            tx.execute("DELETE FROM accounts WHERE key = ?1", [&key])?;
            tx.execute("DELETE FROM offline WHERE recipient = ?1", [&key])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Keeps a private message for the account of `message.to`, which is away; `false` if it
    /// is no account (checked in the same transaction: an account deleted meanwhile gets
    /// nothing). Refused with `mailbox_full` when [`MAX_OFFLINE_MESSAGES`] wait already.
    pub async fn keep(&self, message: Waiting) -> Result<bool, RequestError> {
        let key = message.to.key().as_str().to_owned();
        let to = message.to.clone();
        let kept = self
            .run(move |conn| {
                let tx = conn.unchecked_transaction()?;
                let exists: Option<i64> = tx
                    .query_row("SELECT 1 FROM accounts WHERE key = ?1", [&key], |r| r.get(0))
                    .optional()?;
                if exists.is_none() {
                    return Ok(None);
                }
                tx.execute(
                    "DELETE FROM offline WHERE recipient = ?1 AND ts < ?2",
                    params![key, to_sql(oldest_kept())],
                )?;
                let waiting: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM offline WHERE recipient = ?1",
                    [&key],
                    |r| r.get(0),
                )?;
                if usize::try_from(waiting).unwrap_or(usize::MAX) >= MAX_OFFLINE_MESSAGES {
                    return Ok(Some(false));
                }
                tx.execute(
                    "INSERT INTO offline (recipient, id, sender, account, text, ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        key,
                        message.id.as_bytes().as_slice(),
                        message.from.as_str(),
                        message.account,
                        message.text.as_str(),
                        to_sql(message.ts)
                    ],
                )?;
                tx.commit()?;
                Ok(Some(true))
            })
            .await?;
        match kept {
            None => Ok(false),
            Some(true) => Ok(true),
            Some(false) => Err(mailbox_full(&to)),
        }
    }

    /// Takes the messages waiting for `to`, oldest first, as they are delivered: once.
    pub async fn take(&self, to: &Nick) -> Result<Vec<ServerMsg>, RequestError> {
        let key = to.key().as_str().to_owned();
        let to = to.clone();
        self.run(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let rows: Vec<(Vec<u8>, String, bool, String, i64)> = {
                let mut stmt = tx.prepare(
                    "SELECT id, sender, account, text, ts FROM offline
                     WHERE recipient = ?1 AND ts >= ?2 ORDER BY id",
                )?;
                stmt.query_map(params![key, to_sql(oldest_kept())], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<Result<_, _>>()?
            };
            tx.execute("DELETE FROM offline WHERE recipient = ?1", [&key])?;
            tx.commit()?;
            Ok(rows
                .into_iter()
                .filter_map(|(id, from, account, text, ts)| {
                    Some(ServerMsg::Private {
                        id: Uuid::from_slice(&id).ok()?,
                        from: Nick::parse(&from).ok()?,
                        to: to.clone(),
                        text: Text::parse(&text).ok()?,
                        ts: u64::try_from(ts).unwrap_or(0),
                        account,
                        offline: true,
                    })
                })
                .collect())
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, RequestError> {
        run(&self.conn, "accounts", work).await
    }

    /// The connection, for the rooms' settings, which live beside the accounts.
    pub(super) fn connection(&self) -> Arc<Mutex<Connection>> {
        self.conn.clone()
    }
}

/// Runs `work` on `conn` on the blocking pool; a failure is logged and told as
/// `storage_failed` (of `what`: "accounts", "room settings").
pub(super) async fn run<T: Send + 'static>(
    conn: &Arc<Mutex<Connection>>,
    what: &'static str,
    work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, RequestError> {
    let conn = conn.clone();
    let result = tokio::task::spawn_blocking(move || work(&lock(&conn))).await;
    match result {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => {
            warn!(error = %e, what, "a query failed");
            Err(RequestError::new(
                ErrorCode::StorageFailed,
                format!("the server cannot read or write {what} right now; try again later"),
            ))
        }
        Err(_) => Err(RequestError::new(ErrorCode::StorageFailed, "the server is stopping")),
    }
}

/// Messages sent before this (milliseconds since the epoch) are no longer kept.
fn oldest_kept() -> u64 {
    now_millis().saturating_sub(OFFLINE_MESSAGE_DAYS * 24 * 60 * 60 * 1000)
}

fn to_sql(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
