//! The people the attackers are measured against: members of the room, each from an address of
//! its own, some of them saying a timed line at a steady rate. Besides lobby, the members' room,
//! they share a few side rooms, where the nick hopper follows them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;

use super::{ROOM, SIDE_ROOMS, lines, source};
use crate::histogram::Histogram;
use crate::stream::{Dial, Writer};
use crate::wire::{Shared, Timing, member, receive, say_line};

/// The members, each read by a task.
pub struct Members {
    pub receivers: Vec<JoinHandle<Histogram>>,
    /// Their writing halves, the senders' taken out by [`Members::speak`]; the rest are kept
    /// until the run ends, since closing one ends its session.
    pub writers: Vec<Writer>,
}

/// Connects `members` members (nicks `m0`, `m1`, ...) to `addr`, each from its own address,
/// puts each in the side rooms too, and starts reading each.
pub async fn connect(addr: &str, members: usize, shared: &Shared) -> anyhow::Result<Members> {
    let mut room = Members { receivers: Vec::new(), writers: Vec::new() };
    let mut joins = Vec::new();
    for side in SIDE_ROOMS {
        lines::join(&mut joins, side);
    }
    for i in 0..members {
        let dial = Dial::plain(addr).source(source::member(i)?);
        let (r, mut w) = member(dial, &format!("m{i}")).await?;
        w.send(&joins).await?;
        let timing = Timing::SendTimes { in_order: false };
        room.receivers.push(tokio::spawn(receive(r, None, timing, shared.clone())));
        room.writers.push(w);
    }
    Ok(room)
}

impl Members {
    /// Starts the first `senders` members saying a timed line every 1/`rate` seconds in the
    /// members' room, spread over the interval as people would be, until `stop`.
    pub fn speak(
        &mut self,
        senders: usize,
        rate: f64,
        shared: &Shared,
        stop: &Arc<AtomicBool>,
    ) -> Vec<JoinHandle<()>> {
        let interval = Duration::from_secs_f64(1.0 / rate);
        let speakers: Vec<Writer> = self.writers.drain(..senders.min(self.writers.len())).collect();
        let n = speakers.len().max(1);
        speakers
            .into_iter()
            .enumerate()
            .map(|(i, w)| {
                let offset = interval.mul_f64(i as f64 / n as f64);
                tokio::spawn(speak(w, offset, interval, shared.clone(), stop.clone()))
            })
            .collect()
    }
}

/// Says a line every `interval`, its text the send time; counts those sent in the window.
async fn speak(
    mut w: Writer,
    offset: Duration,
    interval: Duration,
    shared: Shared,
    stop: Arc<AtomicBool>,
) {
    tokio::time::sleep(offset).await;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut line = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let now = shared.now();
        line.clear();
        say_line(&mut line, ROOM, now, "");
        if w.send(&line).await.is_err() {
            return;
        }
        if shared.tally.contains(now) {
            shared.tally.sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}
