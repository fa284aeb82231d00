//! Drawing: `draw(frame, &App)` paints the panes where [`crate::layout`] puts them, one file
//! per pane or overlay (`certificate`: a refused certificate's question or warning), and the pieces they share (a pane's frame and title, bottom-aligned
//! rows, nick colours). It only reads the app.

use protocol::Nick;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::app::App;
use crate::layout;

mod certificate;
mod conversation;
mod input;
mod members;
mod notice;
mod overlay;
mod status;
mod window_list;

/// Nick colours: from the 256-colour cube, each at least 3:1 in contrast against both black
/// and white (readable on dark and light backgrounds alike), picked farthest-first in CIELAB
/// so that no two are alike (at least 20 ΔE apart: `tests::nick_colours_are_far_apart`).
pub const NICK_COLORS: [Color; 27] = [
    Color::Indexed(160), // red
    Color::Indexed(93),  // violet
    Color::Indexed(28),  // green
    Color::Indexed(32),  // sky blue
    Color::Indexed(199), // hot pink
    Color::Indexed(94),  // brown
    Color::Indexed(132), // dusty rose
    Color::Indexed(30),  // teal
    Color::Indexed(27),  // blue
    Color::Indexed(171), // orchid
    Color::Indexed(197), // crimson
    Color::Indexed(167), // indian red
    Color::Indexed(105), // periwinkle
    Color::Indexed(166), // orange
    Color::Indexed(201), // magenta
    Color::Indexed(97),  // lavender grey
    Color::Indexed(126), // plum
    Color::Indexed(100), // olive
    Color::Indexed(31),  // steel blue
    Color::Indexed(29),  // sea green
    Color::Indexed(169), // pink
    Color::Indexed(198), // deep pink
    Color::Indexed(134), // amethyst
    Color::Indexed(127), // purple
    Color::Indexed(26),  // royal blue
    Color::Indexed(58),  // dark olive
    Color::Indexed(128), // dark violet
];

/// Our own nick's colour, whatever it is: the terminal's own foreground (bold where nicks
/// are), never one of [`NICK_COLORS`], so our lines are told apart from everyone else's at a
/// glance.
pub const OWN_NICK_COLOR: Color = Color::Reset;

/// A stable colour per nick (the same in every window, every run).
pub fn nick_color(nick: &Nick) -> Color {
    // FNV-1a: stable across runs and platforms, unlike the std hasher. Its high bits mix
    // better than its low ones. Of the lower-cased nick, not its `key()`: the key folds
    // look-alikes together for uniqueness, which spreads colours worse and may change.
    let hash =
        nick.as_str().to_lowercase().bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    NICK_COLORS[((hash >> 32) % NICK_COLORS.len() as u64) as usize]
}

/// A nick's style, when colours are on: [`OWN_NICK_COLOR`] for `me`, its colour for others.
fn nick_style(nick: &Nick, me: &Nick, colors: bool) -> Style {
    match colors {
        false => Style::new(),
        true if nick.key() == me.key() => Style::new().fg(OWN_NICK_COLOR),
        true => Style::new().fg(nick_color(nick)),
    }
}

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let panes = app.panes(area);
    if panes.too_small {
        frame.render_widget(Paragraph::new("terminal too small"), area);
        return;
    }
    conversation::draw(frame, app, &panes);
    if let Some(area) = panes.notice {
        notice::draw(frame, app, area);
    }
    if let Some(area) = panes.members {
        members::draw(frame, app, area);
    }
    input::draw(frame, app, &panes);
    status::draw(frame, app, panes.status, panes.bordered);
    if let Some(refusal) = &app.link.certificate {
        certificate::draw(frame, area, refusal);
    } else if let Some(paste) = &app.composer.paste {
        overlay::draw_paste(frame, area, paste);
    } else if app.view.show_help {
        overlay::draw_help(frame, area, app.view.help_scroll);
    }
}

/// `text` (already sanitised) cut to at most `width` columns at a character boundary; with
/// `ellipsis`, a cut text ends in `…` so that it shows it was cut.
fn fit(text: &str, width: usize, ellipsis: bool) -> String {
    if text.width() <= width {
        return text.to_owned();
    }
    let room = if ellipsis { width.saturating_sub(1) } else { width };
    let mut cut = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > room {
            break;
        }
        used += w;
        cut.push(c);
    }
    if ellipsis && width > 0 {
        cut.push('…');
    }
    cut
}

