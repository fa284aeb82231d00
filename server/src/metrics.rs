//! The server's Prometheus metrics (`--metrics-listen`): their names, their help texts, and one
//! small function per thing counted, so that a call site is one line and no name is spelt
//! twice.
//!
//! The recorder is the process's: [`install`] (from `main.rs`, before anything is served)
//! puts `metrics-exporter-prometheus`'s in place, with its own HTTP listener, and makes the
//! handles of the metrics without labels. Until then (no `--metrics-listen`, and every server a
//! test runs in process) each function here returns after one atomic load: a batch written or
//! stored pays nothing more. Counts are made per batch where the work is batched (events
//! written, messages stored), never per event in a loop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use metrics::{Counter, Gauge, Histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use protocol::{ByeCode, ErrorCode, ServerMsg};

/// Connections the listeners took, refused or not.
pub const CONNECTIONS_ACCEPTED: &str = "chat_connections_accepted_total";
/// Connections turned away, by `reason` (the bye code they were told).
pub const CONNECTIONS_REFUSED: &str = "chat_connections_refused_total";
/// Sessions open now.
pub const SESSIONS: &str = "chat_sessions";
/// Sessions that hold a nick now.
pub const SESSIONS_REGISTERED: &str = "chat_sessions_registered";
/// Rooms with members now.
pub const ROOMS: &str = "chat_rooms";
/// Room messages stored and sent.
pub const MESSAGES: &str = "chat_messages_total";
/// Messages written to clients.
pub const DELIVERIES: &str = "chat_deliveries_total";
/// Private messages sent.
pub const PRIVATE_MESSAGES: &str = "chat_private_messages_total";
/// Errors sent to clients, by `code`.
pub const REFUSALS: &str = "chat_refusals_total";
/// Sessions ended, by the `code` of their goodbye.
pub const SESSION_ENDS: &str = "chat_session_ends_total";
/// How long storing a batch of messages takes.
pub const HISTORY_COMMIT_SECONDS: &str = "chat_history_commit_seconds";
/// How long copying the write-ahead log into the database file takes (the checkpointer thread
/// of a database file).
pub const HISTORY_CHECKPOINT_SECONDS: &str = "chat_history_checkpoint_seconds";
/// Times Redis stopped answering.
pub const REDIS_OUTAGES: &str = "chat_redis_outages_total";
/// Whether Redis answers.
pub const REDIS_UP: &str = "chat_redis_up";

/// The label of [`SESSION_ENDS`] for a session that ended without a goodbye: its client closed
/// the connection or lost it.
pub const NO_BYE: &str = "none";

/// Upper bounds of [`HISTORY_COMMIT_SECONDS`]'s buckets: an SQLite commit with its fsync is a
/// few milliseconds on an SSD, a Redis pipeline a round trip; the top ones are a disk or a
/// Redis in trouble.
const COMMIT_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// What kind a metric is, for its description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every metric the server exports, with its help text.
const DESCRIBED: &[(&str, Kind, &str)] = &[
    (
        CONNECTIONS_ACCEPTED,
        Kind::Counter,
        "Connections the listeners took (both ports), refused or not.",
    ),
    (
        CONNECTIONS_REFUSED,
        Kind::Counter,
        "Connections turned away without a session, by reason (the bye code: server_full, \
         too_many_connections, throttled, tls_required, shutdown).",
    ),
    (SESSIONS, Kind::Gauge, "Sessions open (connections with a session), registered or not."),
    (SESSIONS_REGISTERED, Kind::Gauge, "Sessions on this node that hold a nick."),
    (
        ROOMS,
        Kind::Gauge,
        "Rooms with members (with several nodes: every node's rooms, as this node knows them).",
    ),
    (
        MESSAGES,
        Kind::Counter,
        "Room messages stored and sent to their rooms (with several nodes: those this node \
         stored in Redis for its own sessions).",
    ),
    (
        DELIVERIES,
        Kind::Counter,
        "Messages written to clients: room events, private messages, answers and errors.",
    ),
    (
        PRIVATE_MESSAGES,
        Kind::Counter,
        "Private messages sent by this node's sessions, delivered or kept for an account.",
    ),
    (REFUSALS, Kind::Counter, "Errors sent to clients, by code (as on the wire)."),
    (
        SESSION_ENDS,
        Kind::Counter,
        "Sessions ended, by the code of their bye (none: the client closed or lost the \
         connection).",
    ),
    (
        HISTORY_COMMIT_SECONDS,
        Kind::Histogram,
        "Time to store one batch of room messages: the SQLite commit, or the Redis pipeline.",
    ),
    (
        HISTORY_CHECKPOINT_SECONDS,
        Kind::Histogram,
        "Time to copy the write-ahead log into the database file (--db FILE), off the path of \
         messages: a checkpoint by the checkpointer thread.",
    ),
    (REDIS_OUTAGES, Kind::Counter, "Times Redis stopped answering this node."),
    (REDIS_UP, Kind::Gauge, "Whether Redis answers this node (1) or not (0)."),
];

