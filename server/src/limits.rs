//! The server's bounds. Each is a named constant with the reason for its value; the ones an
//! operator may want to change are also flags (see `config`).

use std::time::Duration;

/// Default for `--max-connections`: sessions at once. Each costs a task, two small buffers and a
/// queue; ten thousand fit comfortably in a few hundred MiB, and the file-descriptor limit of a
/// default systemd service (65,536 after `LimitNOFILE`) is far above it.
pub const MAX_CONNECTIONS: usize = 10_000;

/// Events a room's broadcast channel holds for its slowest member. A member that falls further
/// behind is told how many events it missed (`lagged`) instead of holding the room back. It
/// must hold a whole commit batch ([`MAX_COMMIT_BATCH`]) several times over: the history writer
/// broadcasts a batch at once. The channel allocates its slots up front (about 33 bytes each),
/// so this is also the per-room memory cost: 34 KB.
pub const ROOM_CHANNEL_CAPACITY: usize = 1024;

/// How far a room's slowest member may be behind (events in the channel it has not read, plus
/// messages at the history writer) before the room's senders wait for it. Below the channel's
/// capacity by a margin (presence events, senders on other threads), so a member that keeps
/// reading is never overrun.
pub const ROOM_BACKLOG_HIGH: usize = ROOM_CHANNEL_CAPACITY * 3 / 4;

/// A waiting sender reads again once its room's backlog is down to this.
pub const ROOM_BACKLOG_LOW: usize = ROOM_CHANNEL_CAPACITY / 2;

/// Longest a sender waits for its room at a time: a member that stopped reading lets go of
/// the room after [`STALL_AFTER`]; this is the backstop.
pub const MAX_THROTTLE: Duration = Duration::from_millis(250);

/// A session whose client has not taken its bytes for this long lets go of its rooms'
/// channels until it does (and is then filled in from history), so the rooms' senders stop
/// waiting for it.
pub const STALL_AFTER: Duration = Duration::from_millis(100);

/// Default for `--hello-timeout`: a connection has this long to say hello. Long enough for a
/// person typing a name into `nc`; a connection that never registers (slowloris) holds its
/// slot no longer than this.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(60);

/// A TLS client speaks first, at once (its ClientHello follows the TCP handshake): a
/// connection to a TLS port that has said nothing by then is not one (a plain-text client
/// waiting for a greeting), and is closed.
pub const TLS_FIRST_BYTE: Duration = Duration::from_secs(5);

/// The whole TLS handshake, a few round trips: slow links take a second or two; a client
/// that drags it out holds a connection slot no longer than this.
pub const TLS_HANDSHAKE: Duration = Duration::from_secs(10);

/// A trusted proxy sends its PROXY header at once, in the first packet after the TCP
/// handshake: a connection from one that has not sent it whole by then is closed. Also how
/// long a connection from elsewhere, on a port where the client speaks first, is given to
/// show its first bytes (a PROXY header there is refused) before its session starts anyway.
/// Bounds how long a connection that says nothing holds a slot before any other deadline.
pub const PROXY_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest PROXY header taken, in bytes. v1 is at most 107 by its definition; v2 is 16 plus
/// addresses (at most 216, for Unix sockets) plus TLVs, which haproxy, nginx and the clouds'
/// load balancers keep to a few hundred bytes (SSL details, a unique id of at most 128, the
/// SNI name of at most 255). The buffer a connection holds while its header is read.
pub const PROXY_HEADER_MAX: usize = 4096;

/// Default for `--ping-interval`: a JSON client silent this long is pinged, and closed if it
/// stays silent as long again, so a dead peer (a pulled cable, a crashed laptop) is found
/// within two minutes. The plain-text port has no ping (nc cannot answer one).
pub const PING_INTERVAL: Duration = Duration::from_secs(60);

/// Default for `--plain-idle-timeout`: a plain-text client (which cannot answer a ping)
/// silent this long is told it will be disconnected, and is, if it stays silent through
/// [`PING_INTERVAL`] more. Long enough for a person reading along; without it, a dead peer
/// or a script that opened connections and went quiet would hold them forever.
pub const PLAIN_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Default for `--max-connections-per-ip`: sessions from one address at once. An office or a
/// household behind one NAT address fits; one host opening hundreds is a script, and without
/// this it could take every slot of [`MAX_CONNECTIONS`] by itself.
pub const MAX_CONNECTIONS_PER_IP: usize = 32;

