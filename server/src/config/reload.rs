//! SIGHUP: the config file read again, under the same command line, and what may change
//! while the server runs put in force for new connections and sessions, dropping nobody.
//!
//! [`LIVE`] lists what may. Everything else (the ports, the database, Redis, the TLS files,
//! the sizes the hub and the connection limit are made with) keeps its value until a
//! restart, and a change to it is logged as needing one. A file that cannot be read or
//! parsed changes nothing.

use tracing::{error, info, warn};

use super::effective::Change;
use super::load::{Loaded, reason};
use crate::server::Settings;

/// The settings a reload puts in force: each is read when a connection or session starts
/// (the accept loop's [`crate::ServerInfo`], its per-address table, the hub's admins), so
/// new ones take effect without touching the sessions already open. The log switch is the
/// process's own.
pub const LIVE: [&str; 15] = [
    "name",
    "motd",
    "admin",
    "flood-burst",
    "flood-rate",
    "no-flood-control",
    "connect-burst",
    "connect-rate",
    "no-connect-throttle",
    "throttle-exempt",
    "max-connections-per-ip",
    "hello-timeout",
    "ping-interval",
    "plain-idle-timeout",
    "log-addresses",
];

/// Whether a change of `key` takes effect without a restart.
pub fn is_live(key: &str) -> bool {
    LIVE.contains(&key)
}

/// What SIGHUP reloads: the command line and file the server started with, and the
/// settings in force.
pub struct Reloader {
    loaded: Loaded,
    settings: Settings,
}

/// What a reload did.
#[derive(Debug, PartialEq)]
pub enum Reloaded {
    /// The file could not be read or used; nothing changed. The reason, for the log.
    Refused(String),
    /// These changed: `live` are in force, `restart` wait for one.
    Changed { live: Vec<Change>, restart: Vec<Change> },
}

impl Reloader {
    /// `None` without `--config`: there is no file to read again.
    pub fn new(loaded: Loaded, settings: Settings) -> Option<Self> {
        loaded.config.config.is_some().then_some(Self { loaded, settings })
    }

    /// Reads the file again, puts what may change in force, and logs what changed (info),
    /// what waits for a restart (warn) or why nothing did (error).
    pub fn reload(&mut self) -> Reloaded {
        let file = self.file();
        let new = match self.loaded.again() {
            Ok(new) => new,
            Err(e) => {
                let why = reason(&e);
                error!("SIGHUP: the settings in force stay: {why}");
                return Reloaded::Refused(why);
            }
        };
        let (live, restart): (Vec<Change>, Vec<Change>) = self
            .loaded
            .effective
            .changes(&new.effective)
            .into_iter()
            .partition(|c| is_live(&c.key));
        for change in &live {
            info!(was = %change.was, now = %change.now, "SIGHUP: {} changed", change.key);
        }
        for change in &restart {
            warn!(
                in_force = %change.was, file = %change.now,
                "SIGHUP: {} changed in {file} but needs a restart: the value in force stays",
                change.key
            );
        }
        if live.is_empty() && restart.is_empty() {
            info!("SIGHUP: {file} read again: nothing changed");
        }
        if !live.is_empty() {
            self.settings.replace(new.config.server_info());
            crate::log_address::show(new.config.logs.log_addresses);
        }
        // What is in force now: the new live settings, the old others (so a change waiting
        // for a restart is warned of at each reload until then).
        let effective = self.loaded.effective.with(&new.effective, is_live);
        self.loaded = Loaded { effective, ..new };
        Reloaded::Changed { live, restart }
    }

    fn file(&self) -> String {
        self.loaded.effective.file().map(|f| f.display().to_string()).unwrap_or_default()
    }
}
