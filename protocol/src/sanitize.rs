//! Making untrusted text safe to put on a terminal.
//!
//! Text from other people is relayed unchanged on the wire; whoever displays it calls
//! [`sanitize`] first. The result holds no escape sequence, control character, bidi override or
//! invisible character: each is replaced by something visible, so a message can neither drive the
//! terminal (clear the screen, set the title, write the clipboard) nor disguise what it says.

use std::borrow::Cow;

use unicode_width::UnicodeWidthChar;

/// Most combining marks kept on one base character. Real scripts stack two or three (Vietnamese,
/// Indic vowel signs); "Zalgo" text stacks hundreds, which smears over the lines around it.
pub const MAX_COMBINING_RUN: usize = 4;

/// Shown in place of an invisible or direction-changing character.
pub const REPLACEMENT: char = '\u{FFFD}';

/// Put under combining marks that start the text, the Unicode convention for a mark shown on
/// its own. With nothing under them they would land on whatever the terminal drew before (a
/// border, a nick), or be dropped by a renderer that has no cell to put them in.
pub const MARK_BASE: char = '\u{25CC}';

/// Bidirectional controls: they reorder the text around them ("Trojan Source").
fn is_bidi_control(ch: char) -> bool {
    matches!(ch, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that take no space and show nothing, or that terminals treat as line breaks:
/// they can hide text or make two different strings look the same. The format characters
/// (Unicode category Cf) that draw nothing, blank letters (Hangul fillers), tag characters,
/// Mongolian variation selectors, line and paragraph separators, and the code points Unicode
/// reserves as default-ignorable (unassigned today, invisible when they are assigned).
pub fn is_invisible(ch: char) -> bool {
    is_bidi_control(ch)
        || matches!(
            ch,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200D}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{180B}'..='\u{180F}'
                | '\u{2060}'..='\u{2065}'
                | '\u{206A}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFB}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E00FF}'
                | '\u{E01F0}'..='\u{E0FFF}'
        )
}

/// Variation selectors pick a glyph style; terminals disagree on their width, which moves the
/// cursor, so they are dropped (the base character stays).
pub fn is_variation_selector(ch: char) -> bool {
    matches!(ch, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// The form of `ch` to display. The halfwidth katakana sound marks (`ｶﾞ`, `ﾊﾟ`) are one column
/// wide to `unicode-width` and to terminals but two to ratatui, which lays out a line of them
/// wider than it is drawn and cuts text off; their combining forms (U+3099, U+309A) sit on the
/// same letter and are zero columns to all three.
pub fn display_form(ch: char) -> char {
    match ch {
        '\u{FF9E}' => '\u{3099}',
        '\u{FF9F}' => '\u{309A}',
        c => c,
    }
}

fn needs_care(ch: char) -> bool {
    ch.is_control()
        || is_invisible(ch)
        || is_variation_selector(ch)
        || (!ch.is_ascii() && ch.width() == Some(0))
        || display_form(ch) != ch
}

/// Returns `text` as it may be shown on one terminal line.
///
/// - C0 controls become their visible pictures (ESC is `␛`, a newline `␤`), DEL is `␡`, a tab is
///   a space;
/// - C1 controls, bidi controls and invisible characters become `�`;
/// - variation selectors are dropped, and combining marks past [`MAX_COMBINING_RUN`] on one
///   character are dropped (a variation selector between them does not start a new run);
/// - combining marks at the start sit on [`MARK_BASE`] (`◌`);
/// - halfwidth katakana sound marks become their combining forms ([`display_form`]).
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_care) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut combining = 0;
    for ch in text.chars().map(display_form) {
        if is_variation_selector(ch) {
            continue;
        }
        let zero_width = !ch.is_control() && ch.width() == Some(0) && !is_invisible(ch);
        if zero_width {
            if out.is_empty() {
                out.push(MARK_BASE);
            }
            combining += 1;
            if combining <= MAX_COMBINING_RUN {
                out.push(ch);
            }
            continue;
        }
        combining = 0;
        match ch {
            '\t' => out.push(' '),
            '\n' => out.push('\u{2424}'),
            '\u{0}'..='\u{1F}' => {
                out.push(char::from_u32(0x2400 + ch as u32).unwrap_or(REPLACEMENT))
            }
            '\u{7F}' => out.push('\u{2421}'),
            c if c.is_control() || is_invisible(c) => out.push(REPLACEMENT),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A character a terminal would act on instead of printing.
    fn is_dangerous(ch: char) -> bool {
        ch.is_control() || is_invisible(ch)
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for s in ["hello", "小明说：你好", "Zoë 👋"] {
            assert!(matches!(sanitize(s), Cow::Borrowed(_)), "{s:?}");
        }
    }

    #[test]
    fn escape_sequences_are_defused() {
        let cases = [
            ("\u{1b}[2Jgone", "␛[2Jgone"),
            ("\u{1b}]0;pwned\u{7}", "␛]0;pwned␇"),
            ("\u{1b}]52;c;ZXZpbA==\u{1b}\\", "␛]52;c;ZXZpbA==␛\\"),
            ("\u{9b}31m", "\u{FFFD}31m"),
            ("a\tb\r\nc\u{7f}", "a b␍␤c␡"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize(input), want, "{input:?}");
        }
    }

    #[test]
    fn bidi_and_invisible_characters_become_visible() {
        let s = sanitize("abc\u{202e}fed\u{2066}x\u{200b}y\u{feff}\u{61c}");
        assert_eq!(s, "abc\u{FFFD}fed\u{FFFD}x\u{FFFD}y\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn invisible_format_characters_become_visible() {
        for ch in ['\u{E0041}', '\u{206A}', '\u{FFF9}', '\u{1D173}', '\u{180B}', '\u{3164}'] {
            let s = format!("a{ch}b");
            assert_eq!(sanitize(&s), "a\u{FFFD}b", "U+{:04X}", ch as u32);
        }
    }

    #[test]
    fn combining_floods_are_capped_but_real_accents_kept() {
        assert_eq!(sanitize("e\u{301}"), "e\u{301}");
        let zalgo = format!("a{}b", "\u{300}".repeat(500));
        let out = sanitize(&zalgo);
        assert_eq!(out, format!("a{}b", "\u{300}".repeat(MAX_COMBINING_RUN)));
    }

    #[test]
    fn variation_selectors_do_not_restart_a_run_of_marks() {
        let marks = "\u{301}".repeat(MAX_COMBINING_RUN);
        let flood = format!("a{}b", format!("{marks}\u{fe0f}").repeat(100));
        assert_eq!(sanitize(&flood), format!("a{marks}b"));
    }

    #[test]
    fn marks_at_the_start_sit_on_a_dotted_circle() {
        assert_eq!(sanitize("\u{301}\u{302}x"), "\u{25cc}\u{301}\u{302}x");
        assert_eq!(sanitize("\u{fe0f}\u{301}"), "\u{25cc}\u{301}");
        let flood = format!("{}x", "\u{301}".repeat(500));
        assert_eq!(sanitize(&flood), format!("\u{25cc}{}x", "\u{301}".repeat(MAX_COMBINING_RUN)));
        assert_eq!(sanitize("\u{fe0f}"), "");
    }

    #[test]
    fn halfwidth_sound_marks_become_combining_marks() {
        assert_eq!(sanitize("ｶﾞﾊﾟ"), "ｶ\u{3099}ﾊ\u{309a}");
        assert_eq!(sanitize("ﾞx"), "\u{25cc}\u{3099}x");
        let flood = format!("ｶ{}", "ﾞ".repeat(100));
        assert_eq!(sanitize(&flood), format!("ｶ{}", "\u{3099}".repeat(MAX_COMBINING_RUN)));
    }

    /// Format controls of newer scripts and the reserved default-ignorable code points are
    /// invisible and made visible.
    #[test]
    fn newer_and_reserved_invisible_characters_are_replaced() {
        for ch in ['\u{2065}', '\u{FFF0}', '\u{13430}', '\u{1BCA0}', '\u{E0080}', '\u{E0FFF}'] {
            assert_eq!(sanitize(&format!("a{ch}b")), format!("a{REPLACEMENT}b"), "{ch:?}");
        }
    }

    #[test]
    fn nothing_dangerous_survives_any_byte() {
        let all: String =
            (0u32..0x3000).chain(0xE0000..0xE0080).filter_map(char::from_u32).collect();
        let out = sanitize(&all);
        assert!(!out.chars().any(is_dangerous));
    }
}
