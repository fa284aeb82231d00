//! The flags of `chat-server`, and what they become: [`ServerInfo`] (what sessions are told and
//! held to), the broker's settings.
//!
//! - `flood.rs`: the flags of flood control and the connection throttle.
//! - `privacy.rs`: the flags of what the server keeps about people (retention, addresses).
//! - `info.rs`: [`ServerInfo`], what sessions are told and held to.
//! - `load.rs`: [`Loaded`]: the defaults, the `--config` file and the command line, in that
//!   order of precedence; `file.rs`: the file, turned into the flags it stands for.
//! - `effective.rs`: [`Effective`], every setting in force, as `--print-config` prints it.
//! - `reload.rs`: [`Reloader`], SIGHUP: the file read again, what may change put in force.

mod effective;
mod file;
mod flood;
mod info;
mod load;
mod reload;

pub use effective::{Change, Effective};
pub use file::MAX_CONFIG_BYTES;
pub use flood::FloodFlags;
pub use info::ServerInfo;
pub use load::Loaded;
pub use reload::{LIVE, Reloaded, Reloader, is_live};

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::broker::redis::RedisUrl;
use crate::broker::redis::address::{SecretArg, read_ca_file};
use crate::broker::{ClusterConfig, HistoryConfig, Location};
use crate::limits::{
    HELLO_TIMEOUT, HISTORY_KEEP, HISTORY_ON_JOIN, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_IP,
    MAX_ROOM_MEMBERS, MAX_ROOMS, NICK_RESERVATION, PING_INTERVAL, PLAIN_IDLE_TIMEOUT,
};
use crate::proxy::{Cidr, TrustedProxies};
use crate::tls::{self, TlsError, TlsFiles};

mod privacy;
pub use privacy::{Logs, Retention};

/// The environment variable that may hold the Redis URL, instead of `--redis`.
pub const REDIS_URL_ENV: &str = "CHAT_REDIS_URL";

/// A chat server: rooms, private messages and presence over JSON lines, and a plain-text port
/// for nc, telnet and small scripts.
#[derive(Debug, Clone, Parser)]
#[command(name = "chat-server", version)]
pub struct Config {
    /// Read settings from FILE (TOML), whose keys are these flags' long names: `flood-rate =
    /// 2.0`, `admin = ["Michael"]`, `no-plain = true`. A flag given here wins over the file.
    /// SIGHUP reads the file again: what can change without a restart does, for new
    /// connections (--print-config shows the result).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print the settings in force (the defaults, the --config file, then these flags) as a
    /// file --config reads, and exit. The Redis URL is printed only if it holds no password.
    #[arg(long)]
    pub print_config: bool,

    /// Address for JSON-lines clients (chat-tui). IPv6 works too: `[::1]:7878`.
    #[arg(long, default_value = "127.0.0.1:7878", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Address for plain-text clients (nc, telnet, scripts).
    #[arg(long, default_value = "127.0.0.1:7879", value_name = "ADDR")]
    pub plain_listen: SocketAddr,

    /// Do not open the plain-text port.
    #[arg(long)]
    pub no_plain: bool,

    /// Serve Prometheus metrics at http://ADDR/metrics (off by default; give a port). The
    /// listener has no TLS and no password, and metrics show how busy the chat is: keep it on
    /// loopback or behind a firewall (any other address is warned of in the log).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,

    /// Worker threads of the runtime that serves the connections. By default one per CPU this
    /// process may run on, as its CPU affinity and cgroup quota allow (under `taskset -c 0`:
    /// one). Fewer leaves CPUs to a Redis or a database on the same machine.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub worker_threads: Option<u16>,

    /// The chat's name, in the greeting ("Welcome to NAME.").
    #[arg(long, default_value = "chat")]
    pub name: String,

    /// Message of the day, shown to every client after the greeting.
    #[arg(long, default_value = "Be kind. Type /help for the commands.")]
    pub motd: String,

    /// An account that administers the server (repeatable): it owns lobby, may act as owner
    /// in every room, and may /kill and /gban. It must be registered and logged in to count.
    #[arg(long = "admin", value_name = "NAME", value_parser = parse_admin)]
    pub admins: Vec<protocol::Nick>,

    /// Most connections at once; more are told the server is full.
    #[arg(long, default_value_t = MAX_CONNECTIONS, value_name = "N")]
    pub max_connections: usize,

    /// Most connections from one IP address at once (raise it behind a proxy or NAT).
    #[arg(long, default_value_t = MAX_CONNECTIONS_PER_IP, value_name = "N")]
    pub max_connections_per_ip: usize,

