//! The screen: what it shows besides the conversation ([`View`]) and where each pane goes in a
//! terminal of a given size ([`Panes`]). Drawing (the `ui` module) and the app's paging
//! and wrapping both ask here, so they agree on the conversation's width and height.
//!
//! ```text
//! ┌ connection ──────────┐   what the connection is doing, the greeting, errors
//! └──────────────────────┘
//! ┌ #lobby ──────────────┐   the current window's conversation
//! └──────────────────────┘
//! ┌ Michael ─────────────┐   the input line, with the cursor
//! └──────────────────────┘
//!  status: server, nick, room, windows
//! ```
//! Smaller terminals drop the connection pane, then the borders; below [`MIN_WIDTH`] x
//! [`MIN_HEIGHT`] only "terminal too small" is shown.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Padding};

pub const MIN_WIDTH: u16 = 20;
pub const MIN_HEIGHT: u16 = 5;
/// Rows of the connection pane, borders included.
const LOG_HEIGHT: u16 = 6;
/// Terminals shorter than this drop the connection pane.
const LOG_MIN_TERMINAL_HEIGHT: u16 = 16;
/// Terminals shorter than this drop the borders.
const BORDER_MIN_TERMINAL_HEIGHT: u16 = 8;

/// Columns of the member list, borders included.
const MEMBERS_WIDTH: u16 = 22;
/// Terminals narrower than this have no room for the member list.
const MEMBERS_MIN_TERMINAL_WIDTH: u16 = 60;

/// The screen as the person has it: the terminal's size and the parts shown on request.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// The terminal's size, for layout-dependent work such as paging.
    pub size: Rect,
    /// The help overlay is shown.
    pub show_help: bool,
    /// The member list is shown beside the conversation.
    pub show_members: bool,
}

impl View {
    /// A terminal of `size`, showing only the panes that are always there.
    pub fn new(size: Rect) -> Self {
        Self { size, show_help: false, show_members: false }
    }

    /// The panes in `area`: the member list beside the conversation when asked for and there
    /// is a conversation (`window_shown`).
    pub fn panes(&self, area: Rect, window_shown: bool) -> Panes {
        Panes::layout(area, self.show_members && window_shown)
    }
}

/// Where each pane goes in a terminal of a given size.
#[derive(Debug, Clone, Copy)]
pub struct Panes {
    pub log: Option<Rect>,
    pub messages: Rect,
    /// The member list, when shown and there is room.
    pub members: Option<Rect>,
    pub input: Rect,
    pub status: Rect,
    pub bordered: bool,
    pub too_small: bool,
}

impl Panes {
    /// The layout without the member list.
    pub fn new(area: Rect) -> Self {
        Self::layout(area, false)
    }

    /// The layout in `area`, with the member list beside the conversation when `members` is
    /// asked for and there is room.
    pub fn layout(area: Rect, members: bool) -> Self {
        let too_small = area.width < MIN_WIDTH || area.height < MIN_HEIGHT;
        let bordered = area.height >= BORDER_MIN_TERMINAL_HEIGHT;
        let log_height = if area.height >= LOG_MIN_TERMINAL_HEIGHT { LOG_HEIGHT } else { 0 };
        let input_height = if bordered { 3 } else { 1 };
        let [log, messages, input, status] = Layout::vertical([
            Constraint::Length(log_height),
            Constraint::Min(1),
            Constraint::Length(input_height),
            Constraint::Length(1),
        ])
        .areas(area);
        let (messages, members) = if members && bordered && area.width >= MEMBERS_MIN_TERMINAL_WIDTH
        {
            let [messages, members] =
                Layout::horizontal([Constraint::Min(1), Constraint::Length(MEMBERS_WIDTH)])
                    .areas(messages);
            (messages, Some(members))
        } else {
            (messages, None)
        };
        Self {
            log: (log_height > 0).then_some(log),
            messages,
            members,
            input,
            status,
            bordered,
            too_small,
        }
    }

    /// The text area of the conversation pane.
    pub fn messages_inner(&self) -> Rect {
        if self.bordered { inside(self.messages) } else { self.messages }
    }
}

/// A pane's frame: a border, one column of space inside left and right. Drawing adds the title.
pub fn frame() -> Block<'static> {
    Block::bordered().padding(Padding::horizontal(1))
}

/// The text area inside a framed pane at `area`.
pub fn inside(area: Rect) -> Rect {
    frame().inner(area)
}
