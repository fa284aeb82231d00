//! A server event, encoded once and shared by every recipient.

use std::sync::Arc;

use bytes::Bytes;
use protocol::{ServerMsg, encode_line};

/// One event on its way to many sessions. The JSON line is encoded once, here; each JSON
/// session writes the same bytes. The message is kept for sessions that speak another dialect
/// (the plain-text port renders it as a readable line).
#[derive(Debug)]
pub struct Event {
    pub msg: ServerMsg,
    pub json: Bytes,
}

/// What room channels and session queues carry: cloning it is a reference-count increment.
pub type SharedEvent = Arc<Event>;

impl Event {
    pub fn new(msg: ServerMsg) -> SharedEvent {
        let json = encode_line(&msg);
        Arc::new(Self { msg, json })
    }
}
