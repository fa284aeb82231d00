//! Every message that travels on the wire, as serde types.
//!
//! One JSON object per line, tagged by its `type` field (`{"type":"say",...}`). `docs/protocol.md`
//! shows an example line of each; the tests in `tests/wire.rs` hold those lines fixed, so a change
//! to the wire format is always a visible decision.
//!
//! - `client.rs`: [`ClientMsg`], what a client sends.
//! - `server.rs`: [`ServerMsg`], what the server sends, and the types of its fields.

mod client;
mod server;

pub use crate::codes::{ByeCode, ErrorCode};
pub use crate::stored::{MessageKind, Stored};
pub use client::ClientMsg;
pub use server::{AccountEvent, FloodRate, PresenceEvent, RoomInfo, ServerMsg};

/// For `skip_serializing_if`: a flag that is off is left out of the line.
pub(crate) fn is_false(b: &bool) -> bool {
    !b
}

/// Milliseconds since the Unix epoch, the unit of every `ts`.
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