/// A pane's frame with its title.
fn block(title: String) -> Block<'static> {
    layout::frame().title(Span::styled(title, Style::new().bold()))
}

/// Paints `rows` bottom-aligned in `area`, the last row at the bottom.
fn bottom_aligned(frame: &mut Frame, area: Rect, rows: Vec<Line<'_>>) {
    let height = area.height as usize;
    let skip = rows.len().saturating_sub(height);
    let pad = height.saturating_sub(rows.len());
    let mut lines: Vec<Line> = vec![Line::default(); pad];
    lines.extend(rows.into_iter().skip(skip));
    frame.render_widget(Paragraph::new(lines), area);
}

/// The rows a pane that fills from the bottom shows, top first: `items` come newest first and
/// `rows_of` makes each into its rows, until `height` rows are filled above the bottom `skip`
/// rows (a view scrolled up by `skip`), which are left out. Older items are never made.
fn bottom_rows<'a, T>(
    items: impl Iterator<Item = T>,
    height: usize,
    skip: usize,
    mut rows_of: impl FnMut(T) -> Vec<Line<'a>>,
) -> Vec<Line<'a>> {
    let mut rows = Vec::new();
    for item in items {
        rows.extend(rows_of(item).into_iter().rev());
        if rows.len() >= height + skip {
            break;
        }
    }
    let mut rows: Vec<Line> = rows.into_iter().skip(skip).collect();
    rows.reverse();
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_cuts_at_a_character_and_says_so() {
        assert_eq!(fit("short", 10, true), "short");
        assert_eq!(fit("a longer topic", 8, true), "a longe…");
        assert_eq!(fit("你好世界", 5, true), "你好…");
        assert_eq!(fit("你好世界", 5, false), "你好");
        assert_eq!(fit("abc", 0, true), "");
    }

    #[test]
    fn nick_colours_are_stable_and_spread() {
        let nick = |s| Nick::parse(s).unwrap();
        assert_eq!(nick_color(&nick("Michael")), nick_color(&nick("MICHAEL")));
        let names =
            ["Michael", "Tracy", "Guest", "Alice", "Bob", "Carol", "Dave", "Eve", "小明", "Zoë"];
        let distinct: std::collections::HashSet<_> =
            names.iter().map(|n| nick_color(&nick(n))).collect();
        assert!(distinct.len() >= 7, "only {} colours for {} names", distinct.len(), names.len());
        assert_ne!(nick_color(&nick("Michael")), nick_color(&nick("Tracy")));
        assert_ne!(nick_color(&nick("Michael")), nick_color(&nick("mallory")));
    }

    /// A colour of the 256-colour cube in CIELAB (D65), where distance is how different two
    /// colours look.
    fn lab(color: Color) -> [f64; 3] {
        let Color::Indexed(i @ 16..=231) = color else { panic!("{color:?} is not in the cube") };
        const LEVELS: [f64; 6] = [0.0, 95.0, 135.0, 175.0, 215.0, 255.0];
        let i = usize::from(i - 16);
        let linear = |level: usize| {
            let c = LEVELS[level] / 255.0;
            if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        let (r, g, b) = (linear(i / 36), linear(i / 6 % 6), linear(i % 6));
        let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
        let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
        let f = |t: f64| if t > 0.008856 { t.cbrt() } else { 7.787 * t + 16.0 / 116.0 };
        [116.0 * f(y) - 16.0, 500.0 * (f(x) - f(y)), 200.0 * (f(y) - f(z))]
    }

    /// 24 colours or more, no two alike (20 ΔE apart at least), none our own nick's.
    #[test]
    fn nick_colours_are_far_apart() {
        assert!(NICK_COLORS.len() >= 24);
        assert!(!NICK_COLORS.contains(&OWN_NICK_COLOR));
        for (i, a) in NICK_COLORS.iter().enumerate() {
            for b in &NICK_COLORS[i + 1..] {
                let (p, q) = (lab(*a), lab(*b));
                let distance = p.iter().zip(q).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt();
                assert!(distance >= 20.0, "{a:?} and {b:?} are {distance:.1} ΔE apart");
            }
        }
    }
}