/// Connections being told why they are turned away (server full, too many from one address)
/// at once. Each takes a task for up to a second; past this, a flood of connections is closed
/// without the explanation rather than growing the number of tasks.
pub const MAX_REFUSING: usize = 256;

/// Default for `--max-room-members`: members of one room. Every message in a room costs one
/// write per member; past this, a room is a broadcast medium, not a conversation.
pub const MAX_ROOM_MEMBERS: usize = 10_000;

/// Default for `--flood-burst`: messages (to rooms or people, and nick changes) a client may
/// send at once before the rate applies. A person pasting a few lines, or answering three
/// people quickly, stays within it.
pub const FLOOD_BURST: u32 = 10;

/// Default for `--flood-rate`: messages a second once the burst is used, refilling the burst.
/// Nobody types two messages a second for long; ergo's fakelag allows the same.
pub const FLOOD_PER_SECOND: f64 = 2.0;

/// Joins at once: every room a session may be in, so a client that reconnects rejoins them all
/// without being refused.
pub const JOIN_BURST: u32 = MAX_ROOMS_PER_SESSION as u32;

/// Joins a second after the burst: each join announces itself to a room and reads its backlog
/// from history, so a client hopping in and out of rooms is slowed to this.
pub const JOIN_PER_SECOND: f64 = 1.0;

/// Requests refused for flooding (a burst, refilling at [`FLOOD_PER_SECOND`]) before the session
/// is ended with `flooding`. A person or a client that waits as told is never near it; a
/// program that ignores the refusals reaches it within a few seconds.
pub const FLOOD_REFUSALS: u32 = 20;

/// Lines a client may send before its hello succeeds (pings, a wrong nick or two). A
/// connection that keeps talking without registering is closed: registration is one line.
pub const MAX_LINES_BEFORE_HELLO: u32 = 16;

/// Default for `--max-rooms`: rooms on the server at once. With the per-room channel above,
/// 10,000 rooms cost about 340 MB before anyone says anything; without a cap, sessions that
/// each create [`MAX_ROOMS_PER_SESSION`] rooms would grow it without bound.
pub const MAX_ROOMS: usize = 10_000;

/// Rooms listed in `welcome` and in the answer to `rooms`: the biggest first. Keeps those
/// lines (and the time to build them) bounded however many rooms exist.
pub const MAX_ROOMS_LISTED: usize = 500;

/// Private messages and other direct events queued for one session. A sender whose recipient's
/// queue is full gets `recipient_busy` instead of making the queue grow.
pub const DIRECT_QUEUE: usize = 256;

/// How long the nick of a JSON session that dropped (rather than quit) stays reserved for a
/// new connection bearing its resume token, so nobody else takes it during a reconnect.
pub const NICK_RESERVATION: Duration = Duration::from_secs(30);

/// A session is kept a reservation only if it held its nick this long: otherwise anyone could
/// connect, say hello and drop, again and again, to keep any number of nicks from others.
pub const RESERVE_AFTER: Duration = Duration::from_secs(10);

/// Most nicks kept at once; past it the oldest reservation goes.
pub const MAX_RESERVATIONS: usize = MAX_CONNECTIONS;

/// Rooms one session may be in at once: each costs a receiver on the room's channel.
pub const MAX_ROOMS_PER_SESSION: usize = 32;

/// Unreadable lines in a row (not JSON, unknown type, bad field, too long) after which a
/// session is cut off: a person makes a typo or two; a program that sends nothing but garbage
/// is broken or hostile, and each error costs a reply. Requests that are readable but fail
/// (a taken nick, a busy recipient) do not count.
pub const MAX_ERRORS_IN_A_ROW: u32 = 20;

/// Longest time one write to a client may take. A client that does not read for this long is
/// disconnected, so it cannot hold its session's memory or a room's channel slot forever.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Events written in one batch (one syscall) before the session looks at its socket again, so a
/// busy room cannot starve a session's own requests.
pub const MAX_EVENTS_PER_WRITE: usize = 256;

/// Bytes a session gathers for its client before it writes them and reads on: bounds the
/// output of one batch of events, and of one read's worth of requests (a few kilobytes of
/// `rooms` requests would otherwise each add a full room list before anything is written).
pub const MAX_PENDING_OUT: usize = 256 * 1024;

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

/// Lines of one message shown to a plain-text client; the rest is summarised. Each line repeats
/// the `[room] nick: ` prefix, so this bounds how much one message can grow on its way out.
pub const MAX_PLAIN_LINES_PER_MESSAGE: usize = 10;

