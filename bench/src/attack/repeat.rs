//! The shape the one-connection attackers share: register, take up position (rooms to be
//! in), then repeat one request as fast as the server answers it, a few at a time, and come
//! back at once when cut off. What differs (the request, what answers it) is a [`Requests`]
//! in each attacker's own module.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::ROOM;
use super::counts::Counts;
use super::inbox::{Inbox, error_for, field, is};
use super::lines;
use crate::stream::tcp_from;

/// Longest the server may take over an answer before the requests in flight are taken as
/// lost (sent again) or, at hello, the connection is given up. The room's traffic keeps
/// arriving meanwhile: the wait is for an answer, not for a read.
const ANSWER_WAIT: Duration = Duration::from_secs(2);

/// One attacker's request and what answers it.
pub struct Requests {
    /// The start of its nicks; each connection adds its number.
    pub nick: &'static str,
    /// Appends the lines sent once hello is answered, to be where the attack is.
    pub setup: fn(&mut Vec<u8>),
    /// Appends the lines of the `n`th request (of the attacker's life, not the connection's).
    pub request: fn(u64, &mut Vec<u8>),
    /// Whether a line is the answer it is after (counted in [`Counts::answers`]).
    pub answers: fn(&[u8]) -> bool,
    /// The request type whose `error` (a refusal, or another failure) also ends a request.
    pub fails: &'static str,
    /// Requests in flight at once: more than one keeps the server busy between round trips.
    pub window: usize,
}

pub async fn run(requests: Requests, server: SocketAddr, from: IpAddr, counts: Arc<Counts>) {
    let mut n = 0u64;
    for connection in 1u64.. {
        let Ok(stream) = tcp_from(from, server).await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        Counts::add(&counts.connections, 1);
        let _ = stream.set_nodelay(true);
        let (r, mut w) = stream.into_split();
        let mut inbox = Inbox::new(r, counts.clone());
        let mut out = Vec::new();
        lines::hello(&mut out, &format!("{}{connection}", requests.nick));
        Counts::add(&counts.requests, 1);
        if w.write_all(&out).await.is_err() || !registered(&mut inbox).await {
            continue;
        }
        out.clear();
        (requests.setup)(&mut out);
        let mut in_flight = 0;
        loop {
            while in_flight < requests.window {
                (requests.request)(n, &mut out);
                n += 1;
                in_flight += 1;
            }
            Counts::add(&counts.requests, lines::count(&out));
            if w.write_all(&out).await.is_err() {
                break;
            }
            out.clear();
            let reading = async {
                loop {
                    let mut answered = 0;
                    let open = inbox
                        .read(|line| {
                            if (requests.answers)(line) {
                                Counts::add(&counts.answers, 1);
                                answered += 1;
                            } else if error_for(line, requests.fails) {
                                answered += 1;
                            }
                        })
                        .await;
                    if !open || answered > 0 {
                        return open.then_some(answered);
                    }
                }
            };
            match tokio::time::timeout(ANSWER_WAIT, reading).await {
                Ok(Some(answered)) => in_flight = in_flight.saturating_sub(answered),
                Ok(None) => break,
                Err(_) => in_flight = 0,
            }
        }
    }
}

/// Reads until hello's answer is over (lobby's member list). False if the server refused the
/// connection, closed it, or took too long.
async fn registered(inbox: &mut Inbox) -> bool {
    let reading = async {
        loop {
            let (mut done, mut refused) = (false, false);
            let open = inbox
                .read(|line| {
                    done |= is(line, "members") && field(line, "room") == Some(ROOM);
                    refused |= is(line, "bye") || error_for(line, "hello");
                })
                .await;
            if !open || refused || done {
                return open && !refused;
            }
        }
    };
    tokio::time::timeout(ANSWER_WAIT, reading).await.unwrap_or(false)
}

/// No rooms beyond lobby, where hello puts everyone.
pub fn stay(_: &mut Vec<u8>) {}
