//! The reconnect flooder: one machine (one address) that gets past a per-connection flood
//! limit by reconnecting. In a loop, as fast as the server lets it: connect, hello (which
//! puts it in lobby, the members' room: the join of a room is what hello does for lobby), ten
//! `say`s, and once they are answered, `quit` with a reason of the longest a label may be.
//!
//! Its answers are its accepted messages: each comes back to it as its own `message` (the
//! acknowledgement; its first ones may come in the page of lobby's backlog instead, having
//! been stored before the page was read). It waits for the ten answers (an echo, or an
//! `error` such as `flood`) before it quits, because a session that quits first never sees
//! the echoes of what it said last; a refused connection gets a `bye` instead, and the loop
//! goes on.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::ROOM;
use super::counts::Counts;
use super::inbox::{Inbox, error_for, from, is};
use super::lines;
use crate::stream::tcp_from;

/// `say`s a connection.
pub const SAYS: usize = 10;

/// Longest it waits for its answers, or for the close after its quit, before it gives the
/// connection up. Lobby's traffic keeps arriving meanwhile: the wait is for the answers, not
/// for a read.
const ANSWER_WAIT: Duration = Duration::from_secs(5);

pub async fn run(server: SocketAddr, from: IpAddr, counts: Arc<Counts>) {
    let reason = "r".repeat(protocol::limits::MAX_LABEL_BYTES);
    for round in 1u64.. {
        let Ok(stream) = tcp_from(from, server).await else {
            // Out of ports or refused by the kernel: the loop, not the machine, is at fault.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        Counts::add(&counts.connections, 1);
        let _ = stream.set_nodelay(true);
        let (r, mut w) = stream.into_split();
        let mut inbox = Inbox::new(r, counts.clone());
        let nick = format!("rf{round}");
        let mut out = Vec::new();
        lines::hello(&mut out, &nick);
        for n in 0..SAYS {
            lines::say(&mut out, ROOM, &format!("reconnect flood {round}.{n}"));
        }
        Counts::add(&counts.requests, lines::count(&out));
        if w.write_all(&out).await.is_err() {
            continue;
        }
        if !answered(&mut inbox, &nick, &counts).await {
            continue;
        }
        out.clear();
        lines::quit(&mut out, &reason);
        Counts::add(&counts.requests, 1);
        if w.write_all(&out).await.is_err() {
            continue;
        }
        // Until the server's goodbye and close: the server closes first, so the many closed
        // connections wait out TIME_WAIT on its side, not on this address's ports.
        let _ =
            tokio::time::timeout(ANSWER_WAIT, async { while inbox.read(|_| ()).await {} }).await;
    }
}

/// Reads until every `say` of the connection is answered, counting the accepted ones. False
/// when the connection ended first (a refusal's `bye`) or the answers took too long.
async fn answered(inbox: &mut Inbox, nick: &str, counts: &Counts) -> bool {
    let reading = async {
        let mut pending = SAYS;
        let mut ended = false;
        while pending > 0 && !ended {
            let mut accepted = 0;
            let open = inbox
                .read(|line| {
                    accepted += from(line, nick);
                    if error_for(line, "say") {
                        pending = pending.saturating_sub(1);
                    }
                    ended |= is(line, "bye");
                })
                .await;
            pending = pending.saturating_sub(accepted);
            Counts::add(&counts.answers, accepted as u64);
            ended |= !open;
        }
        !ended
    };
    tokio::time::timeout(ANSWER_WAIT, reading).await.unwrap_or(false)
}
