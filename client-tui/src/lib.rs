//! `chat-tui`: the terminal client. A window per room and private chat, and the server window
//! (window 1: the connection's own lines); the conversation, the input line and a status
//! line, driven by slash commands.
//!
//! State and drawing are separate: [`app::App`] takes [`event::Event`]s and returns
//! [`event::Effect`]s without doing any I/O, and [`ui::draw`] paints an `&App`. So the whole
//! client can be tested without a terminal.
//!
//! # Layout
//! The app, its state and `update`:
//! - [`app`]: `App`, the client's state in groups, and `update(event) -> effects`; what every
//!   handler shares (the server window's log, the notice). The rest of `impl App` has a file per kind of event:
//!   - `app/keys.rs`: what each key does; typed lines: client commands and requests.
//!   - `app/incoming.rs`: what the app does with each message from the server.
//!   - `app/rooms.rs`: a room's people and authority: presence and kicks, member lists with
//!     roles, the topic, modes, moderation events, bans.
//!   - `app/backlog.rs`: earlier messages: the backlog on joining, older pages when scrolling up.
//!   - `app/link.rs`: the connection's life: losing it, reconnecting, rejoining, filling in.
//!   - `app/paste.rs`: asking about a multi-line paste and sending it as chosen.
//!   - `app/send.rs`: where a typed message goes: at once, behind lines still going out,
//!     or queued while offline and sent after the next rejoin.
//!   - `app/private.rs`: `/query`, `/me` and `/who` in a private window, `/close`, `/clear`,
//!     a `/msg` echoed where it was typed.
//!   - `app/certificate.rs`: a certificate not trusted: the first-use question, the warning.
//!   - `app/login.rs`: accounts: the password prompt, refused and throttled logins,
//!     `/register`, `/passwd`, `/unregister` and their answers.
//!   - `app/ignore.rs`: `/ignore`, `/unignore`, and leaving ignored people's messages out.
//!   - `app/attention.rs`: what is for us (the bell, a notification) and the chat log's lines.
//! - [`event`]: the events the app reacts to and the effects it asks for.
//!
//! `App`'s groups, each with the methods that touch only it:
//! - [`settings`]: what the client starts with, and local times from it.
//! - [`link`]: the connection's state, our nick and resume token on it, the account's password
//!   and whether we are logged in, when to retry, how it is protected, a certificate question
//!   or warning open, the password prompt.
//! - [`windows`]: the open windows (the server window first), the one shown, moving between
//!   them, where a closed window comes back, the rooms known.
//! - [`composer`]: the input line and what feeds it: editing keys, recall, completion, pastes.
//! - [`layout`]: the screen's size and toggles, and where each pane goes in it.
//!
//! What the groups are made of:
//! - [`window`]: one conversation (a room, a private chat, or the server's lines) and its
//!   scrollback, unread counts and read marker.
//! - [`replies`]: which window a question (`/who`, `/topic`, `/mode`, `/bans`) is answered in:
//!   the one it was typed in.
//! - [`room`]: what a room's window knows of its authority: topic, roles, the key it was
//!   joined with.
//! - [`entry`]: one line of a conversation: its label, indent and rows; mentions of us.
//! - [`highlight`]: the highlight words, and the whole-word matching mentions use too.
//! - [`ignore`]: the ignore list: by look-alike key, following renames, its file.
//! - [`notify`]: desktop notifications: when (focus, spacing), and the OSC 777/9 sequence.
//! - [`rows`]: where each entry of a conversation sits in rows, so a scrolled view skips to it.
//! - [`refill`]: a window catching up after a reconnect: the messages it missed, until none is.
//! - [`input`]: the input line, an editor measured in display columns.
//! - [`complete`]: Tab completion of commands, rooms and nicks.
//! - [`help`]: what the help says, laid out in rows for a width, and how far it scrolls.
//! - [`paste`]: a multi-line paste held for a choice, and lines sent one at a time.
//! - [`pace`]: the server's rate for messages, so lines sent in a row are never refused.
//! - [`unsent`]: lines typed while offline, and where each `/msg` was typed.
//! - [`pages`]: the later pages of big rooms' member lists, asked for one at a time.
//! - [`reconnect`]: backoff with jitter between attempts.
//! - [`login`]: the password in memory, the masked prompt, the commands that carry one.
//! - [`wrap`]: word wrapping in display columns.
//!
//! Around the app:
//! - [`ui`]: `draw(frame, &App)`; a file per pane (`conversation`, `members`, `notice`: the
//!   row above the input while the connection is not up, `input`, `status`), one for the
//!   status line's list of windows fitted to its width (`window_list`), one for the overlays
//!   (the paste prompt, the help) and one for the certificate's (the first-use question, the
//!   warning that it changed).
//! - [`config`]: the optional TOML file and flags, merged and checked into [`settings`].
//! - [`password`]: the account's password at start-up: `--password-file`, `CHAT_PASSWORD`,
//!   `password_command`.
//! - [`net`]: the task that owns the socket (one per connection), plain or TLS.
//! - [`tls`]: what the client trusts: the system's CAs, `--tls-ca`, `--tls-fingerprint`, the
//!   fingerprints accepted on first use (`known_servers`); the verifier and the handshake.
//! - [`terminal`]: the event loop: terminal setup, guaranteed restore, select over keys,
//!   network and signals.
//! - [`local`]: the effects carried out on this machine: notifications written, chat log
//!   lines handed on, the ignore list read and saved.
//! - [`chatlog`]: the chat logs on disk: safe file names, the writer thread.
//! - [`hyperlink`]: URLs as OSC 8 hyperlinks in the frame's buffer, after drawing.

pub mod app;
pub mod chatlog;
pub mod complete;
pub mod composer;
pub mod config;
pub mod entry;
pub mod event;
pub mod help;
pub mod highlight;
pub mod hyperlink;
pub mod ignore;
pub mod input;
pub mod layout;
pub mod link;
pub mod local;
pub mod login;
pub mod net;
pub mod notify;
pub mod pace;
pub mod pages;
pub mod password;
pub mod paste;
pub mod reconnect;
pub mod refill;
pub mod replies;
pub mod room;
pub mod rows;
pub mod settings;
pub mod terminal;
pub mod tls;
pub mod ui;
pub mod unsent;
pub mod window;
pub mod windows;
pub mod wrap;
