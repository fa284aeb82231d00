//! Sending at a fixed rate: a total rate spread evenly over the senders, each on an absolute
//! schedule. A tick that comes late is caught up at once (`MissedTickBehavior::Burst`), so the
//! rate over a run is exact even on a busy machine.
//!
//! Each message carries its actual send time, not its scheduled one: tokio's timer has a
//! resolution of one millisecond, and timing from the schedule would count up to a millisecond
//! of the bench's own timer as the server's latency, against targets of one or two.

use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::time::MissedTickBehavior;

use crate::stream::Writer;
use crate::wire::{Shared, micros, padding, say_line};

/// Shortest interval between one sender's messages; tokio's interval needs a non-zero one.
const MIN_INTERVAL: Duration = Duration::from_micros(1);

/// When each sender speaks: every `interval`, sender `i` starting `offsets[i]` after the
/// others' common start, so that together they speak every `interval / senders`.
#[derive(Debug, PartialEq)]
pub struct Schedule {
    pub interval: Duration,
    pub offsets: Vec<Duration>,
}

/// The schedule of `senders` that together send `total_rate` messages a second.
pub fn schedule(total_rate: f64, senders: usize) -> anyhow::Result<Schedule> {
    if !(total_rate.is_finite() && total_rate > 0.0) {
        bail!("--total-rate must be a positive number of messages a second, not {total_rate}");
    }
    if senders == 0 {
        bail!("a fixed rate needs at least one sender");
    }
    let interval = Duration::try_from_secs_f64(senders as f64 / total_rate)
        .with_context(|| format!("--total-rate {total_rate} is too low"))?;
    if interval < MIN_INTERVAL {
        bail!("--total-rate {total_rate} over {senders} senders is over a million a second each");
    }
    let offsets = (0..senders).map(|i| interval.mul_f64(i as f64 / senders as f64)).collect();
    Ok(Schedule { interval, offsets })
}

/// One paced sender's settings.
pub struct Pace {
    /// The first message's scheduled time.
    pub first: tokio::time::Instant,
    pub interval: Duration,
    pub room: &'static str,
    /// Bytes of text per message.
    pub size: usize,
}

/// Says a timed message on `pace`'s schedule until `stop`; counts those sent inside the
/// window in the tally's `sent`.
pub async fn paced(mut w: Writer, pace: Pace, shared: Shared) -> anyhow::Result<()> {
    let Shared { epoch, tally, mut stop } = shared;
    let padding = padding(pace.size);
    let mut tick = tokio::time::interval_at(pace.first, pace.interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut line = Vec::with_capacity(pace.size + 64);
    loop {
        tokio::select! {
            biased;
            _ = stop.wait_for(|&s| s) => return Ok(()),
            _ = tick.tick() => {}
        }
        let now = micros(epoch);
        line.clear();
        say_line(&mut line, pace.room, now, &padding);
        // Counted before the write, which may wait: whoever reads the count once the window
        // has closed must find every message stamped inside it.
        if tally.contains(now) {
            tally.sent.fetch_add(1, Ordering::Relaxed);
        }
        w.send(&line).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_share_the_rate_evenly() {
        let s = schedule(100.0, 10).unwrap();
        assert_eq!(s.interval, Duration::from_millis(100));
        let expected: Vec<Duration> = (0..10).map(|i| Duration::from_millis(10 * i)).collect();
        assert_eq!(s.offsets, expected);
    }

    /// Over a second, the senders together send the total rate, one every 1/rate seconds.
    #[test]
    fn merged_sends_are_evenly_spaced() {
        let (rate, senders) = (1000.0, 7);
        let s = schedule(rate, senders).unwrap();
        let mut times = Vec::new();
        for o in &s.offsets {
            let mut t = o.as_secs_f64();
            while t < 1.0 - 1e-9 {
                times.push(t);
                t += s.interval.as_secs_f64();
            }
        }
        times.sort_by(f64::total_cmp);
        assert_eq!(times.len(), 1000);
        for pair in times.windows(2) {
            assert!((pair[1] - pair[0] - 1.0 / rate).abs() < 1e-6, "{pair:?}");
        }
    }

    #[test]
    fn one_sender_gets_the_whole_rate() {
        let s = schedule(2.5, 1).unwrap();
        assert_eq!(s.interval, Duration::from_millis(400));
        assert_eq!(s.offsets, [Duration::ZERO]);
    }

    #[test]
    fn impossible_rates_are_refused() {
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-300, 1e13] {
            assert!(schedule(rate, 10).is_err(), "{rate}");
        }
        assert!(schedule(100.0, 0).is_err());
    }
}
