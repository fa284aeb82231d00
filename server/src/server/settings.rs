//! The settings in force: the [`ServerInfo`] each new connection and session starts from,
//! which a reload (SIGHUP, `config::reload`) replaces while the server runs.
//!
//! The accept loops take the one in force at each connection (one atomic load); a session
//! keeps the `Arc` it started with, so replacing the settings drops nobody and costs the
//! open sessions nothing. What cannot change while the server runs (the sizes the hub and
//! the connection limit were made with) and the state the sessions share (the flood
//! budgets kept after a disconnection, the login throttles) are carried over from the
//! settings in force, never taken from the new ones.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::config::ServerInfo;

/// The settings in force, shared by the accept loops and whoever reloads them.
#[derive(Clone)]
pub struct Settings(Arc<Shared>);

struct Shared {
    info: ArcSwap<ServerInfo>,
    /// Told of each replacement: the accept loops' owner puts the limits that do not live
    /// in [`ServerInfo`] (the hub's admins, the per-address table) in step.
    replaced: watch::Sender<()>,
}

impl Settings {
    pub fn new(info: ServerInfo) -> Self {
        let (replaced, _) = watch::channel(());
        Self(Arc::new(Shared { info: ArcSwap::from_pointee(info), replaced }))
    }

    /// The settings in force now.
    pub fn load(&self) -> Arc<ServerInfo> {
        self.0.info.load_full()
    }

    /// Puts `new` in force for the connections and sessions that start from now on. What
    /// needs a restart, and the shared state, stay those in force.
    pub fn replace(&self, new: ServerInfo) {
        let now = self.load();
        self.0.info.store(Arc::new(carried_over(&now, new)));
        self.0.replaced.send_replace(());
    }

    /// A receiver that wakes at each [`Settings::replace`].
    pub(super) fn replaced(&self) -> watch::Receiver<()> {
        self.0.replaced.subscribe()
    }
}

impl From<ServerInfo> for Settings {
    fn from(info: ServerInfo) -> Self {
        Self::new(info)
    }
}

/// `new`, but with what cannot change from `now`. Every field is named, so a new one is
/// sorted into one kind or the other here.
fn carried_over(now: &ServerInfo, new: ServerInfo) -> ServerInfo {
    let ServerInfo {
        name,
        motd,
        version: _,
        max_connections: _,
        max_connections_per_ip,
        max_rooms: _,
        max_room_members: _,
        flood,
        connects,
        throttle_exempt,
        kept: _,
        hello_timeout,
        ping_interval,
        plain_idle_timeout,
        nick_reservation: _,
        reserve_after: _,
        logins: _,
        admins,
    } = new;
    ServerInfo {
        name,
        motd,
        max_connections_per_ip,
        flood,
        connects,
        throttle_exempt,
        hello_timeout,
        ping_interval,
        plain_idle_timeout,
        admins,
        // Sized at start-up: the connection semaphore, the hub's limits and reservations.
        version: now.version.clone(),
        max_connections: now.max_connections,
        max_rooms: now.max_rooms,
        max_room_members: now.max_room_members,
        nick_reservation: now.nick_reservation,
        reserve_after: now.reserve_after,
        // State the sessions share, not settings: a reload forgets nobody's budget.
        kept: now.kept.clone(),
        logins: now.logins.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A replacement brings what may change, and keeps what needs a restart and what the
    /// sessions share.
    #[test]
    fn a_replacement_keeps_what_needs_a_restart() {
        let settings = Settings::new(ServerInfo { max_rooms: 7, ..ServerInfo::default() });
        let before = settings.load();
        let replaced = settings.replaced();
        settings.replace(ServerInfo {
            motd: "new".into(),
            hello_timeout: Duration::from_secs(3),
            max_rooms: 9,
            max_connections: 1,
            ..ServerInfo::default()
        });
        assert!(replaced.has_changed().unwrap());
        let after = settings.load();
        assert_eq!((after.motd.as_str(), after.hello_timeout), ("new", Duration::from_secs(3)));
        assert_eq!((after.max_rooms, after.max_connections), (7, before.max_connections));
        assert!(
            Arc::ptr_eq(&after.kept, &before.kept) && Arc::ptr_eq(&after.logins, &before.logins)
        );
        assert_eq!(before.motd, ServerInfo::default().motd, "a session's copy is its own");
    }
}
