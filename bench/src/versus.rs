//! `--before`: a change to chat-server measured in one invocation, by the same runs on the
//! binary built before it and on the one built after it (`--server`). Each chat-server of
//! `--history` runs on the build before and at once on the build after, so that whatever else
//! the machine is doing weighs on both alike (two invocations an hour apart would compare the
//! hours as much as the builds). Each run after is put beside its run before as after/before
//! ratios of the figures a regression would show in (1.00: no change): in its JSON line and
//! CSV row (`build` says which binary a row ran; `vs_before` is the ratio of the scenario's
//! main figure, then `p50_vs_before`, ...) and in a table after the scenario's own.
//!
//! `--tls` pairs runs the same way: each fan-out run over TLS against the same server's plain
//! run ([`FANOUT_TLS`], a table headed [`TLS_PLAIN`]).

use crate::histogram::Percentiles;
use crate::ms;
use crate::report::{Row, ratio, round};
use crate::room::Usage;
use crate::subject::{Build, Subject};

/// A figure compared between the builds.
pub struct Figure {
    /// Its column in the table of ratios.
    title: &'static str,
    /// The field of its ratio in JSON and CSV.
    field: &'static str,
}

/// The figures of a run under load (fan-out, churn): its main figure (`vs_before`, as the
/// other ratios of the main figure are `vs_off`, `vs_bare`), then the latency and what the
/// server spent on it.
const fn under_load(main: &'static str) -> [Figure; 5] {
    [
        Figure { title: main, field: "vs_before" },
        Figure { title: "p50", field: "p50_vs_before" },
        Figure { title: "p99", field: "p99_vs_before" },
        Figure { title: "srv cpu", field: "cpu_vs_before" },
        Figure { title: "rss", field: "rss_vs_before" },
    ]
}

pub const FANOUT: [Figure; 5] = under_load("deliveries/s");

/// The heading of the table of `--before`.
pub const AFTER_BEFORE: &str = "after / before";

/// The heading of the table of `--tls`.
pub const TLS_PLAIN: &str = "TLS / plain";

/// A fan-out run over TLS against its plain run: [`under_load`]'s figures, and the server's CPU
/// per delivery, which is what encrypting each member's copy adds to (flat out the server
/// uses its whole core either way, and the cost shows as fewer deliveries instead).
pub const FANOUT_TLS: [Figure; 6] = [
    Figure { title: "deliveries/s", field: "vs_plain" },
    Figure { title: "p50", field: "p50_vs_plain" },
    Figure { title: "p99", field: "p99_vs_plain" },
    Figure { title: "srv cpu", field: "cpu_vs_plain" },
    Figure { title: "rss", field: "rss_vs_plain" },
    Figure { title: "cpu/delivery", field: "cpu_per_delivery_vs_plain" },
];

pub const CHURN: [Figure; 5] = under_load("churn/s");

/// What idle connections cost: the server's memory for each, and in all.
pub const IDLE: [Figure; 2] = [
    Figure { title: "KiB/conn", field: "vs_before" },
    Figure { title: "rss after", field: "rss_vs_before" },
];

/// The values of [`under_load`]'s figures, for a run whose main figure is `main`. Taken before
/// any rounding: a server using 0.04 of a core rounds to 2 decimals too coarsely for a ratio.
pub fn loaded(main: f64, latency: &Percentiles, usage: &Usage) -> Vec<Option<f64>> {
    vec![
        Some(main),
        Some(ms(latency.p50_us)),
        Some(ms(latency.p99_us)),
        usage.server_cpu,
        usage.server_rss_mb,
    ]
}

/// A run's after/before ratio of each of its scenario's figures, in their order; empty for a
/// run not on the build after, or whose run before is missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Versus(Vec<Option<f64>>);

impl Versus {
    /// The ratios of the run of `subject` in `runs` (those of one room size) to its run before
    /// there, their figures given by `values` in the order of the scenario's [`Figure`]s.
    pub fn of<T>(
        subject: Subject,
        runs: &[(Subject, T)],
        values: impl Fn(&T) -> Vec<Option<f64>>,
    ) -> Versus {
        Versus::against(subject, subject.before(), runs, values)
    }

    /// The ratios of the run of `subject` in `runs` to the run of `other` there (none without
    /// an `other`, or when either run is missing).
    pub fn against<T>(
        subject: Subject,
        other: Option<Subject>,
        runs: &[(Subject, T)],
        values: impl Fn(&T) -> Vec<Option<f64>>,
    ) -> Versus {
        let find =
            |wanted: Subject| runs.iter().find(|(s, _)| *s == wanted).map(|(_, f)| values(f));
        let (Some(this), Some(that)) = (find(subject), other.and_then(find)) else {
            return Versus::default();
        };
        Versus(this.into_iter().zip(that).map(|(a, b)| ratio(a?, b)).collect())
    }

