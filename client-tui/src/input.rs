//! The input line: a text editor of one line, measured in display columns.
//!
//! The cursor is a byte index that always sits on a character boundary and never between a
//! character and the combining marks that follow it. Widths come from `unicode-width`, so
//! Chinese text and emoji (two columns each) put the cursor where the terminal draws it.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Longest input line, in bytes: what a message may hold.
pub const MAX_INPUT_BYTES: usize = protocol::limits::MAX_TEXT_BYTES;

/// Most combining marks kept on one character, as everywhere text is shown.
const MAX_COMBINING_RUN: usize = protocol::sanitize::MAX_COMBINING_RUN;

#[derive(Debug, Default, Clone)]
pub struct Input {
    text: String,
    /// Byte index of the cursor in `text`.
    cursor: usize,
}

fn is_mark(c: char) -> bool {
    !c.is_control() && c.width() == Some(0)
}

impl Input {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Inserts typed or pasted text at the cursor. Control characters are not kept (a tab or
    /// newline becomes a space), so the line never holds anything the terminal would act on;
    /// nor are variation selectors, whose width terminals disagree on (every receiver drops
    /// them too), and characters are kept in their display form
    /// (`protocol::sanitize::display_form`), so the cursor is where the terminal draws it;
    /// text past [`MAX_INPUT_BYTES`] is dropped.
    pub fn insert_str(&mut self, s: &str) {
        use protocol::sanitize::{display_form, is_invisible, is_variation_selector};
        for c in s.chars().map(display_form) {
            let c = if c == '\t' || c == '\n' || c == '\r' { ' ' } else { c };
            if c.is_control() || is_invisible(c) || is_variation_selector(c) {
                continue;
            }
            // A flood of marks on one character would stack over the rows above and below.
            if is_mark(c) && self.marks_before_cursor() >= MAX_COMBINING_RUN {
                continue;
            }
            if self.text.len() + c.len_utf8() > MAX_INPUT_BYTES {
                break;
            }
            self.text.insert(self.cursor, c);
            self.cursor += c.len_utf8();
        }
    }

    /// Combining marks (and other zero-width characters) right before the cursor.
    fn marks_before_cursor(&self) -> usize {
        self.text[..self.cursor].chars().rev().take_while(|&c| is_mark(c)).count()
    }

    pub fn insert(&mut self, c: char) {
        let mut buf = [0; 4];
        self.insert_str(c.encode_utf8(&mut buf));
    }

    /// Byte index of the start of the character cluster before `at`.
    fn prev(&self, at: usize) -> usize {
        let mut i = at;
        for (idx, c) in self.text[..at].char_indices().rev() {
            i = idx;
            if !is_mark(c) {
                break;
            }
        }
        i
    }

    /// Byte index after the character cluster at `at`.
    fn next(&self, at: usize) -> usize {
        let mut chars = self.text[at..].char_indices();
        let Some((_, first)) = chars.next() else { return at };
        let mut end = at + first.len_utf8();
        for (idx, c) in chars {
            if !is_mark(c) {
                break;
            }
            end = at + idx + c.len_utf8();
        }
        end
    }

    pub fn left(&mut self) {
        self.cursor = self.prev(self.cursor);
    }

    pub fn right(&mut self) {
        self.cursor = self.next(self.cursor);
    }

    pub fn home(&mut self) {
        self.cursor = 0;
    }

    pub fn end(&mut self) {
        self.cursor = self.text.len();
    }

    pub fn backspace(&mut self) {
        let start = self.prev(self.cursor);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    pub fn delete(&mut self) {
        let end = self.next(self.cursor);
        self.text.replace_range(self.cursor..end, "");
    }

    /// Deletes the word before the cursor (Ctrl+W).
    pub fn delete_word(&mut self) {
        let before = &self.text[..self.cursor];
        let trimmed = before.trim_end();
        let start = trimmed
            .char_indices()
            .rfind(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// Deletes from the start of the line to the cursor (Ctrl+U).
    pub fn delete_to_start(&mut self) {
        self.text.replace_range(..self.cursor, "");
        self.cursor = 0;
    }

    /// Takes the line out, leaving the input empty.
    pub fn take(&mut self) -> String {
        self.cursor = 0;
        std::mem::take(&mut self.text)
    }

    /// Replaces the line (history recall), with the cursor at its end.
    pub fn set(&mut self, text: &str) {
        self.text.clear();
        self.cursor = 0;
        self.insert_str(text);
    }

    /// The text before the cursor.
    pub fn before_cursor(&self) -> &str {
        &self.text[..self.cursor]
    }

    /// Replaces the text between byte `start` and the cursor with `with` (completion), the
    /// cursor after it. `start` is clamped to a character boundary at or before the cursor.
    pub fn replace_before_cursor(&mut self, start: usize, with: &str) {
        let mut start = start.min(self.cursor);
        while !self.text.is_char_boundary(start) {
            start -= 1;
        }
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
        self.insert_str(with);
    }

    /// Display columns before the cursor.
    pub fn cursor_column(&self) -> usize {
        self.text[..self.cursor].width()
    }

    /// The part of the line to show in `width` columns so that the cursor is visible, and the
    /// cursor's column within it.
    pub fn view(&self, width: usize) -> (&str, usize) {
        let (range, column) = self.view_range(width);
        (&self.text[range], column)
    }

    /// [`Input::view`] as the byte range of the line shown, and the cursor's column.
    pub fn view_range(&self, width: usize) -> (std::ops::Range<usize>, usize) {
        if width == 0 {
            return (0..0, 0);
        }
        let cursor_col = self.cursor_column();
        // Scroll so the cursor sits in the last column at most (one column is kept for it).
        let mut start = 0;
        let mut skipped = 0;
        while cursor_col - skipped >= width {
            let next = self.next(start);
            skipped += self.text[start..next].width();
            start = next;
        }
        let mut end = start;
        let mut used = 0;
        while end < self.text.len() {
            let next = self.next(end);
            let w = self.text[end..next].width();
            if used + w > width {
                break;
            }
            used += w;
            end = next;
        }
        (start..end, cursor_col - skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &str) -> Input {
        let mut input = Input::default();
        input.insert_str(s);
        input
    }

    #[test]
    fn wide_characters_move_the_cursor_two_columns() {
        let mut input = typed("你好ab");
        assert_eq!(input.cursor_column(), 6);
        input.left();
        input.left();
        assert_eq!(input.cursor_column(), 4);
        input.left();
        assert_eq!(input.cursor_column(), 2);
        input.backspace();
        assert_eq!(input.as_str(), "好ab");
        assert_eq!(input.cursor_column(), 0);
    }

    #[test]
    fn emoji_and_combining_marks_are_one_step() {
        let mut input = typed("e\u{301}👋");
        input.left();
        assert_eq!(input.cursor_column(), 1);
        input.left();
        assert_eq!(input.cursor_column(), 0);
        input.delete();
        assert_eq!(input.as_str(), "👋");
    }

    #[test]
    fn controls_never_enter_the_line() {
        let input = typed("a\u{1b}[2J\tb\u{202e}c\nd");
        assert_eq!(input.as_str(), "a[2J bc d");
    }

    #[test]
    fn variation_selectors_never_enter_the_line() {
        let input = typed("\u{2764}\u{fe0f} a\u{fe0e}\u{e0100}");
        assert_eq!(input.as_str(), "\u{2764} a");
        assert_eq!(input.cursor_column(), 3);
    }

    #[test]
    fn editing_keys() {
        let mut input = typed("hello big world");
        input.delete_word();
        assert_eq!(input.as_str(), "hello big ");
        input.home();
        input.delete();
        assert_eq!(input.as_str(), "ello big ");
        input.end();
        input.backspace();
        input.right();
        assert_eq!(input.as_str(), "ello big");
        input.left();
        input.delete_to_start();
        assert_eq!(input.as_str(), "g");
        assert_eq!(input.take(), "g");
        assert!(input.is_empty());
    }

    #[test]
    fn delete_word_after_a_wide_space() {
        // U+3000 (ideographic space) and U+00A0 are whitespace of more than one byte.
        let mut input = typed("你好\u{3000}世界");
        input.delete_word();
        assert_eq!(input.as_str(), "你好\u{3000}");
        let mut input = typed("a\u{a0}b");
        input.delete_word();
        assert_eq!(input.as_str(), "a\u{a0}");
    }

    #[test]
    fn long_lines_scroll_to_keep_the_cursor_visible() {
        let input = typed("0123456789");
        assert_eq!(input.view(4), ("789", 3));
        let input = typed("你好世界和平");
        let (shown, col) = input.view(5);
        assert_eq!((shown, col), ("和平", 4));
        let mut input = typed("你好世界和平");
        input.home();
        assert_eq!(input.view(5), ("你好", 0));
    }

    #[test]
    fn halfwidth_sound_marks_are_kept_in_the_form_ratatui_measures_right() {
        let input = typed("ｶﾞ");
        assert_eq!(input.as_str(), "ｶ\u{3099}");
        assert_eq!(input.cursor_column(), 1);
    }

    #[test]
    fn combining_floods_are_capped() {
        let mut input = typed(&format!("a{}b", "\u{301}".repeat(500)));
        assert_eq!(input.as_str(), format!("a{}b", "\u{301}".repeat(MAX_COMBINING_RUN)));
        input.left();
        input.insert('\u{302}');
        assert_eq!(input.as_str(), format!("a{}b", "\u{301}".repeat(MAX_COMBINING_RUN)));
    }

    #[test]
    fn input_is_bounded() {
        let input = typed(&"x".repeat(MAX_INPUT_BYTES + 10));
        assert_eq!(input.as_str().len(), MAX_INPUT_BYTES);
    }
}
