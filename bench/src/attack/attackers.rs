//! The attackers of a run: every kind, each from an address of its own, on a thread of their
//! own. The thread runs at idle priority on the bench's core: the members' reads, on the
//! bench's main thread, come first, so an attacker's flat-out loop never stands between a
//! message and the member timing it. The attackers get the rest of the core.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use tokio::sync::watch;

use super::counts::{Counts, Snapshot};
use super::crowd::{self, Crowd};
use super::repeat::{self, Requests};
use super::{churner, history, nicks, reconnect, rooms, source, who};

/// A kind of attacker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Crowd(Crowd),
    Reconnect,
    Who,
    History,
    Rooms,
    Churner,
    Nicks,
}

impl Kind {
    /// Every kind, in the order of the table.
    pub fn all() -> Vec<Kind> {
        let mut kinds: Vec<Kind> = Crowd::ALL.into_iter().map(Kind::Crowd).collect();
        kinds.extend([
            Kind::Reconnect,
            Kind::Who,
            Kind::History,
            Kind::Rooms,
            Kind::Churner,
            Kind::Nicks,
        ]);
        kinds
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Crowd(c) => c.name(),
            Kind::Reconnect => "reconnect flooder",
            Kind::Who => "who spammer",
            Kind::History => "history scraper",
            Kind::Rooms => "room spammer",
            Kind::Churner => "join/leave churner",
            Kind::Nicks => "nick hopper",
        }
    }

    /// Its name in `--attackers` and in the JSON lines.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Crowd(c) => c.name(),
            Kind::Reconnect => "reconnect",
            Kind::Who => "who",
            Kind::History => "history",
            Kind::Rooms => "rooms",
            Kind::Churner => "churner",
            Kind::Nicks => "nicks",
        }
    }

    /// The kinds `keys` name (all of them for none), or why not.
    pub fn parse(keys: Option<&[String]>) -> anyhow::Result<Vec<Kind>> {
        let Some(keys) = keys else { return Ok(Kind::all()) };
        keys.iter()
            .map(|key| {
                Kind::all().into_iter().find(|k| k.key() == key).with_context(|| {
                    let known: Vec<_> = Kind::all().into_iter().map(Kind::key).collect();
                    format!("--attackers: no attacker {key:?}; there are {}", known.join(", "))
                })
            })
            .collect()
    }

    /// What its answers count.
    pub fn answer(self) -> &'static str {
        match self {
            Kind::Crowd(c) => c.answer(),
            Kind::Reconnect => "messages accepted",
            Kind::Who => "member lists",
            Kind::History => "history pages",
            Kind::Rooms => "rooms made",
            Kind::Churner => "joins",
            Kind::Nicks => "nick changes",
        }
    }

    /// Its connections at once.
    fn connections(self) -> usize {
        match self {
            Kind::Crowd(c) => c.connections(),
            _ => 1,
        }
    }

    /// The one-connection attackers' requests.
    fn requests(self) -> Option<Requests> {
        match self {
            Kind::Who => Some(who::REQUESTS),
            Kind::History => Some(history::REQUESTS),
            Kind::Rooms => Some(rooms::REQUESTS),
            Kind::Churner => Some(churner::REQUESTS),
            Kind::Nicks => Some(nicks::REQUESTS),
            Kind::Crowd(_) | Kind::Reconnect => None,
        }
    }
}

/// A kind's address: the `n`th kind of [`Kind::all`] comes from 127.0.2.n, whichever run.
pub fn address(kind: Kind) -> IpAddr {
    let n = Kind::all().iter().position(|&k| k == kind).unwrap_or(0) + 1;
    source::attacker(u8::try_from(n).unwrap_or(u8::MAX))
}

/// The attackers while they run.
pub struct Attackers {
    stop: watch::Sender<bool>,
    thread: std::thread::JoinHandle<()>,
    started: Instant,
    counts: Vec<(Kind, Arc<Counts>)>,
}

/// What the attackers did, each kind's counts over their `seconds`.
pub struct Outcome {
    pub seconds: f64,
    pub kinds: Vec<(Kind, Snapshot)>,
}

impl Outcome {
    /// A kind's counts, if it ran.
    pub fn of(&self, kind: Kind) -> Option<&Snapshot> {
        self.kinds.iter().find(|(k, _)| *k == kind).map(|(_, s)| s)
    }
}

impl Attackers {
    /// Starts `kinds` against `server`.
    pub fn start(kinds: &[Kind], server: SocketAddr) -> anyhow::Result<Attackers> {
        let counts: Vec<(Kind, Arc<Counts>)> = kinds.iter().map(|&k| (k, Arc::default())).collect();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (stop, mut stopped) = watch::channel(false);
        let plan = counts.clone();
        let thread = std::thread::Builder::new()
            .name("attackers".into())
            .spawn(move || {
                idle_priority();
                runtime.block_on(async move {
                    for (kind, counts) in plan {
                        for i in 0..kind.connections() {
                            tokio::spawn(attack(kind, i, server, counts.clone()));
                        }
                    }
                    let _ = stopped.wait_for(|&s| s).await;
                });
                // Dropping the runtime drops every attacker's task, and so closes its socket.
            })
            .context("cannot start the attackers' thread")?;
        Ok(Attackers { stop, thread, started: Instant::now(), counts })
    }

    /// Stops them all, their connections closed, and says what they did.
    pub async fn stop(self) -> Outcome {
        let _ = self.stop.send(true);
        let seconds = self.started.elapsed().as_secs_f64();
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        let kinds = self.counts.iter().map(|(k, c)| (*k, c.snapshot())).collect();
        Outcome { seconds, kinds }
    }
}

/// One connection of `kind` (the `i`th of its kind), for as long as the runtime runs.
async fn attack(kind: Kind, i: usize, server: SocketAddr, counts: Arc<Counts>) {
    let from = address(kind);
    match (kind, kind.requests()) {
        (Kind::Crowd(c), _) => crowd::run(c, i, server, from, counts).await,
        (Kind::Reconnect, _) => reconnect::run(server, from, counts).await,
        (_, Some(requests)) => repeat::run(requests, server, from, counts).await,
        (_, None) => {}
    }
}

/// Puts the calling thread in the idle scheduling class (`chrt --idle`), when it can: this
/// thread's id is the last part of /proc/thread-self.
fn idle_priority() {
    let Ok(link) = std::fs::read_link("/proc/thread-self") else { return };
    let Some(tid) = link.file_name().and_then(|t| t.to_str()).map(str::to_owned) else {
        return;
    };
    let _ = std::process::Command::new("chrt")
        .args(["--idle", "-p", "0", &tid])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attackers_are_chosen_by_key_and_each_kind_has_its_own_address() {
        assert_eq!(Kind::parse(None).unwrap(), Kind::all());
        let chosen = ["reconnect".to_owned(), "slowloris".to_owned()];
        assert_eq!(
            Kind::parse(Some(&chosen)).unwrap(),
            [Kind::Reconnect, Kind::Crowd(Crowd::Slowloris)]
        );
        let error = Kind::parse(Some(&["dos".to_owned()])).unwrap_err().to_string();
        assert!(error.contains("\"dos\"") && error.contains("nicks"), "{error}");
        let addresses: std::collections::HashSet<_> =
            Kind::all().into_iter().map(address).collect();
        assert_eq!(addresses.len(), Kind::all().len());
        assert_eq!(address(Kind::Reconnect).to_string(), "127.0.2.7");
    }
}