    /// The fields of `--before`: `build`, which binary `subject` ran (null without `--before`,
    /// and for the bare server), then a field per figure, its ratio else null, so that every
    /// row has the same fields (the columns of the CSV). After all others: the columns of a
    /// CSV written before `--before` keep their places.
    pub fn push(&self, row: &mut Row, subject: Subject, figures: &[Figure]) {
        row.push("build", subject.build().map(Build::key));
        self.push_ratios(row, figures);
    }

    /// A field per figure: its ratio, else null.
    pub fn push_ratios(&self, row: &mut Row, figures: &[Figure]) {
        for (i, figure) in figures.iter().enumerate() {
            row.push(figure.field, round(self.0.get(i).copied().flatten(), 3));
        }
    }
}

/// Prints the table of ratios under `header` (e.g. [`AFTER_BEFORE`]), a line for each of
/// `runs` (a label and its ratios) that has any; nothing when none has.
pub fn print<'a>(
    header: &str,
    figures: &[Figure],
    runs: impl IntoIterator<Item = (String, &'a Versus)>,
) {
    let lines = table(header, figures, &runs.into_iter().collect::<Vec<_>>());
    if !lines.is_empty() {
        println!();
        for line in lines {
            println!("{line}");
        }
    }
}

/// The lines of [`print`]: a header of the figures' titles, then the labelled ratios.
fn table(header: &str, figures: &[Figure], runs: &[(String, &Versus)]) -> Vec<String> {
    let runs: Vec<_> = runs.iter().filter(|(_, v)| !v.0.is_empty()).collect();
    if runs.is_empty() {
        return Vec::new();
    }
    let width = runs.iter().map(|(label, _)| label.len()).fold(header.len(), usize::max);
    let line = |label: &str, cells: Vec<String>| {
        let cells = figures.iter().zip(cells).map(|(f, c)| format!(" {c:>w$}", w = column(f)));
        format!("{label:<width$}{}", cells.collect::<String>())
    };
    let mut lines = vec![line(header, figures.iter().map(|f| f.title.to_owned()).collect())];
    for (label, versus) in runs {
        let cells = versus.0.iter().map(|r| r.map_or("-".to_owned(), |r| format!("{r:.2}")));
        lines.push(line(label, cells.collect()));
    }
    lines
}

/// The width of a figure's column: its title, and room for a ratio.
fn column(figure: &Figure) -> usize {
    figure.title.len().max(6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mode;
    use crate::tls::Transport;

    fn run(build: Option<Build>, values: [f64; 2]) -> (Subject, [f64; 2]) {
        (Subject::Started(Mode::File, build, Transport::Plain), values)
    }

    fn values(v: &[f64; 2]) -> Vec<Option<f64>> {
        v.iter().map(|&x| Some(x)).collect()
    }

    #[test]
    fn a_run_after_is_divided_by_its_run_before() {
        let runs = [run(Some(Build::Before), [100.0, 2.0]), run(Some(Build::After), [90.0, 3.0])];
        let after = Versus::of(runs[1].0, &runs, values);
        assert_eq!(after, Versus(vec![Some(0.9), Some(1.5)]));
        assert_eq!(Versus::of(runs[0].0, &runs, values), Versus::default(), "the run before");
        assert_eq!(Versus::of(runs[1].0, &runs[1..], values), Versus::default(), "no run before");
        let mut row = Row::default();
        after.push(&mut row, runs[1].0, &IDLE);
        assert_eq!(row.json(), r#"{"build":"after","vs_before":0.9,"rss_vs_before":1.5}"#);
        let mut row = Row::default();
        let bare = Subject::Started(Mode::Bare, None, Transport::Plain);
        Versus::default().push(&mut row, bare, &IDLE);
        assert_eq!(row.json(), r#"{"build":null,"vs_before":null,"rss_vs_before":null}"#);
    }

    #[test]
    fn a_figure_of_zero_before_has_no_ratio() {
        let runs = [run(Some(Build::Before), [0.0, 2.0]), run(Some(Build::After), [1.0, 2.0])];
        assert_eq!(Versus::of(runs[1].0, &runs, values), Versus(vec![None, Some(1.0)]));
    }

    #[test]
    fn the_table_has_a_line_per_run_after() {
        let after = Versus(vec![Some(0.987), None]);
        let runs =
            [("history in a file".to_owned(), &after), ("bare".to_owned(), &Versus::default())];
        assert_eq!(
            table(AFTER_BEFORE, &IDLE, &runs),
            ["after / before    KiB/conn rss after", "history in a file     0.99         -"]
        );
        assert!(table(AFTER_BEFORE, &IDLE, &runs[1..]).is_empty());
    }
}
