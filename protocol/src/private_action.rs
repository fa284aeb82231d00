//! A private message that is an action (`/me waves` in a private chat): the protocol's
//! private messages carry no kind, so an action travels as text starting with
//! [`ACTION_PREFIX`], as IRC's travel as CTCP ACTION. Every front end shows such a text as an
//! action (`* Michael waves`); one that does not still shows what was typed.

use crate::text::{Text, TextError};

/// The start of a private message that is an action.
pub const ACTION_PREFIX: &str = "/me ";

/// The text that sends `text` as a private action.
pub fn action_text(text: &Text) -> Result<Text, TextError> {
    Text::parse(&format!("{ACTION_PREFIX}{}", text.as_str()))
}

/// What a private message's text says as an action, if it is one (something follows the
/// prefix).
pub fn as_action(text: &str) -> Option<&str> {
    text.strip_prefix(ACTION_PREFIX).filter(|rest| !rest.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_is_the_prefix_and_something_after_it() {
        let waves = action_text(&Text::parse("waves").unwrap()).unwrap();
        assert_eq!(as_action(waves.as_str()), Some("waves"));
        assert_eq!(as_action("/me "), None, "nothing after the prefix");
        assert_eq!(as_action("/meow"), None);
        assert_eq!(as_action("hello"), None);
    }
}
