//! The status line's list of windows, fitted to the columns left for it without hiding
//! activity: the longest names are shortened first, down to [`SHORTEST_NAME`]; then the quietest windows give way to a "+N" that
//! keeps the most important mark of those it stands for (a mention, then a private message,
//! then unread messages). The window shown is always listed.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
use unicode_width::UnicodeWidthStr;

use super::fit;
use crate::window::{Target, Window};

/// The fewest columns a window's name is cut to (with its `…`): below this a name says
/// nothing, and windows give way to "+N" instead.
const SHORTEST_NAME: usize = 4;

/// What a window holds for the person, least important first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Activity {
    None,
    /// Messages not read.
    Unread,
    /// A private message not read.
    Private,
    /// A mention of us not read.
    Mention,
}

impl Activity {
    pub(super) fn of(w: &Window) -> Self {
        match w.target {
            _ if w.unread == 0 => Self::None,
            Target::Private(_) => Self::Private,
            _ if w.highlights > 0 => Self::Mention,
            _ => Self::Unread,
        }
    }

    fn style(self) -> Style {
        match self {
            Self::Mention => {
                Style::new().fg(Color::Magenta).bold().add_modifier(Modifier::UNDERLINED)
            }
            Self::Private => Style::new().fg(Color::Magenta).bold(),
            Self::Unread => Style::new().fg(Color::Yellow).bold(),
            Self::None => Style::new(),
        }
    }
}

/// One window as the list shows it.
#[derive(Debug, Clone)]
struct Item {
    /// Its number: Alt+number shows it.
    number: usize,
    title: String,
    activity: Activity,
    /// Messages not read.
    unread: usize,
    /// Of those, the ones for us: mentions, or private messages.
    for_us: usize,
    current: bool,
}

impl Item {
    /// " 3:#rust(3,1!)": its number, its name cut to `name_width`, its counts.
    fn label(&self, name_width: usize) -> String {
        format!(" {}:{}{}", self.number, fit(&self.title, name_width, true), self.counts())
    }

    /// "(3)" (three unread), "(3,1!)" (one of them a mention), "(1!)" (a private message).
    fn counts(&self) -> String {
        match self.activity {
            Activity::None => String::new(),
            Activity::Unread => format!("({})", self.unread),
            Activity::Private => format!("({}!)", self.unread),
            Activity::Mention => format!("({},{}!)", self.unread, self.for_us),
        }
    }
}

/// Columns the list of `windows` takes with every name whole.
pub(super) fn whole_width<'a>(windows: impl Iterator<Item = &'a Window>) -> usize {
    items(windows, 0).iter().map(|i| i.label(usize::MAX).width()).sum()
}

/// Columns the list of `windows` takes with every name at its shortest, none folded.
pub(super) fn shortest_width<'a>(windows: impl Iterator<Item = &'a Window>) -> usize {
    items(windows, 0).iter().map(|i| i.label(SHORTEST_NAME).width()).sum()
}

/// The windows as the list shows them; the shown one is `current`.
fn items<'a>(windows: impl Iterator<Item = &'a Window>, current: usize) -> Vec<Item> {
    windows
        .enumerate()
        .map(|(i, w)| Item {
            number: i + 1,
            title: w.target.title(),
            activity: Activity::of(w),
            unread: w.unread,
            for_us: w.highlights,
            current: i == current,
        })
        .collect()
}

/// The list of `windows` (the shown one is `current`) in at most `width` columns, each label
/// after a space.
pub(super) fn spans<'a>(
    windows: impl Iterator<Item = &'a Window>,
    current: usize,
    width: usize,
) -> Vec<Span<'static>> {
    let items = items(windows, current);
    // The longest names are cut first, no further than needed.
    let longest = items.iter().map(|i| i.title.width()).max().unwrap_or(0);
    for name_width in (SHORTEST_NAME..=longest.max(SHORTEST_NAME)).rev() {
        let total: usize = items.iter().map(|i| i.label(name_width).width()).sum();
        if total <= width {
            return items.iter().map(|i| styled(i, name_width)).collect();
        }
    }
    collapsed(&items, width)
}

fn styled(item: &Item, name_width: usize) -> Span<'static> {
    let style = if item.current {
        Style::new().bold().add_modifier(Modifier::REVERSED)
    } else {
        item.activity.style()
    };
    Span::styled(item.label(name_width), style)
}

/// The shortest names, the windows that matter most first (the shown one, then by
/// activity, then by number) while they fit beside a "+N" for the rest.
fn collapsed(items: &[Item], width: usize) -> Vec<Span<'static>> {
    let mut order: Vec<&Item> = items.iter().collect();
    order.sort_by_key(|i| (!i.current, std::cmp::Reverse(i.activity), i.number));
    let mut shown: Vec<&Item> = Vec::new();
    for (taken, item) in order.iter().enumerate() {
        let mut trial = shown.clone();
        trial.push(item);
        let used: usize = trial.iter().map(|i| i.label(SHORTEST_NAME).width()).sum();
        let rest = more(&order[taken + 1..]).map_or(0, |(label, _)| label.width());
        if used + rest > width && !item.current {
            break;
        }
        shown = trial;
    }
    let hidden: Vec<&Item> =
        order.iter().filter(|i| !shown.iter().any(|s| s.number == i.number)).copied().collect();
    shown.sort_by_key(|i| i.number);
    let mut spans: Vec<Span> = shown.iter().map(|i| styled(i, SHORTEST_NAME)).collect();
    if let Some((label, activity)) = more(&hidden) {
        spans.push(Span::styled(label, activity.style()));
    }
    spans
}

/// The "+N" for `hidden` windows, with the most important mark among them: " +3(2!)" (two
/// messages for us among them), " +3(5)" (five unread), " +3" (nothing new); `None` when
/// none is hidden.
fn more(hidden: &[&Item]) -> Option<(String, Activity)> {
    if hidden.is_empty() {
        return None;
    }
    let top = hidden.iter().map(|i| i.activity).max().unwrap_or(Activity::None);
    let mark = match top {
        Activity::None => String::new(),
        Activity::Unread => format!("({})", hidden.iter().map(|i| i.unread).sum::<usize>()),
        Activity::Private | Activity::Mention => {
            format!("({}!)", hidden.iter().map(|i| i.for_us).sum::<usize>())
        }
    };
    Some((format!(" +{}{mark}", hidden.len()), top))
}