/// Own messages a plain-text session remembers per room, for `/delete`: enough to take back
/// the last few lines typed, little memory for a session in many rooms.
pub const PLAIN_OWN_KEPT: usize = 8;

/// Earlier messages a plain-text client is shown on joining a room; the rest of the join's
/// backlog is left out with a line saying how to see more (`/history`): a person at `nc` has
/// no scrollback to page, and 50 lines push the join itself off the screen.
pub const PLAIN_JOIN_LINES: usize = 10;

/// `/history` requests a plain-text session remembers as asked and not yet answered, so their
/// pages are shown whole; as many as a session may have history reads under way.
pub const PLAIN_HISTORY_ASKED: usize = MAX_QUERIES_PER_SESSION;

/// Senders an away session remembers having answered with its away message, so that each is
/// told once per away period; past it the memory starts again (a sender may be told twice),
/// so a flood of senders cannot grow it.
pub const MAX_AWAY_TOLD: usize = 1024;

/// Stored messages a search reads on Redis, newest first, looking for matches: a search there
/// is a scan of the room's stream, so it is bounded by what it reads, not by what it finds.
pub const SEARCH_SCAN: usize = 10_000;

/// Default for `--history-keep`: messages kept per room. Generous (a busy room's months), and
/// still a bound: at a few hundred bytes a message, 100,000 are tens of megabytes per room.
pub const HISTORY_KEEP: u64 = 100_000;

/// Default for `--history-on-join`: messages shown on joining a room.
pub const HISTORY_ON_JOIN: u32 = 50;

/// Messages waiting for the history writer; with Redis, messages waiting to be sent, and
/// those whose echo has not come back through the subscription. Past this, senders get
/// `server_busy` instead of the queue (and the server's memory) growing while the disk, Redis
/// or the node's subscription is slow.
pub const HISTORY_QUEUE: usize = 16 * 1024;

/// How long the local history writer must have stored nothing (nor failed to) before a
/// message is stored at once, on its sender's thread, instead of through the writer's queue.
/// A message in a quiet moment skips two hand-offs between threads on its way to its room; a
/// busy server goes on committing whole batches at a time (group commit), which messages
/// stored one by one would cost it.
pub const STORE_AT_ONCE_AFTER: Duration = Duration::from_millis(1);

/// Messages the local history writer stores before it settles them: indexes them for search,
/// in one transaction, and prunes their rooms by count. Most of indexing's cost comes once per
/// transaction, and comes to several times a message's own commit; a search asks for what
/// waits to be indexed first, so it finds every message all the same.
pub const SETTLE_AFTER: usize = 64;

/// Longest a search on one node waits for the full-text index to take the messages broadcast
/// before it was asked (normally well under a millisecond). Past it the search runs anyway:
/// a writer that stopped indexing costs a search its newest matches, never an answer.
pub const SEARCH_INDEX_WAIT: Duration = Duration::from_secs(2);

/// Stored batches the local writer may have handed to the broadcaster task before it waits
/// for the task: the task sends each at once, so this is only reached when the runtime is far
/// behind, and then the writer's own queue ([`HISTORY_QUEUE`]) fills and senders are told the
/// server is busy.
pub const BROADCAST_QUEUE: usize = 64;

/// Most messages committed in one transaction: big enough that a burst costs few commits, small
/// enough that the first message of a batch is not kept waiting for the last.
pub const MAX_COMMIT_BATCH: usize = 256;

/// Rooms whose last sequence number (and first kept one, and row id) the history writer
/// keeps in memory. Past it, all but those just settled or waiting to be are forgotten and
/// read back from the database when next needed: a server where rooms come and go does not
/// keep every room it ever saw, and a busy one pays one indexed query per room that comes
/// back.
pub const ROOMS_REMEMBERED: usize = 1024;

/// A room is pruned once it is this many messages past `--history-keep`, so deletes come in
/// batches rather than one per message.
pub const PRUNE_SLACK: u64 = 1000;

/// Most messages deleted by one prune step, per room each time the writer settles (or, when
/// pruning by age, read or deleted between two batches): bounds how long one step keeps new
/// messages waiting.
pub const PRUNE_CHUNK: u64 = 5000;

/// Pages in the write-ahead log past which the local checkpointer thread copies it into the
/// database file: SQLite's own threshold for its automatic checkpoint (about 4 MB), which the
/// writer's connection does not run (it would run inside a commit, before the broadcast).
pub const CHECKPOINT_PAGES: i32 = 1000;

