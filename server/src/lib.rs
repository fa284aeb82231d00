//! `chat-server`: rooms, presence and private messages over JSON lines, plus a plain-text port.
//!
//! The binary only parses flags and calls [`server::run`]; everything is reachable from here so
//! tests can start a server in-process on port 0.
//!
//! # Layout
//! - [`config`]: the command-line flags and the `--config` file (the same keys), what
//!   `--print-config` prints, SIGHUP's reload; and [`ServerInfo`]: what sessions are told
//!   and held to.
//! - [`server`]: the accept loops, the connection limit and the shutdown sequence; the
//!   settings each connection starts from ([`Settings`]), which a reload replaces.
//! - [`session`]: one task per connection: requests in, events out, one write per batch; its
//!   rooms are one value each, with the phase they are in.
//! - [`dialect`]: how a session speaks: the JSON-lines protocol ([`dialect::Json`]) or plain
//!   text for `nc`/`telnet`/scripts, UTF-8 or GBK ([`dialect::plain`]).
//! - [`hub`]: the registry of nicks and rooms on this node, one `broadcast` channel per room,
//!   and what it knows of the other nodes; it tells them of changes through
//!   [`hub::Elsewhere`], which the broker implements.
//! - [`flood`]: flood control, a token bucket per connection and kind of request.
//! - [`event`]: an event encoded once and shared by all its recipients.
//! - [`broker`]: everything durable or shared by the nodes: room messages numbered, stored,
//!   then sent, and deleted; history pages; nick claims. Two backends: [`broker::local`] (one node, SQLite)
//!   and [`broker::redis`] (several nodes sharing a Redis).
//! - [`authority`]: rooms' owners, roles, topics, modes, bans and mutes, and the server's
//!   bans: the decisions, and acts as the broker stores them and the hub applies them.
//! - [`accounts`]: registered nicks: passwords (Argon2id), failed logins, throttling; kept by
//!   the broker.
//! - [`files`]: files and directories only the server's user may open (the database, the
//!   TLS key), and the warning for a database open to others.
//! - [`limits`]: every bound of the server, with its reason.
//! - [`log_address`]: whether clients' addresses go in the log's info and warning lines.
//! - [`metrics`]: the Prometheus metrics (`--metrics-listen`): names, help texts, and one
//!   function per thing counted; no-ops until `main.rs` installs the recorder.
//! - [`proxy`]: clients behind a trusted proxy (`--trusted-proxy`): the PROXY protocol header
//!   read before anything else, whose address counts for the limits and the logs.
//! - [`sync`]: the one way a std lock is taken.
//! - [`tls`]: the ports' certificate (from files or self-signed), reloaded on SIGHUP, and
//!   each connection's handshake; [`transport`]: the byte stream a session drives, plain TCP
//!   or TLS over it.

// The module docs name their private parts for whoever reads the code
// (`cargo doc --document-private-items`).
#![allow(rustdoc::private_intra_doc_links)]

pub mod accounts;
pub mod authority;
pub mod broker;
pub mod config;
pub mod dialect;
pub mod event;
pub mod files;
pub mod flood;
pub mod hub;
pub mod limits;
pub mod log_address;
pub mod metrics;
pub mod proxy;
pub mod server;
pub mod session;
pub mod sync;
pub mod tls;
pub mod transport;

pub use broker::{Broker, HistoryConfig};
pub use config::{Config, ServerInfo};
pub use flood::{FloodLimits, Rate};
pub use server::{Listeners, Settings, run};
