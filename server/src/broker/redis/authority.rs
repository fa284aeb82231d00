//! Room authority across the nodes: one Redis hash per room (`chat:settings:<key>`), the
//! set of rooms that have one, and each act published by the script that stores it, so every
//! node applies the same acts in the same order.

use std::collections::HashMap;

use protocol::RequestError;
use redis::{AsyncCommands as _, RedisResult};

use super::wire::{Note, keys};
use super::{Cluster, scripts};
use crate::authority::Act;
use crate::hub::Hub;

impl Cluster {
    /// Stores `act` and publishes it; with `if_absent`, only if the room has no such field
    /// (`Ok(false)`: nothing done).
    pub async fn act(&self, act: &Act, if_absent: Option<&str>) -> Result<bool, RequestError> {
        let scope = act.scope();
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(scripts::ACT)
            .arg(2)
            .arg(keys::settings(&scope))
            .arg(keys::SETTINGS)
            .arg(keys::EVENTS)
            .arg(Note::Act { act: act.clone() }.encode())
            .arg(&scope)
            .arg(if_absent.unwrap_or(""));
        for setting in &act.settings {
            cmd.arg(&setting.field).arg(setting.value.as_deref().unwrap_or(""));
        }
        let mut conn = self.conn.clone();
        let done: i64 =
            cmd.query_async(&mut conn).await.map_err(|e| self.request_failed("the room", &e))?;
        Ok(done == 1)
    }
}

/// Reads every room's settings into the hub: after subscribing, so acts published meanwhile
/// are applied after it, in order.
pub(super) async fn load(cluster: &Cluster, hub: &Hub) -> RedisResult<()> {
    let mut conn = cluster.conn.clone();
    let scopes: Vec<String> = conn.smembers(keys::SETTINGS).await?;
    let mut pipe = redis::pipe();
    for scope in &scopes {
        pipe.hgetall(keys::settings(scope));
    }
    let hashes: Vec<HashMap<String, String>> =
        if scopes.is_empty() { Vec::new() } else { pipe.query_async(&mut conn).await? };
    let rows = scopes.into_iter().zip(hashes).flat_map(|(scope, fields)| {
        fields.into_iter().map(move |(field, value)| (scope.clone(), field, value))
    });
    hub.load_authority(rows);
    Ok(())
}
