//! Command-line flags of `chat-server`.

use std::net::SocketAddr;

use clap::Parser;

use crate::limits::{MAX_CONNECTIONS, MAX_ROOMS};
use crate::server::ServerInfo;

/// A chat server: rooms, private messages and presence over JSON lines, and a plain-text port
/// for nc, telnet and small scripts.
#[derive(Debug, Clone, Parser)]
#[command(name = "chat-server", version)]
pub struct Config {
    /// Address for JSON-lines clients (chat-tui). IPv6 works too: [::1]:7878.
    #[arg(long, default_value = "127.0.0.1:7878", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Address for plain-text clients (nc, telnet, scripts).
    #[arg(long, default_value = "127.0.0.1:7879", value_name = "ADDR")]
    pub plain_listen: SocketAddr,

    /// Do not open the plain-text port.
    #[arg(long)]
    pub no_plain: bool,

    /// The chat's name, in the greeting ("Welcome to NAME.").
    #[arg(long, default_value = "chat")]
    pub name: String,

    /// Message of the day, shown to every client after the greeting.
    #[arg(long, default_value = "Be kind. Type /help for the commands.")]
    pub motd: String,

    /// Most connections at once; more are told the server is full.
    #[arg(long, default_value_t = MAX_CONNECTIONS, value_name = "N")]
    pub max_connections: usize,

    /// Most rooms at once; creating more is refused.
    #[arg(long, default_value_t = MAX_ROOMS, value_name = "N")]
    pub max_rooms: usize,

    /// More log output (-v debug, -vv trace). RUST_LOG, when set, takes precedence.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl Config {
    pub fn server_info(&self) -> ServerInfo {
        ServerInfo {
            name: self.name.clone(),
            motd: self.motd.clone(),
            max_connections: self.max_connections,
            max_rooms: self.max_rooms,
            ..ServerInfo::default()
        }
    }

    pub fn plain_addr(&self) -> Option<SocketAddr> {
        (!self.no_plain).then_some(self.plain_listen)
    }
}
