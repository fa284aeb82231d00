//! The first attackers of the scenario: flooders that come back after every cut-off, members
//! that never read, half-open slowloris connections, garbage senders, senders of escape
//! sequences and impostors with a look-alike nick. Each connection loops until the attackers'
//! runtime is dropped.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::ROOM;
use super::counts::Counts;
use super::inbox::{Inbox, field, is};
use super::lines;
use crate::stream::tcp_from;

/// Longest a cut-off attacker waits for the server to close before it comes back anyway.
const READ_WAIT: Duration = Duration::from_secs(5);

/// Between a cut-off and the next connection: a sustained attack, not a connection flood
/// (that is the reconnect flooder's).
const COME_BACK: Duration = Duration::from_millis(200);

/// Escape sequences, bidi overrides and C1 controls, as JSON escapes: an attack on the
/// readers' terminals.
const ESCAPES: [&str; 3] = [
    "\\u001b[2J\\u001b]0;pwned\\u0007",
    "\\u202etxt.exe\\u202c \\u2066x\\u2069",
    "\\u009b31m\\u009d0;x\\u009c",
];

/// The kinds of the crowd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crowd {
    /// Sends a burst far past the flood limit, is cut off, comes back.
    Flooder,
    /// Joins and never reads.
    NonReader,
    /// Sends a hello one byte a second, never finishing it.
    Slowloris,
    /// Unreadable lines until cut off, then comes back.
    Garbage,
    /// Escape sequences, bidi overrides and C1 controls, within the flood limit.
    Escapes,
    /// Tries a nick that looks like a member's, again and again.
    Impostor,
}

impl Crowd {
    pub const ALL: [Crowd; 6] = [
        Crowd::Flooder,
        Crowd::NonReader,
        Crowd::Slowloris,
        Crowd::Garbage,
        Crowd::Escapes,
        Crowd::Impostor,
    ];

    /// Connections of the kind at once.
    pub fn connections(self) -> usize {
        match self {
            Crowd::Flooder | Crowd::Garbage => 5,
            Crowd::NonReader => 10,
            Crowd::Slowloris => 50,
            Crowd::Escapes | Crowd::Impostor => 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Crowd::Flooder => "flooder",
            Crowd::NonReader => "non-reader",
            Crowd::Slowloris => "slowloris",
            Crowd::Garbage => "garbage",
            Crowd::Escapes => "escapes",
            Crowd::Impostor => "impostor",
        }
    }

    /// What its answers count.
    pub fn answer(self) -> &'static str {
        match self {
            Crowd::Flooder | Crowd::Escapes => "messages accepted",
            Crowd::Impostor => "welcomes",
            Crowd::NonReader | Crowd::Slowloris | Crowd::Garbage => "-",
        }
    }
}

/// One connection of the crowd, the `i`th of its kind, from the kind's address `from`.
pub async fn run(kind: Crowd, i: usize, server: SocketAddr, from: IpAddr, counts: Arc<Counts>) {
    let mut round = 0u64;
    loop {
        round += 1;
        let Ok(stream) = tcp_from(from, server).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        Counts::add(&counts.connections, 1);
        let _ = stream.set_nodelay(true);
        let (r, mut w) = stream.into_split();
        let nick = format!("{}{i}x{round}", kind.name().replace('-', ""));
        let mut out = Vec::new();
        match kind {
            Crowd::Flooder => {
                lines::hello(&mut out, &nick);
                for n in 0..1000 {
                    lines::say(&mut out, ROOM, &format!("spam {n}"));
                }
            }
            Crowd::Garbage => {
                lines::hello(&mut out, &nick);
                garbage(&mut out);
            }
            // A Cyrillic м before the first member's 0.
            Crowd::Impostor => lines::hello(&mut out, "\u{43c}0"),
            Crowd::NonReader | Crowd::Escapes => lines::hello(&mut out, &nick),
            Crowd::Slowloris => {}
        }
        Counts::add(&counts.requests, lines::count(&out));
        if w.write_all(&out).await.is_err() {
            continue;
        }
        match kind {
            Crowd::Flooder | Crowd::Garbage | Crowd::Impostor => {
                read_to_end(Inbox::new(r, counts.clone()), &nick, kind, &counts).await;
                tokio::time::sleep(COME_BACK).await;
            }
            Crowd::NonReader => hold_unread(r, w, &counts).await,
            Crowd::Slowloris => slowloris(w).await,
            Crowd::Escapes => escapes(Inbox::new(r, counts.clone()), w, &nick, &counts).await,
        }
    }
}

