//! Turning one received line into a message, or into an error that says exactly what is wrong.
//!
//! The fast path is a single `serde_json` parse. Only when it fails does [`ClientMsg::decode`]
//! look again, field by field, to give the client a precise code (`invalid_nick`,
//! `text_too_long`, ...) instead of serde's generic text.

use serde_json::Value;

use crate::message::{ClientMsg, ErrorCode, ServerMsg};
use crate::names::{Nick, RoomName};
use crate::text::Text;

/// A line that could not be turned into a request, and why. Sent back to the client as an
/// `error`; the session goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct RequestError {
    pub code: ErrorCode,
    pub message: String,
    /// The `type` of the request, when the line was readable that far.
    pub request: Option<String>,
    /// When the request may be sent again (refused for flooding).
    pub retry_after_ms: Option<u64>,
}

impl RequestError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), request: None, retry_after_ms: None }
    }

    /// A line passed the maximum length `max` and was discarded.
    pub fn line_too_long(max: usize) -> Self {
        Self::new(ErrorCode::LineTooLong, format!("line longer than {max} bytes; discarded"))
    }

    pub fn for_request(mut self, request: &str) -> Self {
        self.request = Some(request.to_owned());
        self
    }

    /// The `error` message that tells the client.
    pub fn to_msg(&self) -> ServerMsg {
        ServerMsg::Error {
            code: self.code,
            message: self.message.clone(),
            request: self.request.clone(),
            retry_after_ms: self.retry_after_ms,
        }
    }
}

/// A message type that can be read from one line of the wire.
pub trait Decode: Sized {
    fn decode(line: &[u8]) -> Result<Self, RequestError>;
}

impl Decode for ServerMsg {
    fn decode(line: &[u8]) -> Result<Self, RequestError> {
        serde_json::from_slice(line).map_err(|e| {
            RequestError::new(ErrorCode::InvalidJson, format!("unreadable server message: {e}"))
        })
    }
}

impl Decode for ClientMsg {
    fn decode(line: &[u8]) -> Result<Self, RequestError> {
        serde_json::from_slice(line).map_err(|err| explain(line, &err))
    }
}

/// Works out why `line` is not a valid client message. Only runs on the error path.
fn explain(line: &[u8], err: &serde_json::Error) -> RequestError {
    if std::str::from_utf8(line).is_err() {
        return RequestError::new(ErrorCode::InvalidUtf8, "line is not valid UTF-8");
    }
    let value: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => return RequestError::new(ErrorCode::InvalidJson, format!("invalid JSON: {e}")),
    };
    let Value::Object(fields) = value else {
        return RequestError::new(ErrorCode::InvalidJson, "expected a JSON object");
    };
    let Some(kind) = fields.get("type") else {
        return RequestError::new(ErrorCode::MissingField, "missing field `type`");
    };
    let Some(kind) = kind.as_str().filter(|k| ClientMsg::TYPES.contains(k)) else {
        return RequestError::new(
            ErrorCode::UnknownType,
            format!("unknown message type; expected one of {}", ClientMsg::TYPES.join(", ")),
        );
    };
    field_error(&fields)
        .unwrap_or_else(|| {
            let text = err.to_string();
            let code = if text.starts_with("missing field") {
                ErrorCode::MissingField
            } else {
                ErrorCode::InvalidField
            };
            // serde's position ("at line 1 column 9") means nothing to a one-line protocol.
            let text = text.split(" at line ").next().unwrap_or(&text);
            RequestError::new(code, shorten(text))
        })
        .for_request(kind)
}

/// Most bytes of serde's explanation kept in an error message. serde quotes the offending
/// value ("invalid type: string \"...\", expected u64"), and a client's 16 KiB string does not
/// need to come back to it, up to six times longer with the escapes.
const MAX_DETAIL_BYTES: usize = 200;

