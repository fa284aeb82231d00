//! Room authority on one node: the `room_settings` table, on the accounts' connection (a
//! change is small and rare, and must not wait behind a batch of room messages).

use std::sync::{Arc, Mutex};

use protocol::RequestError;
use rusqlite::{Connection, OptionalExtension, params};

use super::accounts::run;
use super::store::StoreError;
use crate::authority::Setting;
use crate::sync::lock;

#[derive(Clone)]
pub struct LocalAuthority {
    conn: Arc<Mutex<Connection>>,
}

impl LocalAuthority {
    pub fn new(conn: Arc<Mutex<Connection>>) -> Self {
        Self { conn }
    }

    /// Every room's fields, for the hub at start-up: `(room key, field, value)`.
    pub fn all(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare("SELECT room, field, value FROM room_settings")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Writes `settings` of `scope` in one transaction; with `if_absent`, only if the room
    /// has no such field (then `Ok(false)`, nothing written).
    pub async fn store(
        &self,
        scope: String,
        settings: Vec<Setting>,
        if_absent: Option<&'static str>,
    ) -> Result<bool, RequestError> {
        run(&self.conn, "room settings", move |conn| {
            let tx = conn.unchecked_transaction()?;
            if let Some(field) = if_absent {
                let found: Option<i64> = tx
                    .query_row(
                        "SELECT 1 FROM room_settings WHERE room = ?1 AND field = ?2",
                        params![scope, field],
                        |r| r.get(0),
                    )
                    .optional()?;
                if found.is_some() {
                    return Ok(false);
                }
            }
            for Setting { field, value } in &settings {
                match value {
                    Some(value) => tx.execute(
                        "INSERT INTO room_settings (room, field, value) VALUES (?1, ?2, ?3)
                         ON CONFLICT (room, field) DO UPDATE SET value = excluded.value",
                        params![scope, field, value],
                    )?,
                    None => tx.execute(
                        "DELETE FROM room_settings WHERE room = ?1 AND field = ?2",
                        params![scope, field],
                    )?,
                };
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }
}
