//! URLs as OSC 8 hyperlinks (`ESC ] 8 ; id=ID ; URL ESC \ text ESC ] 8 ; ; ESC \`): clickable
//! in terminals that know the sequence, plain text in those that do not. Off with
//! `links = false`.
//!
//! ratatui's cells hold symbols, not links, so the link goes in after drawing, on the frame's
//! buffer and on the real terminal only (tests' `TestBackend` pictures never see it): each cell
//! of a URL on screen gets its own opening and closing sequence around its symbol, with the
//! cell's width forced ([`CellDiffOption::ForcedWidth`]) so that ratatui's diff, which measures
//! symbols, still counts one column. Every cell is whole by itself, so a diff that rewrites some
//! of a link's cells and not others never leaves a link open; the `id` makes the terminal treat
//! the cells, and the rows of a wrapped URL, as one link.
//!
//! Only `http://` and `https://` URLs are linked, of printable ASCII without the characters
//! URLs never hold unescaped (`<>"` and friends): nothing in the sequence can end it early. The
//! text comes from the screen, already sanitised.

use std::num::NonZeroU16;

use ratatui::buffer::{Buffer, CellDiffOption};
use ratatui::layout::Rect;
use unicode_width::UnicodeWidthStr;

/// Longest URL linked, in bytes; longer ones stay plain text (browsers and terminals cap
/// them around here too).
pub const MAX_URL_BYTES: usize = 2048;

/// The schemes linked.
const SCHEMES: [&str; 2] = ["https://", "http://"];

/// A URL on screen: where its cells are (a run per row it covers) and where it points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub url: String,
    /// `(x, y, width)` of each run of cells, in order.
    pub runs: Vec<(u16, u16, u16)>,
}

/// Whether `c` may be part of a URL as drawn.
fn url_char(c: char) -> bool {
    c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | '`' | '{' | '}' | '|' | '\\' | '^')
}

/// One row of `area`: each cell's x and symbol, the cells covered by a wide character left out.
fn row_cells(buf: &Buffer, area: Rect, y: u16) -> Vec<(u16, &str)> {
    let mut cells = Vec::with_capacity(usize::from(area.width));
    let mut x = area.x;
    while x < area.right() {
        let symbol = buf[(x, y)].symbol();
        let width = u16::try_from(symbol.width().max(1)).unwrap_or(1);
        cells.push((x, symbol));
        x = x.saturating_add(width);
    }
    cells
}

/// The length of the URL-like run starting at `at` in `cells`.
fn run_len(cells: &[(u16, &str)], at: usize) -> usize {
    cells[at..]
        .iter()
        .take_while(|(_, s)| {
            let mut chars = s.chars();
            matches!((chars.next(), chars.next()), (Some(c), None) if url_char(c))
        })
        .count()
}

/// The http(s) URLs in `area` of `buf`. A URL that reaches the area's right edge and goes on
/// at the start of the next row's text (after the hanging indent: leading blanks) is one URL
/// over both rows, as [`crate::wrap`] cuts a word wider than the row.
pub fn find(buf: &Buffer, area: Rect) -> Vec<Link> {
    let mut links = Vec::new();
    let mut y = area.y;
    while y < area.bottom() {
        let cells = row_cells(buf, area, y);
        let mut at = 0;
        let mut next_row = y + 1;
        while at < cells.len() {
            let scheme = cells[at].1 == "h" && {
                let ahead = cells[at..].iter().take(SCHEMES[0].len()).map(|(_, s)| *s);
                let ahead: String = ahead.collect();
                SCHEMES.iter().any(|s| ahead.starts_with(s))
            };
            let boundary = at == 0 || !cells[at - 1].1.chars().all(char::is_alphanumeric);
            if !(scheme && boundary) {
                at += 1;
                continue;
            }
            let len = run_len(&cells, at);
            let mut url: String = cells[at..at + len].iter().map(|(_, s)| *s).collect();
            let mut runs = vec![(cells[at].0, y, len as u16)];
            // Wrapped on: the run fills the row to its edge.
            let mut row_y = y;
            let mut reaches_edge = at + len == cells.len();
            while reaches_edge && row_y + 1 < area.bottom() && url.len() <= MAX_URL_BYTES {
                let below = row_cells(buf, area, row_y + 1);
                let indent = below.iter().take_while(|(_, s)| *s == " ").count();
                if indent == 0 || indent == below.len() {
                    break;
                }
                let more = run_len(&below, indent);
                if more == 0 {
                    break;
                }
                url.extend(below[indent..indent + more].iter().map(|(_, s)| *s));
                row_y += 1;
                runs.push((below[indent].0, row_y, more as u16));
                reaches_edge = indent + more == below.len();
            }
            let cut = trailing_punctuation(&url);
            trim_runs(&mut runs, cut);
            url.truncate(url.len() - cut);
            let host = SCHEMES.iter().any(|s| url.starts_with(s) && url.len() > s.len());
            if url.len() <= MAX_URL_BYTES && host {
                links.push(Link { url, runs });
            }
            at += len;
            next_row = next_row.max(row_y + 1);
        }
        y = next_row;
    }
    links
}

