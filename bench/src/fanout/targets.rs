//! Issue 23's targets for paced runs, and the lines after the table that set each
//! chat-server's latency against the bare server's.

use super::TableLine;
use crate::Mode;
use crate::subject::label_width;

/// Issue 23's targets for a paced run: chat-server's p50 within this of the bare server's...
const P50_VS_BARE_TARGET: f64 = 1.2;
/// ...and its p99 at or below the bare server's.
const P99_VS_BARE_TARGET: f64 = 1.0;

/// Whether latency ratios to the bare server's meet issue 23's targets.
pub(super) fn meets_targets(p50_vs_bare: f64, p99_vs_bare: f64) -> bool {
    p50_vs_bare <= P50_VS_BARE_TARGET && p99_vs_bare <= P99_VS_BARE_TARGET
}

/// Paced, each chat-server's p50 and p99 against the bare server's at the same room size, and
/// whether they meet issue 23's targets ([`meets_targets`]).
pub(super) fn print_against_bare(lines: &[TableLine]) {
    let against: Vec<_> = lines
        .iter()
        .filter(|(_, subject, _, _)| subject.mode() != Some(Mode::Bare))
        .filter_map(|(members, subject, _, r)| {
            Some((members, subject, r.p50_vs_bare?, r.p99_vs_bare?))
        })
        .collect();
    if against.is_empty() {
        return;
    }
    let w = label_width(against.iter().map(|a| *a.1));
    println!();
    println!(
        "against the bare server (issue 23's targets: p50 at most {P50_VS_BARE_TARGET:.1}x, \
         p99 at most {P99_VS_BARE_TARGET:.1}x):"
    );
    for (members, subject, p50, p99) in against {
        let met = if meets_targets(p50, p99) { "met" } else { "missed" };
        println!("{members:>7} {:<w$} p50 {p50:.2}x  p99 {p99:.2}x  {met}", subject.label());
    }
}
