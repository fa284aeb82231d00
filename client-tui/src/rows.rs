//! Where each entry of a conversation sits, in rows at one width. A view scrolled far up finds
//! its first entry here instead of wrapping every entry below it, so drawing a frame costs the
//! same whatever the scrollback holds.

use std::collections::VecDeque;

/// The rows of a window's entries at one width, as running totals. Positions count from an
/// origin that stays put while entries come and go at either end, so adding or dropping one is
/// a single push or pop; they are signed because entries put in front go below the origin.
#[derive(Debug, Clone)]
pub struct RowIndex {
    width: usize,
    /// Where the first entry starts.
    start: i64,
    /// Where each entry ends, oldest first: `ends[i]` is where entry `i + 1` starts.
    ends: VecDeque<i64>,
}

impl RowIndex {
    /// The index of entries with these heights (oldest first) at `width`.
    pub fn new(width: usize, heights: impl Iterator<Item = usize>) -> Self {
        let mut index = Self { width, start: 0, ends: VecDeque::new() };
        for height in heights {
            index.push_back(height);
        }
        index
    }

    /// Whether this index describes `entries` entries at `width`.
    pub fn fits(&self, width: usize, entries: usize) -> bool {
        self.width == width && self.ends.len() == entries
    }

    pub fn width(&self) -> usize {
        self.width
    }

    fn end(&self) -> i64 {
        self.ends.back().copied().unwrap_or(self.start)
    }

    /// A newest entry of `height` rows.
    pub fn push_back(&mut self, height: usize) {
        // An entry's height is a few thousand rows at most: a text of 4 KiB at one column.
        let end = self.end() + height as i64;
        self.ends.push_back(end);
    }

    /// An oldest entry of `height` rows.
    pub fn push_front(&mut self, height: usize) {
        self.ends.push_front(self.start);
        self.start -= height as i64;
    }

    /// The oldest entry is gone.
    pub fn pop_front(&mut self) {
        if let Some(end) = self.ends.pop_front() {
            self.start = end;
        }
    }

    /// All rows.
    pub fn total(&self) -> usize {
        (self.end() - self.start) as usize
    }

    /// How many of the newest entries lie wholly within the bottom `rows` rows, and how many
    /// rows they take (at most `rows`).
    pub fn below(&self, rows: usize) -> (usize, usize) {
        let bottom = self.end();
        let threshold = bottom.saturating_sub(i64::try_from(rows).unwrap_or(i64::MAX));
        if self.start >= threshold {
            return (self.ends.len(), self.total());
        }
        // Entry `i + 1` starts where entry `i` ends: the first end at or past the threshold
        // is the start of the first entry wholly below it.
        let first_end = self.ends.partition_point(|&end| end < threshold);
        let end = self.ends.get(first_end).copied().unwrap_or(bottom);
        (self.ends.len().saturating_sub(first_end + 1), (bottom - end) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_below_a_scroll_position() {
        // Heights 2, 1, 3 (oldest first): rows 0-1, 2, 3-5.
        let index = RowIndex::new(80, [2, 1, 3].into_iter());
        assert_eq!(index.total(), 6);
        assert_eq!(index.below(0), (0, 0));
        assert_eq!(index.below(2), (0, 0), "the newest entry is only partly below");
        assert_eq!(index.below(3), (1, 3));
        assert_eq!(index.below(4), (2, 4));
        assert_eq!(index.below(5), (2, 4));
        assert_eq!(index.below(6), (3, 6));
        assert_eq!(index.below(100), (3, 6));
    }

    #[test]
    fn entries_come_and_go_at_both_ends() {
        let mut index = RowIndex::new(80, [2, 1].into_iter());
        index.push_front(4);
        index.push_back(1);
        assert!(index.fits(80, 4));
        assert_eq!(index.total(), 8);
        index.pop_front();
        assert_eq!(index.total(), 4);
        assert_eq!(index.below(2), (2, 2));
        let rebuilt = RowIndex::new(80, [2, 1, 1].into_iter());
        for rows in 0..6 {
            assert_eq!(index.below(rows), rebuilt.below(rows), "{rows} rows");
        }
    }
}