/// `text` cut to about [`MAX_DETAIL_BYTES`] in the middle, keeping the start and what serde
/// expected at the end.
fn shorten(text: &str) -> String {
    if text.len() <= MAX_DETAIL_BYTES {
        return text.to_owned();
    }
    let floor = |mut i: usize| {
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let head = floor(MAX_DETAIL_BYTES * 2 / 3);
    let tail = floor(text.len() - MAX_DETAIL_BYTES / 3);
    format!("{} ... {}", &text[..head], &text[tail..])
}

/// Checks the fields that have their own rules and returns the first broken one.
fn field_error(fields: &serde_json::Map<String, Value>) -> Option<RequestError> {
    for (name, value) in fields {
        let Some(s) = value.as_str() else {
            if matches!(name.as_str(), "nick" | "to" | "room" | "text") {
                return Some(RequestError::new(
                    ErrorCode::InvalidField,
                    format!("`{name}` must be a string"),
                ));
            }
            continue;
        };
        let error = match name.as_str() {
            "nick" | "to" => Nick::parse(s).err().map(|e| (ErrorCode::InvalidNick, e.to_string())),
            "room" => RoomName::parse(s).err().map(|e| (ErrorCode::InvalidRoom, e.to_string())),
            "text" => Text::parse(s).err().map(|e| match e {
                crate::text::TextError::Empty => (ErrorCode::InvalidText, e.to_string()),
                crate::text::TextError::TooLong { .. } => (ErrorCode::TextTooLong, e.to_string()),
            }),
            _ => None,
        };
        if let Some((code, message)) = error {
            return Some(RequestError::new(code, message));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(line: &str) -> (ErrorCode, String, Option<String>) {
        let e = ClientMsg::decode(line.as_bytes()).unwrap_err();
        (e.code, e.message, e.request)
    }

    #[test]
    fn every_kind_of_bad_line_gets_its_own_code() {
        use ErrorCode::*;
        let cases: &[(&[u8], ErrorCode, Option<&str>)] = &[
            (b"\xff\xfe{}", InvalidUtf8, None),
            (b"{\"type\":", InvalidJson, None),
            (b"[1,2]", InvalidJson, None),
            (b"{\"room\":\"x\"}", MissingField, None),
            (b"{\"type\":\"dance\"}", UnknownType, None),
            (b"{\"type\":7}", UnknownType, None),
            (b"{\"type\":\"join\"}", MissingField, Some("join")),
            (b"{\"type\":\"join\",\"room\":\"a b\"}", InvalidRoom, Some("join")),
            (b"{\"type\":\"join\",\"room\":5}", InvalidField, Some("join")),
            (b"{\"type\":\"msg\",\"to\":\"\",\"text\":\"x\"}", InvalidNick, Some("msg")),
            (b"{\"type\":\"say\",\"room\":\"a\",\"text\":\"  \"}", InvalidText, Some("say")),
            (b"{\"type\":\"ping\",\"token\":\"x\"}", InvalidField, Some("ping")),
            (b"{\"type\":\"hello\",\"nick\":\"a\"}", MissingField, Some("hello")),
        ];
        for (line, code, request) in cases {
            let e = ClientMsg::decode(line).unwrap_err();
            assert_eq!(e.code, *code, "{}: {}", String::from_utf8_lossy(line), e.message);
            assert_eq!(e.request.as_deref(), *request, "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn too_long_text_says_how_long() {
        let line = format!(r#"{{"type":"say","room":"a","text":"{}"}}"#, "x".repeat(5000));
        let (code, message, _) = code_of(&line);
        assert_eq!(code, ErrorCode::TextTooLong);
        assert_eq!(message, "text is 5000 bytes, more than the limit of 4096");
    }

    #[test]
    fn missing_field_message_names_the_field_without_position() {
        let (code, message, _) = code_of(r#"{"type":"say","room":"a"}"#);
        assert_eq!(code, ErrorCode::MissingField);
        assert_eq!(message, "missing field `text`");
    }

    #[test]
    fn a_quoted_value_is_not_echoed_whole() {
        let line = format!(r#"{{"type":"ping","token":"{}é"}}"#, "\\u007f".repeat(2000));
        let (code, message, _) = code_of(&line);
        assert_eq!(code, ErrorCode::InvalidField);
        assert!(message.len() <= MAX_DETAIL_BYTES + 10, "{} bytes", message.len());
        assert!(message.starts_with("invalid type: string \"\\u{7f}"), "{message}");
        assert!(message.ends_with("é\", expected u64"), "{message}");
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let line =
            format!(r#"{{"type":"say","room":"a","text":"x","extra":{}}}"#, "[".repeat(100_000));
        let (code, _, _) = code_of(&line);
        assert_eq!(code, ErrorCode::InvalidJson);
    }
}
