//! `--rounds N`: each fan-out run made N times, every server of `--history` taking its turn in
//! each round, and summed up by medians. On a machine whose timing drifts from one run to the
//! next by more than the change being measured moves it, one run says little and the median
//! of several, taken turn about, says more; each round's figures are listed too, so the
//! spread can be read beside the median.

use crate::ms;
use crate::subject::{Subject, label_width};

/// The median of `values` (for an even count, the lower of the middle two: a figure some run
/// actually had); `None` if there are none.
pub fn median<T: Copy + PartialOrd>(values: impl IntoIterator<Item = T>) -> Option<T> {
    let mut values: Vec<T> = values.into_iter().collect();
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values.get(values.len().checked_sub(1)? / 2).copied()
}

/// The median of `values` that are there, `None` if none is.
pub fn median_of_some(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    median(values.into_iter().flatten())
}

/// The order in which round `round` runs `count` servers: one further on each round, so
/// none always runs first, or last.
pub fn turns(round: usize, count: usize) -> impl Iterator<Item = usize> {
    (0..count).map(move |turn| (round + turn) % count)
}

/// One server's runs at one room size, a latency pair (p50, p99 in µs) per round.
pub struct Spread {
    pub members: usize,
    pub subject: Subject,
    pub rounds: Vec<(u64, u64)>,
}

/// Prints each round's p50 and p99 per server and room size, under the table of medians.
pub fn print(spreads: &[Spread]) {
    if spreads.first().is_none_or(|s| s.rounds.len() < 2) {
        return;
    }
    let w = label_width(spreads.iter().map(|s| s.subject));
    println!();
    println!("each round, p50 / p99 ms (the table above has their medians):");
    for spread in spreads {
        let rounds: Vec<String> = spread
            .rounds
            .iter()
            .map(|&(p50, p99)| format!("{:.2} / {:.2}", ms(p50), ms(p99)))
            .collect();
        println!("{:>7} {:<w$} {}", spread.members, spread.subject.label(), rounds.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_a_value_some_run_had() {
        assert_eq!(median([3, 1, 2]), Some(2));
        assert_eq!(median([4.0, 1.0, 3.0, 2.0]), Some(2.0));
        assert_eq!(median(Vec::<u64>::new()), None);
        assert_eq!(median_of_some([None, Some(5.0), Some(1.0), None, Some(3.0)]), Some(3.0));
        assert_eq!(median_of_some([None, None]), None);
    }

    #[test]
    fn each_round_starts_one_server_further_on() {
        let orders: Vec<Vec<usize>> = (0..4).map(|round| turns(round, 3).collect()).collect();
        assert_eq!(orders, [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 1, 2]]);
    }
}
