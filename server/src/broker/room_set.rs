//! The rooms that have stored messages, as a node knows them: listed by name (for room
//! lists) and found by their look-alike key (a join of `rսst` is a join of the `rust` that
//! has history, even while nobody is in it).

use std::collections::{BTreeSet, HashMap};

use protocol::{RoomKey, RoomName};

#[derive(Default)]
pub struct RoomSet {
    names: BTreeSet<RoomName>,
    /// Every room of a look-alike key, the first one stored first: it is the one a join of
    /// the key finds. (Two arise only from history older than the look-alike rule.)
    keys: HashMap<RoomKey, Vec<RoomName>>,
}

impl RoomSet {
    pub fn insert(&mut self, room: &RoomName) {
        if !self.names.contains(room) {
            self.names.insert(room.clone());
            self.keys.entry(room.key()).or_default().push(room.clone());
        }
    }

    /// The first `n` rooms by name that `skip` does not rule out: a room list's rooms with
    /// history but nobody in them, in time that grows with what is listed (and skipped), not
    /// with how many rooms were ever made.
    pub fn first(&self, n: usize, skip: impl Fn(&RoomName) -> bool) -> Vec<RoomName> {
        self.names.iter().filter(|room| !skip(room)).take(n).cloned().collect()
    }

    /// A room no longer has stored messages. Its look-alike key then finds another room of
    /// that key with history, if there is one. One key's rooms are looked at, not every
    /// room: many rooms expiring at once cost each one its own key.
    pub fn remove(&mut self, room: &RoomName) {
        if !self.names.remove(room) {
            return;
        }
        let key = room.key();
        if let Some(rooms) = self.keys.get_mut(&key) {
            rooms.retain(|other| other != room);
            if rooms.is_empty() {
                self.keys.remove(&key);
            }
        }
    }

    /// The room with history whose look-alike key is `key`.
    pub fn by_key(&self, key: &str) -> Option<RoomName> {
        self.keys.get(key).and_then(|rooms| rooms.first()).cloned()
    }

    /// The room with history that `room` reads like (itself, if it has history).
    pub fn like(&self, room: &RoomName) -> Option<RoomName> {
        if self.names.contains(room) {
            return Some(room.clone());
        }
        self.by_key(room.key().as_str())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn room(s: &str) -> RoomName {
        RoomName::parse(s).unwrap()
    }

    /// A look-alike key finds the first room of it with history; removing that one finds the
    /// next; removing the last forgets the key.
    #[test]
    fn a_key_finds_its_first_room_until_it_goes() {
        let (rust, lookalike) = (room("rust"), room("rսst"));
        let mut set: RoomSet = [rust.clone(), lookalike.clone(), room("go")].into_iter().collect();
        assert_eq!(set.like(&room("rսst")), Some(lookalike.clone()), "itself first");
        assert_eq!(set.by_key(rust.key().as_str()), Some(rust.clone()));
        set.remove(&rust);
        assert_eq!(set.by_key(rust.key().as_str()), Some(lookalike.clone()));
        set.remove(&lookalike);
        assert_eq!(set.by_key(rust.key().as_str()), None);
        assert!(!set.keys.contains_key(&rust.key()));
        assert_eq!(set.first(10, |_| false), [room("go")]);
    }
}
