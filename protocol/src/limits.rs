//! Size limits of the wire format. Each is a named constant with the reason for its value, so the
//! server, the client and the docs agree on one number.

/// Version of the wire format, exchanged in `hello` and `welcome`. Bumped on any change that an
/// older peer could misread.
pub const PROTOCOL_VERSION: u32 = 1;

/// Longest nick, in characters. Long enough for real names ("Anne-Sophie_Leclerc"), short enough
/// that a nick column in a terminal stays narrow.
pub const MAX_NICK_CHARS: usize = 32;

/// Longest room name, in characters, for the same reasons as [`MAX_NICK_CHARS`].
pub const MAX_ROOM_CHARS: usize = 32;

/// Longest chat text, in bytes of UTF-8. About a screenful of prose; anything longer is a paste
/// that belongs in a file, and a bound here bounds every copy the server fans out.
pub const MAX_TEXT_BYTES: usize = 4096;

/// Longest line a client may send, in bytes, without its `\n`. A maximal `say` is
/// [`MAX_TEXT_BYTES`] of text plus a small envelope; 16 KiB leaves room for JSON escapes
/// (`\"`, `\\`, `\u00e9`) of ordinary text. Longer lines are refused and discarded as they arrive,
/// so a client can never make the server buffer more than this per connection.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// Longest line a client accepts from the server. Larger than [`MAX_LINE_BYTES`] because the
/// server's own lines can be long: a message of control characters escapes to six bytes per
/// byte, and the member list of a big room is one line (10,000 nicks of 32 four-byte
/// characters are 1.3 MB).
pub const MAX_SERVER_LINE_BYTES: usize = 4 * 1024 * 1024;

/// Longest free-form string besides chat text (client name in `hello`, quit reason), in bytes.
pub const MAX_LABEL_BYTES: usize = 200;

/// Most messages in one page of history: a screenful or three, small enough that one page is a
/// quick query and a line of at most a few hundred kilobytes.
pub const MAX_HISTORY_PAGE: u32 = 100;

/// Most matches in one `found` answer (`search`): a screenful, and a bounded query.
pub const MAX_SEARCH_PAGE: u32 = 20;

/// Longest away message, in bytes: the same as any other label (a topic, a quit reason).
pub const MAX_AWAY_BYTES: usize = MAX_LABEL_BYTES;

/// Most nicks in one `members` answer: some 8 KB of JSON. A room of ten thousand is sent as
/// pages the client asks for (`who` with `after`), each paid for on its own, rather than as
/// one quarter-megabyte line for a 30-byte request.
pub const MAX_MEMBERS_PAGE: usize = 500;

/// Longest password, in bytes. Passphrases and password managers' output fit many times over;
/// a bound keeps `hello` lines small and what the server hashes bounded.
pub const MAX_PASSWORD_BYTES: usize = 512;

/// Shortest password a new account may have, in characters (OWASP's floor for passwords used
/// with other protections: here, throttled logins).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Longest room key (`+k`), in bytes: a word people type and share, not a password store.
pub const MAX_JOIN_KEY_BYTES: usize = 64;

/// Longest timed ban or mute, in seconds: a year and a day. Longer is "until unbanned", which
/// is what leaving the duration out says.
pub const MAX_DURATION_SECS: u64 = 366 * 86_400;
