//! The JSON-lines dialect: one request or event per line, as `docs/protocol.md` says.

use bytes::BytesMut;
use protocol::{ClientMsg, Decode, Line, RequestError, ServerMsg};

use super::{Dialect, View};
use crate::event::Event;

/// The JSON-lines protocol.
#[derive(Debug, Default)]
pub struct Json;

impl Dialect for Json {
    fn read(
        &mut self,
        line: Line,
        _: View<'_>,
        _: &mut BytesMut,
    ) -> Option<Result<ClientMsg, RequestError>> {
        match line {
            line if line.is_blank() => None,
            Line::Complete(bytes) => Some(ClientMsg::decode(&bytes)),
            Line::TooLong { max } => Some(Err(RequestError::line_too_long(max))),
        }
    }

    fn write(&mut self, msg: &ServerMsg, _: View<'_>, out: &mut BytesMut) {
        protocol::write_line(msg, out);
    }

    fn write_event(&mut self, event: &Event, _: View<'_>, out: &mut BytesMut) {
        out.extend_from_slice(&event.json);
    }
}