/// How many bytes at the end of `url` are punctuation that ends the sentence around it, not
/// the URL: `.,;:!?'` and a `)` without its `(` (a URL in parentheses).
fn trailing_punctuation(url: &str) -> usize {
    let mut end = url.len();
    while let Some(last) = url[..end].chars().next_back() {
        let unmatched_paren = last == ')' && !url[..end].contains('(');
        if !(matches!(last, '.' | ',' | ';' | ':' | '!' | '?' | '\'' | ']') || unmatched_paren) {
            break;
        }
        end -= 1;
    }
    url.len() - end
}

/// Takes `cut` cells off the end of `runs`.
fn trim_runs(runs: &mut Vec<(u16, u16, u16)>, mut cut: usize) {
    while cut > 0 {
        let Some(last) = runs.last_mut() else { return };
        let take = cut.min(usize::from(last.2));
        last.2 -= take as u16;
        cut -= take;
        if last.2 == 0 {
            runs.pop();
        }
    }
}

/// Makes every http(s) URL in `area` of `buf` a hyperlink.
pub fn link(buf: &mut Buffer, area: Rect) {
    for found in find(buf, area) {
        // FNV-1a of the URL: the same link in every cell and every frame.
        let id = found.url.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        for (x, y, width) in found.runs {
            for x in x..x + width {
                let cell = &mut buf[(x, y)];
                let symbol =
                    format!("\x1b]8;id={id:x};{}\x1b\\{}\x1b]8;;\x1b\\", found.url, cell.symbol());
                cell.set_symbol(&symbol);
                cell.set_diff_option(CellDiffOption::ForcedWidth(NonZeroU16::MIN));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn buffer(rows: &[&str]) -> Buffer {
        Buffer::with_lines(rows.iter().copied())
    }

    fn urls(rows: &[&str]) -> Vec<String> {
        let buf = buffer(rows);
        find(&buf, buf.area).into_iter().map(|l| l.url).collect()
    }

    /// http and https only, whole, without the sentence's punctuation, across a wrap.
    #[test]
    fn urls_are_found_whole() {
        assert_eq!(urls(&["see https://example.org/a?b=1. ok"]), ["https://example.org/a?b=1"]);
        assert_eq!(urls(&["(http://x.io/y) and ftp://no"]), ["http://x.io/y"]);
        assert_eq!(urls(&["javascript:alert(1) file:///etc notahttp://x"]), Vec::<String>::new());
        assert_eq!(urls(&["<https://a.b/\u{241b}c>"]), ["https://a.b/"], "a sanitised ESC");
        assert_eq!(
            urls(&["12:00 <Tracy> https://exam", "              ple.org/long", "12:01 next"]),
            ["https://example.org/long"]
        );
        assert_eq!(urls(&["https://"]), Vec::<String>::new(), "a scheme alone");
    }

    /// Linked cells keep their width for ratatui's diff, and each holds a whole sequence with
    /// nothing in it that could end it early.
    #[test]
    fn linked_cells_are_one_column_and_self_contained() {
        let mut buf = buffer(&["go https://a.io now"]);
        let area = buf.area;
        link(&mut buf, area);
        let plain = buffer(&["go https://a.io now"]);
        let diff = plain.diff(&buf);
        assert_eq!(diff.len(), "https://a.io".len(), "one update per linked cell, no skips");
        assert_eq!(plain.diff(&buffer(&["go https://a.io wow"])).len(), 1);
        let cell = &buf[(3, 0)];
        assert!(cell.symbol().starts_with("\x1b]8;id="), "{:?}", cell.symbol());
        assert!(cell.symbol().ends_with("h\x1b]8;;\x1b\\"));
        assert_eq!(cell.diff_option, CellDiffOption::ForcedWidth(NonZeroU16::MIN));
        assert_eq!(buf[(2, 0)].symbol(), " ");
        assert_eq!(buf[(15, 0)].symbol(), " ");
    }
}