/// Unreadable lines: not UTF-8, too long, of no type, a `say` without text.
fn garbage(out: &mut Vec<u8>) {
    for n in 0..100 {
        match n % 4 {
            0 => out.extend_from_slice(b"\xff\xfe not utf-8\n"),
            1 => out.extend_from_slice(&[b'['; 20_000]),
            2 => out.extend_from_slice(b"\n{\"type\":\"dance\"}\n"),
            _ => out.extend_from_slice(b"{\"type\":\"say\",\"room\":\"lobby\"}\n"),
        }
    }
}

/// Reads until the server closes (or stays silent for [`READ_WAIT`]); counts the flooder's
/// accepted messages and an impostor's welcomes.
async fn read_to_end(mut inbox: Inbox, nick: &str, kind: Crowd, counts: &Counts) {
    loop {
        let mut answers = 0;
        let read = inbox.read(|line| {
            let own = is(line, "message") && field(line, "from") == Some(nick);
            if (kind == Crowd::Flooder && own) || (kind == Crowd::Impostor && is(line, "welcome")) {
                answers += 1;
            }
        });
        match tokio::time::timeout(READ_WAIT, read).await {
            Ok(true) => Counts::add(&counts.answers, answers),
            Ok(false) | Err(_) => return,
        }
    }
}

/// Never reads: holds the connection until the server gives up on it. A ping every half
/// second (and a look at the socket) notices when it has.
async fn hold_unread(mut r: OwnedReadHalf, mut w: OwnedWriteHalf, counts: &Counts) {
    let ping = b"{\"type\":\"ping\",\"token\":1}\n";
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut one = [0u8; 1];
        let closed = matches!(
            tokio::time::timeout(Duration::ZERO, r.peek(&mut one)).await,
            Ok(Ok(0) | Err(_))
        );
        if closed || w.write_all(ping).await.is_err() {
            return;
        }
        Counts::add(&counts.requests, 1);
    }
}

/// Sends its hello a byte a second, holding the connection for as long as the server lets it.
async fn slowloris(mut w: OwnedWriteHalf) {
    let mut hello = Vec::new();
    lines::hello(&mut hello, "slow");
    for &byte in hello.iter().take_while(|&&b| b != b'\n') {
        if w.write_all(&[byte]).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Says an escape sequence every 600 ms (within the flood limit: this attack is on the
/// readers' terminals), reading in between; counts its accepted messages.
async fn escapes(mut inbox: Inbox, mut w: OwnedWriteHalf, nick: &str, counts: &Counts) {
    for n in 0.. {
        let mut out = Vec::new();
        lines::say(&mut out, ROOM, ESCAPES[n % ESCAPES.len()]);
        if w.write_all(&out).await.is_err() {
            return;
        }
        Counts::add(&counts.requests, 1);
        let reading = async {
            loop {
                let mut answers = 0;
                let open = inbox
                    .read(|line| {
                        if is(line, "message") && field(line, "from") == Some(nick) {
                            answers += 1;
                        }
                    })
                    .await;
                Counts::add(&counts.answers, answers);
                if !open {
                    return;
                }
            }
        };
        if tokio::time::timeout(Duration::from_millis(600), reading).await.is_ok() {
            // The connection ended.
            return;
        }
    }
}
