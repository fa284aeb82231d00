//! Word wrapping in display columns, so Chinese text and emoji never overflow a line.

use unicode_width::UnicodeWidthChar;

/// Splits `text` into rows of at most `width` columns. Rows break after a space where one is
/// near, otherwise inside a word; a `\n` always breaks. A character wider than `width` gets a row
/// of its own rather than looping forever. Returns slices of `text`.
pub fn wrap(text: &str, width: usize) -> Vec<&str> {
    let width = width.max(1);
    let mut rows = Vec::new();
    for line in text.split('\n') {
        let mut start = 0; // byte index where the current row starts
        let mut used = 0; // its width so far
        let mut last_break: Option<(usize, usize)> = None; // (byte after a space, width up to it)
        for (i, c) in line.char_indices() {
            let w = c.width().unwrap_or(0);
            while used + w > width && i > start {
                let (cut, cut_width) = match last_break {
                    Some((b, bw)) if b > start => (b, bw),
                    _ => (i, used),
                };
                rows.push(&line[start..cut]);
                start = cut;
                used -= cut_width;
                last_break = None;
            }
            used += w;
            if c == ' ' {
                last_break = Some((i + 1, used));
            }
        }
        rows.push(&line[start..]);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn breaks_at_spaces() {
        assert_eq!(wrap("the quick brown fox", 10), ["the quick ", "brown fox"]);
    }

    #[test]
    fn breaks_long_words() {
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
    }

    #[test]
    fn wide_characters_count_two_columns() {
        let rows = wrap("你好世界和平", 5);
        assert_eq!(rows, ["你好", "世界", "和平"]);
        assert!(rows.iter().all(|r| r.width() <= 5));
    }

    #[test]
    fn mixed_text_never_overflows() {
        let text = "hi 小明 👋 this is a long line with 中文 and emoji 🎉🎉🎉 mixed in";
        for width in 1..40 {
            for row in wrap(text, width) {
                assert!(row.width() <= width.max(2), "{row:?} wider than {width}");
            }
        }
    }

    #[test]
    fn newlines_break() {
        assert_eq!(wrap("a\nb", 10), ["a", "b"]);
        assert_eq!(wrap("", 10), [""]);
    }
}
