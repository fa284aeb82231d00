//! The server's bounds. Each is a named constant with the reason for its value; the ones an
//! operator may want to change are also flags (see `config`).

use std::time::Duration;

/// Default for `--max-connections`: sessions at once. Each costs a task, two small buffers and a
/// queue; ten thousand fit comfortably in a few hundred MiB, and the file-descriptor limit of a
/// default systemd service (65,536 after `LimitNOFILE`) is far above it.
pub const MAX_CONNECTIONS: usize = 10_000;

/// Events a room's broadcast channel holds for its slowest member. A member that falls further
/// behind is told how many events it missed (`lagged`) instead of holding the room back.
pub const ROOM_CHANNEL_CAPACITY: usize = 1024;

/// Private messages and other direct events queued for one session. A sender whose recipient's
/// queue is full gets `recipient_busy` instead of making the queue grow.
pub const DIRECT_QUEUE: usize = 256;

/// Rooms one session may be in at once: each costs a receiver on the room's channel.
pub const MAX_ROOMS_PER_SESSION: usize = 32;

/// Bad requests in a row after which a session is cut off: a person makes a typo or two; a
/// program that sends nothing but errors is broken or hostile, and each error costs a reply.
pub const MAX_ERRORS_IN_A_ROW: u32 = 20;

/// Longest time one write to a client may take. A client that does not read for this long is
/// disconnected, so it cannot hold its session's memory or a room's channel slot forever.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Events written in one batch (one syscall) before the session looks at its socket again, so a
/// busy room cannot starve a session's own requests.
pub const MAX_EVENTS_PER_WRITE: usize = 256;

/// On the plain-text port, an unterminated line counts as complete after this pause: simple
/// scripts send `b"Michael"` with no newline and wait for the answer.
pub const PLAIN_LINE_PAUSE: Duration = Duration::from_millis(300);

/// After a shutdown signal, how long sessions get to say goodbye before the server exits anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// After the goodbye of a session the server ends, how long it keeps reading (and dropping) what
/// the client still sends, so the close does not turn into a reset that loses the goodbye.
pub const CLOSE_LINGER: Duration = Duration::from_millis(200);

/// When a session ends, how long its last bytes (answers, the goodbye) may take to write.
pub const FINAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);
