//! End to end in a real terminal: the real `chat-tui` binary runs in tmux against a real server
//! on a loopback port; keys go in with `send-keys`, the screen comes out with `capture-pane`.
//!
//! Needs `tmux` (`.ci/run` installs it); the tests fail, not skip, without it.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod accounts;
mod attention;
#[path = "../certs/mod.rs"]
mod certs;
mod chat;
mod harness;
mod keeping;
mod people;
mod reconnect;
mod rooms;
mod screen;
mod sending;
mod tls;
mod windows;
