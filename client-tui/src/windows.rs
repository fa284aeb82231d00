//! The open windows: which one is shown, moving between them, opening and closing them (a
//! window opened again takes the place it had), and the rooms the client knows of besides
//! its own. Window 1 (index [`SERVER`]) is the server window, always open.

use std::collections::{BTreeSet, HashMap};
use std::ops::{Index, IndexMut};

use protocol::{JoinKey, RoomInfo, RoomKey, RoomName};

use crate::replies::Replies;
use crate::window::{Target, Window};

/// The index of the server window: the first, Alt+1.
pub const SERVER: usize = 0;

/// Places of closed windows remembered, so that a room left and joined again (or a private
/// chat closed and opened again) comes back where it was: Alt+N keeps its meaning.
pub const MAX_PLACES_REMEMBERED: usize = 64;

#[derive(Debug)]
pub struct Windows {
    /// The server window, then the rest in the order they were opened (a window opened again
    /// at the place it had): Alt+1..9 and the status line count in this order.
    all: Vec<Window>,
    /// The index of the window shown.
    pub current: usize,
    /// A room we asked to join: its window is shown when the join is confirmed.
    pub(crate) pending_switch: Option<RoomName>,
    /// The keys of rooms we asked to join with one (`/join ROOM KEY`), until the join is
    /// confirmed and the key moves to the room's window. By look-alike key, as the server
    /// joins a look-alike name to the room it reads as. `JoinKey`'s `Debug` hides each.
    pending_keys: HashMap<RoomKey, JoinKey>,
    /// Rooms the server has listed (in its welcome and `/rooms`), for completion.
    pub known_rooms: BTreeSet<RoomName>,
    /// Where closed windows were, newest last, at most [`MAX_PLACES_REMEMBERED`].
    places: Vec<(Target, usize)>,
    /// Which window each question sent is answered in.
    pub replies: Replies,
    /// A room's or private window has been shown: until then the first one opened is shown
    /// in place of the server window.
    shown_conversation: bool,
}

impl Default for Windows {
    /// The server window alone, shown.
    fn default() -> Self {
        Self {
            all: vec![Window::new(Target::Server)],
            current: SERVER,
            pending_switch: None,
            pending_keys: HashMap::new(),
            known_rooms: BTreeSet::new(),
            places: Vec::new(),
            replies: Replies::default(),
            shown_conversation: false,
        }
    }
}

impl Windows {
    /// The server window.
    pub fn server(&self) -> &Window {
        &self.all[SERVER]
    }

    pub fn server_mut(&mut self) -> &mut Window {
        &mut self.all[SERVER]
    }

    /// Whether a room or private window is open, besides the server window.
    pub fn has_conversations(&self) -> bool {
        self.all.len() > 1
    }

