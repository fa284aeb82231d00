//! Whose turn a session's wake-up is. Room events come first: most wake-ups are for one, and a
//! wake-up that polls the rooms alone costs far less than one that polls everything the
//! session waits on. After [`ROOM_TURNS`] of them in a row, everything else is polled once
//! first, so a room whose events never stop does not keep the client's lines, its private
//! messages or its timers waiting.
//!
//! Of the rest, two can be kept ready by someone else: the direct queue (other people's
//! private messages, and the hub's orders: a kill, a ban, the shutdown) and the client's
//! socket (lines that cost nothing, such as `pong`), polled with the timer through the watch
//! (`watch.rs`). They take turns at going first, so a client cannot keep its kill waiting, nor
//! a crowd of senders its lines.

/// Wake-ups in a row that room events may win before the others' turn.
pub(super) const ROOM_TURNS: u8 = 16;

#[derive(Default)]
pub(super) struct Turns {
    rooms_in_a_row: u8,
    socket_first: bool,
}

impl Turns {
    /// Whether this wake-up polls the rooms at all, and first.
    pub(super) fn rooms_turn(&self) -> bool {
        self.rooms_in_a_row < ROOM_TURNS
    }

    /// Whether this wake-up polls the direct queue before the socket.
    pub(super) fn direct_first(&self) -> bool {
        !self.socket_first
    }

    /// Records what a wake-up was for: a room's event, or anything else (the others' turn,
    /// when none of them was ready, counts as theirs).
    pub(super) fn won(&mut self, by_room: bool) {
        self.rooms_in_a_row = if by_room { self.rooms_in_a_row.saturating_add(1) } else { 0 };
        self.socket_first = !self.socket_first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_others_get_a_turn_after_room_turns_room_events_in_a_row() {
        let mut turns = Turns::default();
        for _ in 0..ROOM_TURNS {
            assert!(turns.rooms_turn());
            turns.won(true);
        }
        assert!(!turns.rooms_turn(), "the others' turn");
        turns.won(false);
        assert!(turns.rooms_turn(), "then the rooms again");
        // Anything else winning starts the count again.
        for _ in 0..ROOM_TURNS - 1 {
            turns.won(true);
        }
        turns.won(false);
        turns.won(true);
        assert!(turns.rooms_turn());
    }

    #[test]
    fn the_direct_queue_and_the_socket_take_turns_at_going_first() {
        let mut turns = Turns::default();
        let mut first = Vec::new();
        for by_room in [false, false, true, false] {
            first.push(turns.direct_first());
            turns.won(by_room);
        }
        assert_eq!(first, [true, false, true, false]);
    }
}