/// The handles of the metrics without labels that every server has, once [`install`] has put
/// the recorder in place: they are shown from the start, at 0. Whether it is set is also
/// whether anything is recorded at all.
static HANDLES: OnceLock<Handles> = OnceLock::new();

struct Handles {
    accepted: Counter,
    sessions: Gauge,
    registered: Gauge,
    rooms: Gauge,
    messages: Counter,
    deliveries: Counter,
    private_messages: Counter,
    commit_seconds: Histogram,
}

/// Serves the metrics as Prometheus text at `http://listen/metrics` (the exporter answers any
/// path but `/health` with them), from a listener of the exporter's own on the current tokio
/// runtime. Call once, before anything is counted. The listener has no TLS and no
/// authentication: an address other machines can reach is warned of.
pub fn install(listen: SocketAddr) -> anyhow::Result<()> {
    // The exporter binds its socket itself and does not say which port 0 would give it.
    if listen.port() == 0 {
        anyhow::bail!("--metrics-listen {listen}: give a port (for instance 9187)");
    }
    if let Some(warning) = exposure_warning(listen) {
        tracing::warn!("{warning}");
    }
    PrometheusBuilder::new()
        .with_http_listener(listen)
        .set_buckets_for_metric(Matcher::Full(HISTORY_COMMIT_SECONDS.to_owned()), COMMIT_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(HISTORY_CHECKPOINT_SECONDS.to_owned()),
                COMMIT_BUCKETS,
            )
        })
        .and_then(PrometheusBuilder::install)
        .with_context(|| format!("cannot serve metrics on {listen}"))?;
    for &(name, kind, help) in DESCRIBED {
        match kind {
            Kind::Counter => metrics::describe_counter!(name, help),
            Kind::Gauge => metrics::describe_gauge!(name, help),
            Kind::Histogram => metrics::describe_histogram!(name, Unit::Seconds, help),
        }
    }
    let handles = Handles {
        accepted: metrics::counter!(CONNECTIONS_ACCEPTED),
        sessions: metrics::gauge!(SESSIONS),
        registered: metrics::gauge!(SESSIONS_REGISTERED),
        rooms: metrics::gauge!(ROOMS),
        messages: metrics::counter!(MESSAGES),
        deliveries: metrics::counter!(DELIVERIES),
        private_messages: metrics::counter!(PRIVATE_MESSAGES),
        commit_seconds: metrics::histogram!(HISTORY_COMMIT_SECONDS),
    };
    // The recorder took its place above, which happens once per process.
    let _ = HANDLES.set(handles);
    Ok(())
}

/// On an address other machines can reach: what to warn the operator of.
pub fn exposure_warning(listen: SocketAddr) -> Option<String> {
    (!listen.ip().is_loopback()).then(|| {
        format!(
            "metrics on {listen}, reachable beyond this machine, with no TLS and no password: \
             they show how busy the chat is and when; prefer a loopback address or a firewall"
        )
    })
}

fn handles() -> Option<&'static Handles> {
    HANDLES.get()
}

/// A connection taken from a listener.
pub fn connection_accepted() {
    if let Some(h) = handles() {
        h.accepted.increment(1);
    }
}

/// A connection turned away, told `code`.
pub fn connection_refused(code: ByeCode) {
    if handles().is_some() {
        metrics::counter!(CONNECTIONS_REFUSED, "reason" => code.as_str()).increment(1);
    }
}

/// An open session, counted in [`SESSIONS`] until dropped. No bigger than nothing, so it
/// costs a session's future no room.
#[must_use]
pub struct SessionOpen(());

/// A session starts; it is counted until the guard is dropped.
pub fn session_opened() -> SessionOpen {
    if let Some(h) = handles() {
        h.sessions.increment(1.0);
    }
    SessionOpen(())
}

impl Drop for SessionOpen {
    fn drop(&mut self) {
        if let Some(h) = handles() {
            h.sessions.decrement(1.0);
        }
    }
}

/// A session ended, after saying `bye` (or nothing, `None`).
pub fn session_ended(bye: Option<ByeCode>) {
    if handles().is_some() {
        let code = bye.map_or(NO_BYE, |code| code.as_str());
        metrics::counter!(SESSION_ENDS, "code" => code).increment(1);
    }
}

/// The node's sessions that hold a nick, now `count`.
pub fn registered(count: usize) {
    if let Some(h) = handles() {
        h.registered.set(count as f64);
    }
}

