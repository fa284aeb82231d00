//! Room authority on one node: the `room_settings` table, on the accounts' connection (a
//! change is small and rare, and must not wait behind a batch of room messages).

use std::sync::{Arc, Mutex};

use protocol::RequestError;
use rusqlite::{Connection, OptionalExtension, params};

use super::accounts::run;
use super::store::StoreError;
use crate::authority::{Act, Setting};
use crate::hub::Hub;
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

    /// Writes `act`'s settings in one transaction and, once committed, has `hub` apply it,
    /// still holding the connection: acts are applied in the order they were stored, and an
    /// act stored is applied even if the session that asked has gone meanwhile. With
    /// `if_absent`, only if the room has no such field (then `Ok(false)`, nothing done).
    pub async fn store(
        &self,
        act: Act,
        if_absent: Option<&'static str>,
        hub: Arc<Hub>,
    ) -> Result<bool, RequestError> {
        let scope = act.scope();
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
            for Setting { field, value } in &act.settings {
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
            hub.apply(&act);
            Ok(true)
        })
        .await
    }
}