    /// Most rooms at once; creating more is refused.
    #[arg(long, default_value_t = MAX_ROOMS, value_name = "N")]
    pub max_rooms: usize,

    /// Most members of one room; joining a full room is refused.
    #[arg(long, default_value_t = MAX_ROOM_MEMBERS, value_name = "N")]
    pub max_room_members: usize,

    #[command(flatten)]
    pub flood: FloodFlags,

    /// Seconds a new connection has to say hello (or, on the plain-text port, give a name)
    /// before it is closed.
    #[arg(long, default_value_t = HELLO_TIMEOUT.as_secs(), value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub hello_timeout: u64,

    /// Seconds of silence after which a JSON client is pinged; silent as long again, it is
    /// closed as dead.
    #[arg(long, default_value_t = PING_INTERVAL.as_secs(), value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub ping_interval: u64,

    /// Seconds of silence after which a plain-text client (which cannot answer a ping) is
    /// told it will be disconnected; silent --ping-interval more, it is.
    #[arg(long, default_value_t = PLAIN_IDLE_TIMEOUT.as_secs(), value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub plain_idle_timeout: u64,

    /// Seconds the nick of a client that lost its connection stays reserved for it to come
    /// back with its resume token (0: not reserved; it can still take the nick over from a
    /// session the server has not yet seen die).
    #[arg(long, default_value_t = NICK_RESERVATION.as_secs(), value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub nick_reservation: u64,

    /// The history database: a file path, or :memory: for a throwaway server. Default:
    /// $XDG_DATA_HOME/chat-server/history.db (~/.local/share/chat-server/history.db).
    #[arg(long, value_name = "PATH")]
    pub db: Option<String>,

    /// Keep no history at all: messages are only relayed.
    #[arg(long, conflicts_with = "db")]
    pub no_history: bool,

    /// Messages kept per room; older ones are deleted in the background.
    #[arg(long, default_value_t = HISTORY_KEEP, value_name = "N")]
    pub history_keep: u64,

    #[command(flatten)]
    pub retention: Retention,

    /// Messages shown to someone joining a room.
    #[arg(long, default_value_t = HISTORY_ON_JOIN, value_name = "N")]
    pub history_on_join: u32,

    /// Largest size of the history database in MiB; past it, messages are refused with an error
    /// (as on a full disk) and the server goes on.
    #[arg(long, value_name = "MIB")]
    pub db_max_mib: Option<u64>,

    /// Run as one node of several sharing rooms, presence, nicks and history through this
    /// Redis (e.g. redis://127.0.0.1:6379; rediss:// for TLS). History is then kept in Redis,
    /// not SQLite. A URL with a password is better given by --redis-url-file or the
    /// CHAT_REDIS_URL environment variable: a command line is visible to every user (ps).
    #[arg(long, value_name = "URL", conflicts_with_all = ["db", "no_history", "db_max_mib"])]
    pub redis: Option<SecretArg>,