/// How often the local checkpointer copies the write-ahead log into the database file when the
/// log stays under [`CHECKPOINT_PAGES`]: a quiet server's messages reach the database file
/// within this long.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// How long the local writer waits between tries to empty the write-ahead log after a
/// message was deleted, while a reader holds it: a reader's page read takes milliseconds, and
/// the writer takes new messages between tries.
pub const WIPE_RETRY: Duration = Duration::from_millis(10);

/// Tries to empty the write-ahead log after a deletion before the writer gives up (with a
/// warning; the next deletion tries again): [`WIPE_RETRY`] apart, five seconds of them. Only
/// a reader that holds a transaction open that long (another program's) keeps it from
/// succeeding.
pub const WIPE_TRIES: u32 = 500;

/// How often messages older than `--history-max-age` are looked for (and once at start-up).
/// A message outlives its age by at most this much; a look that finds nothing costs one
/// index probe per room (SQLite) or one short range read per room (Redis), so once a minute
/// is cheap even with [`MAX_ROOMS`] rooms. A shorter age is looked at twice per age
/// ([`HistoryConfig::expiry_check`](crate::broker::HistoryConfig::expiry_check)), so that
/// nothing outlives its age by half as much again.
pub const EXPIRY_CHECK: Duration = Duration::from_secs(60);

/// History reads one session may have running at once; each holds a reader connection.
pub const MAX_QUERIES_PER_SESSION: usize = 4;

/// Messages read from history at a time for a member that fell behind its room. A read takes
/// well under a millisecond, so a channel's worth (eight reads) is filled in far faster than
/// any room talks; and one page adds at most 128 x 4 KiB to the session's outgoing bytes.
pub const REFILL_PAGE: u32 = 128;

/// When a client closes its side, how long its session waits for its last messages to be
/// stored and echoed before it ends.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(2);

/// With several nodes (`--redis`): how long a Redis command may take, and a connection
/// attempt. Past it the request fails (a message is refused with `storage_failed`) rather
/// than its sender waiting on a Redis that is gone.
pub const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// Acts a node's hub remembers having applied, for the broker waiting to answer an act's
/// asker once the act has come back from Redis: far more than are applied in that moment.
pub const ACTS_REMEMBERED: usize = 1024;

/// Writes (presence, private messages, nick releases) a node may have waiting for Redis
/// beside its messages. Past it they are dropped and the node shares its whole state again
/// once Redis has caught up, so a slow Redis cannot grow the node's memory without bound.
pub const OUTBOX_LIMIT: usize = 64 * 1024;

/// Rooms whose members a node reads from Redis in one round trip when it reads every room's
/// (its reconcile, another node's resync): a chat of thousands of rooms takes tens of round
/// trips, not thousands, while a batch of big rooms stays a reply well inside
/// [`REDIS_TIMEOUT`] (64 rooms of 10,000 members are about 70 MB).
pub const STATE_READ_BATCH: usize = 64;

/// How often a node refreshes its heartbeat key and looks for dead nodes.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// How long a node's heartbeat key lives: a node silent this long is dead, and its members
/// are announced gone (within `NODE_TTL` + `HEARTBEAT` of its death).
pub const NODE_TTL: Duration = Duration::from_secs(5);

/// A node's own message whose echo has not come back after this long is taken for lost (its
/// payload could not be read, and nothing later of its room came to let go of it): its ticket
/// goes, so its room's backlog and its sender's messages in flight stop counting it. Far past
/// any echo a working Redis gives; the node looks every [`HEARTBEAT`].
pub const ECHO_GIVEN_UP_AFTER: Duration = Duration::from_secs(30);

/// How long the node that reaps a dead one holds the reap lock (the others leave it alone).
pub const REAP_LOCK: Duration = Duration::from_secs(30);

/// Wait before subscribing again after the subscription to Redis was lost.
pub const RESUBSCRIBE_DELAY: Duration = Duration::from_millis(250);

/// Argon2id memory per password hash, in KiB: OWASP's recommended 19 MiB (with two passes).
pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;

/// Argon2id passes over that memory.
pub const ARGON2_ITERATIONS: u32 = 2;

/// Password hashes computed at once: each takes a core and [`ARGON2_MEMORY_KIB`], so a burst
/// of logins waits rather than taking the machine.
pub const MAX_CONCURRENT_HASHES: usize = 2;

/// Wrong passwords one connection may give before it is closed.
pub const MAX_LOGIN_TRIES: u32 = 3;

/// Login attempts (right or wrong) from one IPv4 address or IPv6 /64 allowed in a burst, then
/// one per [`ADDRESS_LOGIN_REFILL`].
pub const ADDRESS_LOGIN_BURST: u32 = 10;

