//! The screen: what it shows besides the conversation ([`View`]) and where each pane goes in a
//! terminal of a given size ([`Panes`]). Drawing (the `ui` module) and the app's paging
//! and wrapping both ask here, so they agree on the conversation's width and height.
//!
//! ```text
//! ┌ #lobby ──────────────┐   the current window's conversation, under its room's topic
//! │ topic                │   (one row, only when the room has a topic); the connection's
//! │                      │   own lines are window 1, the server window
//! └──────────────────────┘
//!  ! disconnected: ...       a notice, only while the connection is not up
//! ┌ Michael ─────────────┐   the input line, with the cursor
//! └──────────────────────┘
//!  status: state, nick, windows with their activity
//! ```
//! Smaller terminals drop the borders; below [`MIN_WIDTH`] x [`MIN_HEIGHT`] only "terminal
//! too small" is shown.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Padding};

pub const MIN_WIDTH: u16 = 20;
pub const MIN_HEIGHT: u16 = 5;
/// Rows of the notice above the input.
const NOTICE_HEIGHT: u16 = 1;
/// Terminals shorter than this drop the borders.
const BORDER_MIN_TERMINAL_HEIGHT: u16 = 8;

/// Text rows the conversation needs before one of them goes to the topic: smaller panes
/// show the conversation alone.
const TOPIC_MIN_TEXT_ROWS: u16 = 3;

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
    /// The first row of the help shown: the help scrolls when it is taller than the screen.
    pub help_scroll: usize,
    /// The member list is shown beside the conversation.
    pub show_members: bool,
}

impl View {
    /// A terminal of `size`, showing only the panes that are always there.
    pub fn new(size: Rect) -> Self {
        Self { size, show_help: false, help_scroll: 0, show_members: false }
    }

    /// The panes in `area`: the member list beside the conversation when asked for and there
    /// is a conversation (`window_shown`); a row for the topic above it when the window's
    /// room has one (`topic`); a row for a notice above the input when there is one
    /// (`notice`).
    pub fn panes(&self, area: Rect, window_shown: bool, topic: bool, notice: bool) -> Panes {
        let panes = Panes::layout(area, self.show_members && window_shown);
        let panes = if notice { panes.with_notice() } else { panes };
        if topic { panes.with_topic() } else { panes }
    }
}

/// Where each pane goes in a terminal of a given size.
#[derive(Debug, Clone, Copy)]
pub struct Panes {
    pub messages: Rect,
    /// The member list, when shown and there is room.
    pub members: Option<Rect>,
    /// The topic's row, the first of the conversation's text area, when there is a topic
    /// and room for it.
    pub topic: Option<Rect>,
    /// The notice's row above the input, while there is one and room for it.
    pub notice: Option<Rect>,
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
        let input_height = if bordered { 3 } else { 1 };
        let [messages, input, status] = Layout::vertical([
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
        Self { messages, members, topic: None, notice: None, input, status, bordered, too_small }
    }

    /// This layout with the conversation's last row (its bottom border's row when bordered)
    /// given to a notice, if the conversation keeps a row of text. The member list beside
    /// it shortens with it.
    pub fn with_notice(self) -> Self {
        let min = if self.bordered { 3 } else { 1 };
        if self.messages.height < min + NOTICE_HEIGHT {
            return self;
        }
        let shorten = |r: Rect| Rect { height: r.height - NOTICE_HEIGHT, ..r };
        let notice = Rect {
            y: self.messages.bottom() - NOTICE_HEIGHT,
            height: NOTICE_HEIGHT,
            x: self.input.x,
            width: self.input.width,
        };
        Self {
            messages: shorten(self.messages),
            members: self.members.map(shorten),
            notice: Some(notice),
            ..self
        }
    }

    /// This layout with the first row of the conversation's text area given to the topic,
    /// if the conversation keeps [`TOPIC_MIN_TEXT_ROWS`] rows with it.
    pub fn with_topic(self) -> Self {
        let text = self.messages_inner();
        if text.height < TOPIC_MIN_TEXT_ROWS {
            return self;
        }
        Self { topic: Some(Rect { height: 1, ..text }), ..self }
    }

    /// The text area of the conversation pane, below the topic's row if there is one.
    pub fn messages_inner(&self) -> Rect {
        let text = if self.bordered { inside(self.messages) } else { self.messages };
        match self.topic {
            Some(topic) => Rect {
                y: text.y + topic.height,
                height: text.height.saturating_sub(topic.height),
                ..text
            },
            None => text,
        }
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