    /// As --redis, with the URL on the first line of FILE (which only its owner should be
    /// able to read: chmod 600).
    #[arg(long, value_name = "FILE",
          conflicts_with_all = ["redis", "db", "no_history", "db_max_mib"])]
    pub redis_url_file: Option<PathBuf>,

    /// For a rediss:// URL: trust the CA certificates (PEM) in FILE, instead of the system's,
    /// to sign the Redis server's certificate.
    #[arg(long, value_name = "FILE")]
    pub redis_tls_ca: Option<PathBuf>,

    /// This node's name among the nodes sharing a Redis (letters, digits, '-', '_', '.').
    /// Default: a new random one each start (its predecessor's sessions are then announced
    /// gone by the other nodes a few seconds after it stopped).
    #[arg(long, value_name = "NAME")]
    pub node_id: Option<String>,

    /// Speak TLS only, on both ports, with the certificate chain in FILE (PEM, the server's
    /// own certificate first; Let's Encrypt's fullchain.pem). Needs --tls-key. SIGHUP reads
    /// both files again: new connections get the new certificate, open ones carry on.
    #[arg(long, value_name = "FILE", requires = "tls_key", conflicts_with = "tls_self_signed")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM: PKCS#8, RSA or EC).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Speak TLS only, with a certificate this server makes for itself on its first start (for
    /// localhost, the listen addresses and this machine's name) and keeps in its data directory
    /// (tls-cert.pem and tls-key.pem, readable by the owner only). Its SHA-256 fingerprint is
    /// printed at every start: give it to users, whose clients ask them to compare it.
    #[arg(long)]
    pub tls_self_signed: bool,

    /// Connections from these networks (a CIDR: 10.0.0.0/8, 2001:db8::/32, or one address;
    /// repeatable) come through a proxy and must start with a PROXY protocol header (v1 or
    /// v2: haproxy send-proxy, nginx proxy_protocol on), whose client address is then the one
    /// counted by --max-connections-per-ip and logged. Other connections that start with such a
    /// header are refused.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    pub trusted_proxies: Vec<Cidr>,

    #[command(flatten)]
    pub logs: Logs,

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
            max_connections_per_ip: self.max_connections_per_ip,
            max_rooms: self.max_rooms,
            max_room_members: self.max_room_members,
            flood: self.flood.limits(),
            connects: self.flood.connects(),
            throttle_exempt: self.flood.exempt(),
            hello_timeout: Duration::from_secs(self.hello_timeout),
            ping_interval: Duration::from_secs(self.ping_interval),
            plain_idle_timeout: Duration::from_secs(self.plain_idle_timeout),
            nick_reservation: Duration::from_secs(self.nick_reservation),
            admins: self.admins.clone(),
            ..ServerInfo::default()
        }
    }

    /// Where history goes, as the flags say. For the default location its directory is
    /// created; an explicit path's directory must exist.
    pub fn history(&self) -> anyhow::Result<HistoryConfig> {
        let location = if self.no_history {
            None
        } else {
            Some(match self.db.as_deref() {
                Some(":memory:") => Location::Memory,
                Some(path) => Location::File(PathBuf::from(path)),
                None => {
                    let path = default_db_path();
                    if let Some(dir) = path.parent() {
                        crate::files::create_dir(dir).map_err(|e| {
                            anyhow::anyhow!(
                                "cannot create the history directory {}: {e}",
                                dir.display()
                            )
                        })?;
                    }
                    Location::File(path)
                }
            })
        };
        Ok(HistoryConfig {
            location,
            keep: self.history_keep,
            on_join: self.history_on_join,
            max_bytes: self.db_max_mib.map(|mib| mib.saturating_mul(1024 * 1024)),
            max_age: self.retention.history_max_age,
        })
    }

    /// The cluster settings, with `--redis`, `--redis-url-file` or [`REDIS_URL_ENV`]; `None`
    /// for a single node. Warns (in the log) of a URL file others can read and of a password
    /// that would cross the network unencrypted.
    pub fn cluster(&self) -> anyhow::Result<Option<ClusterConfig>> {
        self.cluster_with(std::env::var_os(REDIS_URL_ENV))
    }

    /// [`Config::cluster`], with `env` as the value of [`REDIS_URL_ENV`].
    fn cluster_with(&self, env: Option<OsString>) -> anyhow::Result<Option<ClusterConfig>> {
        // An empty variable counts as unset, as clap does for its own.
        let env = env.filter(|value| !value.is_empty());
        let given = [
            self.redis.is_some().then_some("--redis"),
            self.redis_url_file.is_some().then_some("--redis-url-file"),
            env.is_some().then_some(REDIS_URL_ENV),
        ];
        let given: Vec<&str> = given.into_iter().flatten().collect();
        if let [first, second, ..] = given.as_slice() {
            anyhow::bail!("{first} and {second} both give the Redis URL: give it one way only");
        }
        let url = if let Some(arg) = &self.redis {
            RedisUrl::parse(arg.as_str()).map_err(|e| anyhow::anyhow!("--redis: {e}"))?
        } else if let Some(path) = &self.redis_url_file {
            let shown = path.display();
            let (url, access) = RedisUrl::from_file(path)
                .map_err(|e| anyhow::anyhow!("--redis-url-file {shown}: {e:#}"))?;
            if access.open_to_others() {
                let mode = access.mode.unwrap_or_default();
                tracing::warn!(
                    "--redis-url-file {shown} is open to others than its owner \
                     (mode {mode:04o}), and it may hold the Redis password: chmod 600 {shown}"
                );
            }
            url
        } else if let Some(value) = env {
            let text = value
                .into_string()
                .map_err(|_| anyhow::anyhow!("{REDIS_URL_ENV}: not UTF-8 text"))?;
            RedisUrl::parse(&text).map_err(|e| anyhow::anyhow!("{REDIS_URL_ENV}: {e}"))?
        } else {
            if self.node_id.is_some() {
                anyhow::bail!(
                    "--node-id names a node sharing a Redis: give the Redis URL too \
                     (--redis, --redis-url-file or {REDIS_URL_ENV})"
                );
            }
            if self.redis_tls_ca.is_some() {
                anyhow::bail!("--redis-tls-ca is for a rediss:// Redis URL, and none is given");
            }
            return Ok(None);
        };
        if given == [REDIS_URL_ENV] {
            // The flags' own conflicts are clap's; the variable's are checked here.
            let local = [
                self.db.is_some().then_some("--db"),
                self.no_history.then_some("--no-history"),
                self.db_max_mib.is_some().then_some("--db-max-mib"),
            ];
            if let Some(flag) = local.into_iter().flatten().next() {
                anyhow::bail!(
                    "{flag} is for a single node, but {REDIS_URL_ENV} is set (history is then \
                     kept in Redis): unset it or leave {flag} out"
                );
            }
        }
        let tls_ca = match &self.redis_tls_ca {
            Some(path) if !url.is_tls() => anyhow::bail!(
                "--redis-tls-ca {} is for a rediss:// (TLS) Redis URL, and {url} is not one",
                path.display()
            ),
            Some(path) => Some(
                read_ca_file(path)
                    .map_err(|e| anyhow::anyhow!("--redis-tls-ca {}: {e:#}", path.display()))?,
            ),
            None => None,
        };
        if url.secret_in_clear() {
            tracing::warn!(
                "the Redis password or user name crosses the network unencrypted to {url}: \
                 use rediss:// (TLS)"
            );
        }
        let node = self.node_id.clone().unwrap_or_else(|| {
            let id = uuid::Uuid::new_v4().simple().to_string();
            format!("node-{}", &id[..8])
        });
        Ok(Some(ClusterConfig { url, tls_ca, node }))
    }

    /// The networks of `--trusted-proxy`.
    pub fn trusted_proxies(&self) -> TrustedProxies {
        TrustedProxies::new(self.trusted_proxies.iter().copied())
    }

    pub fn plain_addr(&self) -> Option<SocketAddr> {
        (!self.no_plain).then_some(self.plain_listen)
    }

    /// The TLS certificate and key, as the flags say: given, or made (once) for
    /// `--tls-self-signed` beside the default database. `None`: no TLS.
    pub fn tls(&self) -> Result<Option<TlsFiles>, TlsError> {
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            return Ok(Some(TlsFiles { cert: cert.clone(), key: key.clone() }));
        }
        if !self.tls_self_signed {
            return Ok(None);
        }
        let path = default_db_path();
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        tls::self_signed(dir, &self.host_names()).map(Some)
    }

    /// The names a self-signed certificate is made for: localhost, the listen addresses (if
    /// not "any"), and this machine's name.
    fn host_names(&self) -> Vec<String> {
        let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
        for addr in std::iter::once(self.listen).chain(self.plain_addr()) {
            if !addr.ip().is_unspecified() {
                names.push(addr.ip().to_string());
            }
        }
        if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
            names.push(host.trim().to_owned());
        }
        names.retain(|name| !name.is_empty());
        names.sort();
        names.dedup();
        names
    }

    /// Without TLS, on an address other machines can reach: what to warn the operator of.
    pub fn clear_text_warning(&self, tls: bool) -> Option<String> {
        let exposed: Vec<String> = std::iter::once(self.listen)
            .chain(self.plain_addr())
            .filter(|addr| !addr.ip().is_loopback())
            .map(|addr| addr.to_string())
            .collect();
        (!tls && !exposed.is_empty()).then(|| {
            format!(
                "listening on {} without TLS: messages, private messages and resume tokens \
                 travel in clear text (see --tls-cert, --tls-self-signed)",
                exposed.join(" and ")
            )
        })
    }
}

/// `$XDG_DATA_HOME/chat-server/history.db`, else `~/.local/share/chat-server/history.db`, else
/// `chat-history.db` in the working directory.
pub fn default_db_path() -> PathBuf {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local/share"))
        });
    match data {
        Some(dir) => dir.join("chat-server").join("history.db"),
        None => PathBuf::from("chat-history.db"),
    }
}

/// `--admin NAME`: a nick, as an account's name.
fn parse_admin(name: &str) -> Result<protocol::Nick, String> {
    protocol::Nick::parse(name).map_err(|e| e.to_string())
}

#[cfg(test)]
mod file_tests;
#[cfg(test)]
mod tests;
