//! `/search` alone: the next page of older matches of the last search. The server answers a
//! search with a page of matches, newest first, and says whether older ones exist; each front
//! end keeps one [`OlderMatches`] to know what to ask for next.

use crate::limits::MAX_SEARCH_PAGE;
use crate::message::ClientMsg;
use crate::names::RoomName;
use crate::stored::Stored;
use crate::text::Label;

/// What a front end says at the end of a page of matches when older ones may exist (on Redis
/// a page stops after `SEARCH_SCAN` messages, and the next may find none).
pub const OLDER_MATCHES_EXIST: &str = "older matches may exist: /search alone shows them";

/// What a front end says to `/search` alone when the last search has no older matches left.
pub const NO_OLDER_MATCHES: &str = "no older matches to show; /search TEXT finds messages";

/// The last search answered whose older matches are not shown yet: its room, its text, and the
/// oldest match shown (the next page is of those before it). Boxed: every plain-port session
/// holds one, and most never search.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OlderMatches(Option<Box<(RoomName, Label, u64)>>);

impl OlderMatches {
    /// Notes a search's answer: the matches shown (newest first) and whether older ones exist.
    /// An answer with none left to show forgets the search.
    pub fn heard(&mut self, room: &RoomName, text: &Label, shown: &[Stored], more: bool) {
        let oldest = shown.iter().map(|m| m.seq).min();
        self.0 = match oldest {
            Some(oldest) if more => Some(Box::new((room.clone(), text.clone(), oldest))),
            _ => None,
        };
    }

    /// The request for the next page of older matches, if the last search has any.
    pub fn next(&self) -> Option<ClientMsg> {
        let (room, text, oldest) = self.0.as_deref()?.clone();
        Some(ClientMsg::Search { room, text, before: Some(oldest), limit: MAX_SEARCH_PAGE })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageKind;
    use crate::names::Nick;
    use crate::text::Text;

    fn hit(seq: u64) -> Stored {
        Stored {
            id: uuid::Uuid::nil(),
            seq,
            from: Nick::parse("Tracy").unwrap(),
            account: false,
            kind: MessageKind::Say,
            text: Some(Text::parse("the map").unwrap()),
            ts: 0,
        }
    }

    /// The next page is of the matches before the oldest one shown, in the same room with the
    /// same text; an answer with nothing older, or no match, leaves nothing to ask for.
    #[test]
    fn the_next_page_is_before_the_oldest_match_shown() {
        let (room, text) = (RoomName::parse("rust").unwrap(), Label::parse("map").unwrap());
        let mut older = OlderMatches::default();
        assert_eq!(older.next(), None, "no search yet");
        older.heard(&room, &text, &[hit(90), hit(41), hit(67)], true);
        let want = ClientMsg::Search {
            room: room.clone(),
            text: text.clone(),
            before: Some(41),
            limit: MAX_SEARCH_PAGE,
        };
        assert_eq!(older.next(), Some(want));
        older.heard(&room, &text, &[hit(12)], false);
        assert_eq!(older.next(), None, "the last page");
        older.heard(&room, &text, &[hit(90)], true);
        older.heard(&room, &text, &[], true);
        assert_eq!(older.next(), None, "no match shown: nothing to go on from");
    }
}
