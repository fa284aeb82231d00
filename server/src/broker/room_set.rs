//! The rooms that have stored messages, as a node knows them: listed by name (for room
//! lists) and found by their look-alike key (a join of `rսst` is a join of the `rust` that
//! has history, even while nobody is in it).

use std::collections::{BTreeSet, HashMap};

use protocol::{RoomKey, RoomName};

#[derive(Default)]
pub struct RoomSet {
    names: BTreeSet<RoomName>,
    keys: HashMap<RoomKey, RoomName>,
}

impl RoomSet {
    pub fn insert(&mut self, room: &RoomName) {
        if !self.names.contains(room) {
            self.names.insert(room.clone());
            self.keys.entry(room.key()).or_insert_with(|| room.clone());
        }
    }

    /// The first `n` rooms by name that `skip` does not rule out: a room list's rooms with
    /// history but nobody in them, in time that grows with what is listed (and skipped), not
    /// with how many rooms were ever made.
    pub fn first(&self, n: usize, skip: impl Fn(&RoomName) -> bool) -> Vec<RoomName> {
        self.names.iter().filter(|room| !skip(room)).take(n).cloned().collect()
    }

    /// A room no longer has stored messages. Its look-alike key then finds another room of
    /// that key with history, if there is one.
    pub fn remove(&mut self, room: &RoomName) {
        if !self.names.remove(room) {
            return;
        }
        let key = room.key();
        if self.keys.get(&key) == Some(room) {
            match self.names.iter().find(|name| name.key() == key) {
                Some(other) => self.keys.insert(key, other.clone()),
                None => self.keys.remove(&key),
            };
        }
    }

    /// The room with history whose look-alike key is `key`.
    pub fn by_key(&self, key: &str) -> Option<RoomName> {
        self.keys.get(key).cloned()
    }

    /// The room with history that `room` reads like (itself, if it has history).
    pub fn like(&self, room: &RoomName) -> Option<RoomName> {
        if self.names.contains(room) {
            return Some(room.clone());
        }
        self.keys.get(&room.key()).cloned()
    }
}

impl FromIterator<RoomName> for RoomSet {
    fn from_iter<I: IntoIterator<Item = RoomName>>(rooms: I) -> Self {
        let mut set = Self::default();
        for room in rooms {
            set.insert(&room);
        }
        set
    }
}