/// The rooms with members, now `count`.
pub fn rooms(count: usize) {
    if let Some(h) = handles() {
        h.rooms.set(count as f64);
    }
}

/// `count` room messages stored and sent.
pub fn messages_stored(count: usize) {
    if let Some(h) = handles()
        && count > 0
    {
        h.messages.increment(count as u64);
    }
}

/// A batch of `count` messages written to a client.
pub fn delivered(count: u32) {
    if let Some(h) = handles()
        && count > 0
    {
        h.deliveries.increment(u64::from(count));
    }
}

/// A private message sent.
pub fn private_message() {
    if let Some(h) = handles() {
        h.private_messages.increment(1);
    }
}

/// A message about to be written to a client: an error is counted by its code.
#[inline]
pub fn sending(msg: &ServerMsg) {
    if let ServerMsg::Error { code, .. } = msg {
        refusal(*code);
    }
}

fn refusal(code: ErrorCode) {
    if handles().is_some() {
        metrics::counter!(REFUSALS, "code" => code.as_str()).increment(1);
    }
}

/// Runs `commit` (storing a batch of messages) and records how long it took.
pub fn timed_commit<T>(commit: impl FnOnce() -> T) -> T {
    timed(commit, |h, took| h.commit_seconds.record(took))
}

/// Runs `checkpoint` (copying the write-ahead log into the database file) and records how long
/// it took. Made at the first checkpoint, not at [`install`]: only a database file has them.
pub fn timed_checkpoint<T>(checkpoint: impl FnOnce() -> T) -> T {
    timed(checkpoint, |_, took| metrics::histogram!(HISTORY_CHECKPOINT_SECONDS).record(took))
}

/// Runs `work` and, when metrics are recorded, hands how long it took to `record`.
fn timed<T>(work: impl FnOnce() -> T, record: impl FnOnce(&Handles, Duration)) -> T {
    let Some(h) = handles() else { return work() };
    let started = Instant::now();
    let result = work();
    record(h, started.elapsed());
    result
}

/// Awaits `commit` (storing a batch of messages) and records how long it took.
pub async fn timed_commit_async<T>(commit: impl Future<Output = T>) -> T {
    let Some(h) = handles() else { return commit.await };
    let started = Instant::now();
    let result = commit.await;
    h.commit_seconds.record(started.elapsed());
    result
}

/// Redis answers (at start, and again after an outage). The Redis metrics are made here, not
/// at [`install`]: a single node has no Redis to be up or down.
pub fn redis_answering() {
    if handles().is_some() {
        metrics::gauge!(REDIS_UP).set(1.0);
        metrics::counter!(REDIS_OUTAGES).increment(0);
    }
}

/// Redis stopped answering.
pub fn redis_outage() {
    if handles().is_some() {
        metrics::counter!(REDIS_OUTAGES).increment(1);
        metrics::gauge!(REDIS_UP).set(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every metric is described once, named `chat_...`, counters ending in `_total` and no
    /// other; without a recorder every function is a no-op that does not panic.
    #[test]
    fn names_and_descriptions() {
        let mut names: Vec<&str> = DESCRIBED.iter().map(|(name, ..)| *name).collect();
        for &(name, kind, help) in DESCRIBED {
            assert!(name.starts_with("chat_"), "{name}");
            assert_eq!(name.ends_with("_total"), kind == Kind::Counter, "{name}");
            assert!(!help.is_empty(), "{name}");
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DESCRIBED.len(), "a name described twice");

        let open = session_opened();
        connection_accepted();
        connection_refused(ByeCode::ServerFull);
        registered(1);
        rooms(1);
        messages_stored(2);
        delivered(3);
        private_message();
        sending(&ServerMsg::Error {
            code: ErrorCode::NotInRoom,
            message: String::new(),
            request: None,
            retry_after_ms: None,
        });
        session_ended(None);
        assert_eq!(timed_commit(|| 7), 7);
        redis_outage();
        redis_answering();
        drop(open);
        assert_eq!(size_of::<SessionOpen>(), 0);
    }

    /// Only an address other machines can reach is warned of.
    #[test]
    fn exposure_is_warned_of_beyond_loopback_only() {
        let warning = |addr: &str| exposure_warning(addr.parse().unwrap());
        assert_eq!(warning("127.0.0.1:9187"), None);
        assert_eq!(warning("[::1]:9187"), None);
        let exposed = warning("0.0.0.0:9187").unwrap();
        assert!(exposed.contains("0.0.0.0:9187") && exposed.contains("no TLS"), "{exposed}");
        assert!(warning("192.0.2.1:9187").is_some());
    }
}