/// How often an address block earns one more login attempt once its burst is spent.
pub const ADDRESS_LOGIN_REFILL: Duration = Duration::from_secs(6);

/// Failed logins of one account from one address block that cost nothing; after each further
/// one, the next try from that block waits 1 s, then twice as long, up to
/// [`MAX_ACCOUNT_LOGIN_WAIT`].
pub const FREE_ACCOUNT_FAILURES: u32 = 3;

/// The longest an account's next login waits after failures.
pub const MAX_ACCOUNT_LOGIN_WAIT: Duration = Duration::from_secs(15 * 60);

/// Private messages kept for one account while it is away; more are refused (`mailbox_full`).
pub const MAX_OFFLINE_MESSAGES: usize = 100;

/// How long a private message waits for an account that is away before it is dropped.
pub const OFFLINE_MESSAGE_DAYS: u64 = 30;

/// New accounts from one address block in a burst, then one per [`ADDRESS_REGISTER_REFILL`]:
/// each costs a password hash and a row kept for good.
pub const ADDRESS_REGISTER_BURST: u32 = 3;

/// How often an address block may make one more account once its burst is spent.
pub const ADDRESS_REGISTER_REFILL: Duration = Duration::from_secs(10 * 60);

/// How long an `/invite` to an invite-only room lasts: long enough to read it and join, short
/// enough that a forgotten one does not stay a way in.
pub const INVITE_LASTS: Duration = Duration::from_secs(60 * 60);

/// Most rooms one account owns, as ergo's `max-channels-per-account`: every owned room's
/// authority is kept (in the database, and in every node's hub), and making rooms is cheap,
/// so what an account owns is what bounds it. Past it, a room the account makes has no
/// owner, and `/claim` is refused until it `/disown`s one.
pub const MAX_ROOMS_OWNED: usize = 15;

/// Most bans one room (or the server) keeps: every join is checked against them all, so their
/// number bounds what a join costs; address ranges cover what would need more.
pub const MAX_BANS: usize = 500;

/// Most mutes one room keeps (each is a field of the room, in memory on every node).
pub const MAX_MUTES: usize = 500;

/// Most invitations to one room at once; they last [`INVITE_LASTS`], so an operator who
/// invites faster than that is told to wait rather than grow the room without bound.
pub const MAX_INVITES: usize = 500;

/// Default for `--connect-burst`: connections one address block may open in a burst before
/// `--connect-rate` applies. A household starting its clients, or a client reconnecting
/// after a few network drops, stays within it.
pub const CONNECT_BURST: u32 = 16;

/// Default for `--connect-rate`: new connections a second from one address block once the
/// burst is spent (one every 10 s, refilling the burst). A client that reconnects in a loop
/// is slowed to this and told how long to wait.
pub const CONNECT_PER_SECOND: f64 = 0.1;

/// Units of work a session may ask for at once (`who`, `rooms`, `history`, `ping`, refused
/// requests: one unit each, one more per [`REQUEST_UNIT_BYTES`] of answer). A client that
/// starts by asking for every room's members and a history page each stays within it.
pub const REQUEST_BURST: u32 = 100;

/// Units of work a second once the burst is spent: a person never notices it; a script that
/// asks for member lists or history pages in a loop gets a few kilobytes a second.
pub const REQUEST_PER_SECOND: f64 = 10.0;

/// Joins of one session (and its account or address after it) announced to the room at
/// once: a person hopping between a few rooms, or reconnecting now and then, is always
/// announced. Past it, joins are quiet until the member speaks.
pub const PRESENCE_BURST: u32 = 10;

/// Announced joins a second once the burst is spent (one every 30 s).
pub const PRESENCE_PER_SECOND: f64 = 1.0 / 30.0;

/// Bytes of answer that cost one more unit of [`REQUEST_BURST`]: a page of 100 short
/// messages, or some 300 nicks.
pub const REQUEST_UNIT_BYTES: usize = 4096;

/// What sorting one member of a room for a `who` page costs, in bytes of answer: each page
/// sorts the whole room, so a page of a room of 10,000 costs 20 units however few nicks it
/// shows (one unit per [`REQUEST_UNIT_BYTES`]).
pub const MEMBER_SORT_BYTES: usize = 8;

/// Most accounts and address blocks whose budgets are kept after their connections ended (a
/// few hundred bytes each). Past it, after forgetting those that are full again, new ones
/// start fresh rather than grow the table.
pub const MAX_KEPT_BUDGETS: usize = 100_000;
