//! Whose turn a session's wake-up is. Room events come first: most wake-ups are for one, and a
//! wake-up that polls the rooms alone costs far less than one that polls everything the
//! session waits on. After [`ROOM_TURNS`] of them in a row, everything else is polled once
//! first, so a room whose events never stop does not keep the client's lines, its private
//! messages or its timers waiting.

/// Wake-ups in a row that room events may win before the others' turn.
pub(super) const ROOM_TURNS: u8 = 16;

#[derive(Default)]
pub(super) struct Turns {
    rooms_in_a_row: u8,
}

impl Turns {
    /// Whether this wake-up polls the rooms at all, and first.
    pub(super) fn rooms_first(&self) -> bool {
        self.rooms_in_a_row < ROOM_TURNS
    }

    /// Records what a wake-up was for: a room's event, or anything else (the others' turn,
    /// when none of them was ready, counts as theirs).
    pub(super) fn won(&mut self, by_room: bool) {
        self.rooms_in_a_row = if by_room { self.rooms_in_a_row.saturating_add(1) } else { 0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_others_get_a_turn_after_room_turns_room_events_in_a_row() {
        let mut turns = Turns::default();
        for _ in 0..ROOM_TURNS {
            assert!(turns.rooms_first());
            turns.won(true);
        }
        assert!(!turns.rooms_first(), "the others' turn");
        turns.won(false);
        assert!(turns.rooms_first(), "then the rooms again");
        // Anything else winning starts the count again.
        for _ in 0..ROOM_TURNS - 1 {
            turns.won(true);
        }
        turns.won(false);
        turns.won(true);
        assert!(turns.rooms_first());
    }
}