    pub fn len(&self) -> usize {
        self.all.len()
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Window> {
        self.all.iter()
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Window> {
        self.all.iter_mut()
    }

    pub fn get(&self, index: usize) -> Option<&Window> {
        self.all.get(index)
    }

    pub fn get_mut(&mut self, index: usize) -> Option<&mut Window> {
        self.all.get_mut(index)
    }

    /// The window shown, if any is open.
    pub fn current_window(&self) -> Option<&Window> {
        self.all.get(self.current)
    }

    pub fn current_window_mut(&mut self) -> Option<&mut Window> {
        self.all.get_mut(self.current)
    }

    /// The room of the current window, if it is a room.
    pub fn current_room(&self) -> Option<&RoomName> {
        match self.current_window().map(|w| &w.target) {
            Some(Target::Room(room)) => Some(room),
            _ => None,
        }
    }

    /// The index of the window for `target`, if it is open.
    pub fn find(&self, target: &Target) -> Option<usize> {
        self.all.iter().position(|w| w.target == *target)
    }

    /// The index of the window for `target`, opened if new: at the place a window for it had
    /// when it closed, else after the others. The first window opened is shown in place of
    /// the server window.
    pub fn open(&mut self, target: Target) -> usize {
        if let Some(i) = self.find(&target) {
            return i;
        }
        let place = self.places.iter().rposition(|(t, _)| *t == target);
        let index = match place.map(|p| self.places.remove(p).1) {
            Some(at) => at.clamp(SERVER + 1, self.all.len()),
            None => self.all.len(),
        };
        self.all.insert(index, Window::new(target));
        if self.current >= index {
            self.current += 1;
        }
        if !self.shown_conversation {
            self.switch_to(index);
        }
        index
    }

    /// Closes window `index` (never the server window), remembering its place; the one shown
    /// stays shown, or, if it closed, the one before it is shown, its messages now read.
    pub fn close(&mut self, index: usize) {
        if index == SERVER || index >= self.all.len() {
            return;
        }
        let closed = self.all.remove(index);
        if self.places.len() == MAX_PLACES_REMEMBERED {
            self.places.remove(0);
        }
        self.places.push((closed.target, index));
        if self.current == index {
            self.current = index - 1;
            self.mark_read(self.current);
        } else if self.current > index {
            self.current -= 1;
        }
    }

    /// Shows window `index`, its messages now read; the window left behind keeps a read
    /// marker where the person left it.
    pub fn switch_to(&mut self, index: usize) {
        if index >= self.all.len() {
            return;
        }
        if index != self.current
            && let Some(w) = self.all.get_mut(self.current)
        {
            w.left();
        }
        self.current = index;
        self.shown_conversation |= index != SERVER;
        self.mark_read(index);
    }

    /// Window `index`'s messages are read: no unread count or mention left.
    fn mark_read(&mut self, index: usize) {
        if let Some(w) = self.all.get_mut(index) {
            w.unread = 0;
            w.highlights = 0;
        }
    }

    /// Ctrl+N, Ctrl+P: the next or previous window, round the ends.
    pub fn cycle(&mut self, step: isize) {
        let n = self.all.len();
        if n > 0 {
            let next = (self.current as isize + step).rem_euclid(n as isize) as usize;
            self.switch_to(next);
        }
    }

    /// Alt+A: the next window with something for us (a mention, a private message), else the
    /// next with any unread message, counting on from the current one.
    pub fn jump_to_activity(&mut self) {
        let n = self.all.len();
        let order = (1..n).map(|i| (self.current + i) % n);
        let target = order
            .clone()
            .find(|&i| self.all[i].highlights > 0)
            .or_else(|| order.clone().find(|&i| self.all[i].unread > 0));
        if let Some(i) = target {
            self.switch_to(i);
        }
    }

    /// We ask to join `room`, with `key` or without one: its window is shown, and keeps the
    /// key, once the server confirms.
    pub(crate) fn joining(&mut self, room: &RoomName, key: Option<&JoinKey>) {
        self.pending_switch = Some(room.clone());
        match key {
            Some(key) => self.pending_keys.insert(room.key(), key.clone()),
            None => self.pending_keys.remove(&room.key()),
        };
    }

    /// We joined `room`, whose window is `index`: it keeps the key we joined with, and is
    /// shown if it is the room we asked to join.
    pub(crate) fn joined(&mut self, room: &RoomName, index: usize) {
        if let Some(key) = self.pending_keys.remove(&room.key())
            && let Some(w) = self.all.get_mut(index)
        {
            w.room.key = Some(key);
        }
        if self.pending_switch.as_ref() == Some(room) {
            self.pending_switch = None;
            self.switch_to(index);
        }
    }

    /// The server's list of rooms, for completion.
    pub(crate) fn know_rooms(&mut self, rooms: &[RoomInfo]) {
        self.known_rooms = rooms.iter().map(|r| r.name.clone()).collect();
    }
}

impl Index<usize> for Windows {
    type Output = Window;

    fn index(&self, index: usize) -> &Window {
        &self.all[index]
    }
}

impl IndexMut<usize> for Windows {
    fn index_mut(&mut self, index: usize) -> &mut Window {
        &mut self.all[index]
    }
}
