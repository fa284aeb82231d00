//! The room list of `welcome` and `rooms`: the biggest rooms (at most [`MAX_ROOMS_LISTED`])
//! with their member counts. Built again only after a room's members or secrecy changed
//! since the last time, not for every hello: a server with thousands of rooms would
//! otherwise walk them all each time someone connects.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use protocol::{RoomInfo, RoomName};

use super::Hub;
use crate::limits::MAX_ROOMS_LISTED;
use crate::sync::lock;

/// The public part of the list, as it was when the hub had seen `changes` changes.
#[derive(Default)]
pub(super) struct Listing {
    changes: u64,
    built: bool,
    rooms: Arc<[RoomInfo]>,
}

impl Hub {
    /// A room's members or authority changed: the list is built again when next asked for.
    pub(super) fn rooms_changed(&self) {
        self.changes.fetch_add(1, Ordering::Release);
    }

    /// The biggest rooms (at most [`MAX_ROOMS_LISTED`]) with their member counts, sorted by
    /// name; secret rooms (`+s`) only those in `mine`, the asking session's rooms.
    pub fn rooms<'a>(&self, mine: impl IntoIterator<Item = &'a RoomName>) -> Vec<RoomInfo> {
        let mut rooms = self.public_rooms().to_vec();
        let state = self.state();
        for room in mine {
            let secret = state.authority_of(&crate::authority::scope(room)).secret;
            if let (true, Some(entry)) = (secret, state.rooms.get(room)) {
                rooms.push(RoomInfo { name: room.clone(), members: entry.known() });
            }
        }
        drop(state);
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        rooms
    }

    /// The list without secret rooms: kept, or built again if anything changed since.
    pub(super) fn public_rooms(&self) -> Arc<[RoomInfo]> {
        let changes = self.changes.load(Ordering::Acquire);
        {
            let listing = lock(&self.listing);
            if listing.built && listing.changes == changes {
                return listing.rooms.clone();
            }
        }
        let rooms: Arc<[RoomInfo]> = self.build_public_rooms().into();
        let mut listing = lock(&self.listing);
        // Changes seen while building make the next caller build again.
        *listing = Listing { changes, built: true, rooms: rooms.clone() };
        rooms
    }

    fn build_public_rooms(&self) -> Vec<RoomInfo> {
        let state = self.state();
        // The secret rooms by name, through the look-alike index: no room's key is computed.
        let secret: std::collections::HashSet<&RoomName> = state
            .authority
            .iter()
            .filter(|(_, cell)| cell.load().secret)
            .filter_map(|(scope, _)| state.room_keys.get(scope.strip_prefix('#')?))
            .collect();
        let mut rooms: Vec<RoomInfo> = state
            .rooms
            .iter()
            .filter(|(name, _)| !secret.contains(name))
            .map(|(name, room)| RoomInfo { name: name.clone(), members: room.known() })
            .collect();
        drop(state);
        if rooms.len() > MAX_ROOMS_LISTED {
            rooms.select_nth_unstable_by(MAX_ROOMS_LISTED, |a, b| b.members.cmp(&a.members));
            rooms.truncate(MAX_ROOMS_LISTED);
        }
        rooms
    }
}
