//! What the server tells clients about itself and holds sessions to, as the flags set it.

use std::time::Duration;

use crate::flood::{Exempt, FloodLimits, Kept, Rate};
use crate::limits::{CONNECT_BURST, CONNECT_PER_SECOND};

/// What the server tells clients about itself.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// The chat's name, in the greeting: "Welcome to NAME."
    pub name: String,
    /// Message of the day, shown after the greeting.
    pub motd: String,
    /// Program and version, e.g. `chat-server/0.1.0`.
    pub version: String,
    /// Sessions at once; connections past it are told `server_full` and closed.
    pub max_connections: usize,
    /// Sessions from one IP address at once; more are told `too_many_connections`.
    pub max_connections_per_ip: usize,
    /// Rooms at once; joining a new room past it is refused with `too_many_rooms`.
    pub max_rooms: usize,
    /// Members of one room; joining a full room is refused with `room_full`.
    pub max_room_members: usize,
    /// Per-connection flood control; `None` turns it off (benchmarks).
    pub flood: Option<FloodLimits>,
    /// New connections per address block over time; `None`: no limit.
    pub connects: Option<Rate>,
    /// Networks limited one connection at a time only (`--throttle-exempt`).
    pub throttle_exempt: Exempt,
    /// The flood buckets of connections that ended, by account or address block.
    pub kept: std::sync::Arc<Kept>,
    /// A connection that has not said hello by then is closed (`hello_timeout`).
    pub hello_timeout: Duration,
    /// A JSON client silent this long is pinged; silent as long again, it is closed.
    pub ping_interval: Duration,
    /// A plain-text client silent this long is told; silent `ping_interval` more, it is
    /// closed.
    pub plain_idle_timeout: Duration,
    /// How long a dropped JSON session's nick waits for its resume token.
    pub nick_reservation: Duration,
    /// How long a session must have held its nick to be kept a reservation.
    pub reserve_after: Duration,
    /// Login attempts and new accounts per address, shared by the sessions.
    pub logins: std::sync::Arc<crate::accounts::Logins>,
    /// The server's admins (`--admin`), by their accounts' nicks.
    pub admins: Vec<protocol::Nick>,
}

impl Default for ServerInfo {
    fn default() -> Self {
        Self {
            name: "chat".to_owned(),
            motd: String::new(),
            version: concat!("chat-server/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_connections: crate::limits::MAX_CONNECTIONS,
            max_connections_per_ip: crate::limits::MAX_CONNECTIONS_PER_IP,
            max_rooms: crate::limits::MAX_ROOMS,
            max_room_members: crate::limits::MAX_ROOM_MEMBERS,
            flood: Some(FloodLimits::default()),
            connects: Some(Rate::per_second(CONNECT_BURST, CONNECT_PER_SECOND)),
            throttle_exempt: Exempt::loopback(),
            kept: std::sync::Arc::default(),
            hello_timeout: crate::limits::HELLO_TIMEOUT,
            ping_interval: crate::limits::PING_INTERVAL,
            plain_idle_timeout: crate::limits::PLAIN_IDLE_TIMEOUT,
            nick_reservation: crate::limits::NICK_RESERVATION,
            reserve_after: crate::limits::RESERVE_AFTER,
            logins: std::sync::Arc::default(),
            admins: Vec::new(),
        }
    }
}
