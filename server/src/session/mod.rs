//! One task per connection: reads requests, carries them out, writes events.
//!
//! The task owns its socket and waits, in one `select!`, on the socket, its rooms' broadcast
//! receivers, its queue of direct events and the shutdown signal. After each wake-up it takes
//! everything else that is ready too and writes the lot with one syscall.
//!
//! [`requests`] holds what each request does; this file is the task, its I/O and its end.

mod backlog;
mod receivers;
mod requests;

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use futures::FutureExt;
use futures::future::OptionFuture;
use protocol::limits::MAX_LINE_BYTES;
use protocol::{ByeCode, Label, LineCodec, Nick, PresenceEvent, RoomName, ServerMsg};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::broadcast;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, error, info, info_span};
use uuid::Uuid;

use crate::broker::{Broker, InFlight};
use crate::config::ServerInfo;
use crate::dialect::{Dialect, View};
use crate::event::{Event, SharedEvent};
use crate::flood::Flood;
use crate::hub::{DirectEvent, DirectReceiver, Hub, RoomChannel};
use crate::limits::{
    CLOSE_LINGER, DIRECT_QUEUE, FINAL_WRITE_TIMEOUT, MAX_ERRORS_IN_A_ROW, MAX_EVENTS_PER_WRITE,
    MAX_LINES_BEFORE_HELLO, MAX_PENDING_OUT, SETTLE_TIMEOUT, STALL_AFTER, WRITE_TIMEOUT,
};
use backlog::Queries;
use receivers::{Received, Receivers};

/// Why a session ended.
#[derive(Debug)]
enum End {
    Quit(Option<Label>),
    Shutdown,
    /// The client closed its side without a goodbye (it may still read).
    Closed,
    /// The connection went away without a goodbye.
    Dropped(String),
    TooManyErrors,
    /// The client did not take its bytes within the write timeout.
    TooSlow,
    UnsupportedProtocol,
    /// No hello within the hello timeout.
    NoHello,
    /// Silent through a ping and as long again.
    PingTimeout,
    /// [`MAX_LINES_BEFORE_HELLO`] lines without a successful hello.
    ChattyBeforeHello,
    /// Kept sending while refused for flooding.
    Flooding,
    /// A new connection took the nick over with this session's resume token.
    Replaced,
}

/// The session's deadlines: hello before `hello_timeout`; after that, a ping after
/// `ping_interval` of silence and the end after as long again.
///
/// The ping interval is the server's (`ServerInfo::ping_interval`), passed in rather than kept
/// here: this lives in every session's future.
struct Alive {
    hello_by: Instant,
    heard: Instant,
    /// A ping was sent since the client was last heard.
    pinged: bool,
    /// Pings sent: the last one's token.
    pings: u64,
}

impl Alive {
    fn new(hello_timeout: std::time::Duration) -> Self {
        let now = Instant::now();
        Self { hello_by: now + hello_timeout, heard: now, pinged: false, pings: 0 }
    }

    /// Anything from the client shows it is alive.
    fn heard(&mut self) {
        self.heard = Instant::now();
        self.pinged = false;
    }

    /// When the next thing is due: the end of the hello time, a ping, or the end.
    fn deadline(&self, registered: bool, interval: std::time::Duration) -> Instant {
        if !registered {
            return self.hello_by;
        }
        if self.pinged { self.heard + interval * 2 } else { self.heard + interval }
    }

    /// The token of a ping to send now, or `None` if one was sent already (time is up).
    fn ping(&mut self) -> Option<u64> {
        if self.pinged {
            return None;
        }
        self.pings += 1;
        self.pinged = true;
        Some(self.pings)
    }
}

/// A room the session is in.
struct Channel {
    /// To speak in the room (through the history writer).
    tx: RoomChannel,
    /// The sequence number of the room's last message the client has been sent, once known:
    /// copies up to it are not sent again, and a member that falls behind is filled in from
    /// after it.
    delivered: Option<u64>,
}

/// Something for each of a few rooms: the rooms being joined, or being filled in. A session is
/// in at most [`MAX_ROOMS_PER_SESSION`](crate::limits::MAX_ROOMS_PER_SESSION) rooms, so a
/// look is a short scan; unlike a `HashMap` (48 bytes, and its first insert's table kept for
/// good), it holds no memory while empty, which is nearly always.
struct ByRoom<V>(Vec<(RoomName, V)>);

impl<V> Default for ByRoom<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> ByRoom<V> {
    /// Sets the room's entry, replacing any it had.
    fn insert(&mut self, room: RoomName, value: V) {
        match self.0.iter_mut().find(|(r, _)| *r == room) {
            Some(entry) => entry.1 = value,
            None => self.0.push((room, value)),
        }
    }

    /// Removes the room's entry; the others keep their order.
    fn remove(&mut self, room: &RoomName) -> Option<V> {
        let index = self.0.iter().position(|(r, _)| r == room)?;
        let (_, value) = self.0.remove(index);
        if self.0.is_empty() {
            self.0 = Vec::new();
        }
        Some(value)
    }

    /// The entry inserted first (of those still here).
    fn first(&self) -> Option<&V> {
        self.0.first().map(|(_, value)| value)
    }

    fn remove_first(&mut self) -> Option<(RoomName, V)> {
        let room = self.0.first()?.0.clone();
        self.remove(&room).map(|value| (room, value))
    }

    fn get_mut(&mut self, room: &RoomName) -> Option<&mut V> {
        self.0.iter_mut().find(|(r, _)| r == room).map(|(_, value)| value)
    }

    fn get(&self, room: &RoomName) -> Option<&V> {
        self.0.iter().find(|(r, _)| r == room).map(|(_, value)| value)
    }

    fn contains_key(&self, room: &RoomName) -> bool {
        self.get(room).is_some()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0 = Vec::new();
    }
}

/// What to do after a request.
enum Flow {
    Continue,
    Close(End),
}

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 4096;

/// Runs one session to its end. Errors stay inside: they are logged here and never reach the
/// accept loop.
///
/// Not an `async fn`: the session is made here, so the task holds one `Session`, inside the
/// one `serve` future. (An `async fn` keeps its arguments in its state beside the future they
/// were moved into, for as long as the connection lasts.)
pub fn run<D: Dialect>(
    stream: TcpStream,
    peer: SocketAddr,
    dialect: D,
    hub: Arc<Hub>,
    info: Arc<ServerInfo>,
    broker: Broker,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send {
    let id = Uuid::now_v7();
    let span = info_span!("session", %peer, %id);
    let session = Session {
        id,
        hub,
        dialect,
        nick: None,
        joined: Vec::new(),
        channels: Vec::new(),
        receivers: Receivers::default(),
        direct: DirectReceiver::default(),
        speaking: None,
        out: BytesMut::new(),
        last_batch: 0,
        stream,
        errors_in_a_row: 0,
        lines_before_hello: 0,
        flood: info.flood.map(Flood::new),
        info,
        broker,
        queries: Queries::default(),
        joining: ByRoom::default(),
        refilling: ByRoom::default(),
        refills: 0,
        throttle: None,
        awaiting: false,
        stalled: false,
        shutdown,
    };
    session.serve().instrument(span)
}

struct Session<D> {
    id: Uuid,
    hub: Arc<Hub>,
    info: Arc<ServerInfo>,
    dialect: D,
    nick: Option<Nick>,
    /// Joined rooms in the order they were joined.
    joined: Vec<RoomName>,
    /// For each room of `joined`, at the same index: its channel and what the client has.
    channels: Vec<Channel>,
    receivers: Receivers,
    /// Private messages; its sending side is given to the hub at registration, so others can
    /// reach this session directly.
    direct: DirectReceiver,
    /// While messages this session said are on their way through the history writer: their
    /// count and the writer's answers. `None` the rest of the time.
    speaking: Option<Speaking>,
    /// Bytes waiting to be written; no memory while there are none.
    out: BytesMut,
    /// Bytes of the last batch written, to size the next one's buffer.
    last_batch: usize,
    /// Not split into owned halves: that puts it behind one more allocation, and the session
    /// reads and writes from one task.
    stream: TcpStream,
    errors_in_a_row: u32,
    /// Lines read while `nick` is `None`.
    lines_before_hello: u32,
    /// Flood control; `None` when the server has it off.
    flood: Option<Flood>,
    broker: Broker,
    /// History reads under way.
    queries: Queries,
    /// Rooms joined whose backlog is being read; their receivers wait here.
    joining: ByRoom<backlog::Joining>,
    /// Rooms whose receiver fell behind, held back while the missed messages are read from
    /// history.
    refilling: ByRoom<(u64, broadcast::Receiver<SharedEvent>)>,
    /// Chains of refill reads started, numbering each.
    refills: u64,
    /// Set while a room this session spoke in is far behind: no more input is read until the
    /// room's members have caught up (or the deadline passes).
    /// Boxed: a session's future holds it all its life, and most never wait.
    throttle: Option<Box<Throttle>>,
    /// The client stopped reading and the session let go of its rooms' receivers.
    stalled: bool,
    /// A request waits for Redis (several nodes: a nick claim): no more input is read until
    /// it is answered, so requests are answered in order.
    awaiting: bool,
    /// Cancelled when the server shuts down.
    shutdown: CancellationToken,
}

/// What a session that has spoken needs until its messages are through the history writer
/// (stored and broadcast, or refused). Made by the first `say` after a quiet spell and
/// dropped at the end of it: the answer queue is a `tokio::sync::mpsc` channel, 800 bytes
/// that a session which only listens should not hold.
struct Speaking {
    /// This session's messages on their way; each holds a clone.
    in_flight: Arc<InFlight>,
    /// Given with each message to the history writer, for its answer if it cannot store it.
    answers_tx: mpsc::Sender<SharedEvent>,
    answers: mpsc::Receiver<SharedEvent>,
}

impl Speaking {
    fn new() -> Self {
        let (answers_tx, answers) = mpsc::channel(DIRECT_QUEUE);
        Self { in_flight: Arc::new(InFlight::default()), answers_tx, answers }
    }

    /// Nothing of this session's is on its way and no answer is waiting.
    fn is_done(&self) -> bool {
        // Each message holds a clone of `in_flight` until the writer is done with it, and the
        // writer answers before letting go. The fence makes whatever the writer did before
        // dropping its last clone (the answer) visible here.
        Arc::strong_count(&self.in_flight) == 1 && {
            std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
            self.answers.is_empty()
        }
    }
}

/// The next direct event (a private message, the history writer's answer, or the news that
/// the session was replaced): one small future for both queues.
fn poll_direct(
    direct: &DirectReceiver,
    speaking: &mut Option<Speaking>,
    cx: &mut Context<'_>,
) -> Poll<DirectEvent> {
    if let Poll::Ready(event) = direct.poll_recv(cx) {
        return Poll::Ready(event);
    }
    match speaking {
        // Never closed: `Speaking` holds a sender.
        Some(speaking) => match speaking.answers.poll_recv(cx) {
            Poll::Ready(Some(event)) => Poll::Ready(DirectEvent::Event(event)),
            _ => Poll::Pending,
        },
        None => Poll::Pending,
    }
}

/// A room a sender waits for.
struct Throttle {
    room: RoomChannel,
    until: Instant,
}

impl Throttle {
    /// Until the room has caught up, or the deadline.
    async fn wait(&self) {
        let _ = tokio::time::timeout_at(self.until, self.room.caught_up()).await;
    }
}

impl<D: Dialect> Session<D> {
    /// The session's life. Not an `async fn`, whose state would hold `self` twice (the
    /// argument, and the variable it is moved into): the block below uses its captures in
    /// place.
    #[allow(clippy::manual_async_fn)] // on purpose: see above
    fn serve(mut self) -> impl Future<Output = ()> + Send {
        async move {
            // A panic here is a bug, but it must cost only this session: other tasks go on
            // anyway, and the hub must not keep a ghost of this one.
            let mut ended = AssertUnwindSafe(self.serve_until_end()).catch_unwind().await.ok();
            if let Some(end) = ended.take() {
                // Boxed: the goodbye's futures would otherwise add to every session's size all
                // along.
                ended = AssertUnwindSafe(Box::pin(self.finish(end))).catch_unwind().await.ok();
            }
            match ended {
                Some(end) => debug!(?end, "closed"),
                None => {
                    error!("session task panicked; its nick and rooms are released");
                    self.hub.forget(self.id);
                }
            }
        }
    }

    async fn serve_until_end(&mut self) -> End {
        debug!("connected");
        let _ = self.stream.set_nodelay(true);
        let mut codec = LineCodec::new(MAX_LINE_BYTES);
        // Holds memory only while there is something to decode: an idle connection keeps no
        // buffer (10,000 of them would otherwise hold 40 MB of empty ones).
        let mut inbuf = BytesMut::new();
        // When an unterminated line counts as complete (plain-text port only).
        let mut partial_deadline: Option<Instant> = None;
        self.dialect.greet(&mut self.out);
        // Complete lines left in `inbuf` because their answers filled `out`.
        let mut input_waiting = false;
        let mut alive = Alive::new(self.info.hello_timeout);
        // The session's one timer: the end of an unterminated line, or its deadline (hello,
        // ping, the end). One `Sleep`, moved, rather than a new one each time round.
        let timer = sleep_until(alive.deadline(false, self.info.ping_interval));
        tokio::pin!(timer);
        loop {
            if let Err(end) = self.flush().await {
                break end;
            }
            if input_waiting && !self.input_paused() {
                let flow;
                (flow, input_waiting) = self.on_bytes(&mut codec, &mut inbuf);
                partial_deadline = self.pause_deadline(input_waiting, &inbuf);
                self.take_ready_events();
                match flow {
                    Flow::Continue => continue,
                    Flow::Close(end) => break end,
                }
            }
            if inbuf.is_empty() && inbuf.capacity() > 0 {
                inbuf = BytesMut::new();
            }
            // The timer may fire early (it then moves itself on) but never late: the end of an
            // unterminated line, or a deadline that came nearer (the hello is done, and the
            // first ping is due before the hello deadline would have been).
            let due = alive.deadline(self.nick.is_some(), self.info.ping_interval);
            let next = partial_deadline.map_or(due, |pause| pause.min(due));
            if next < timer.deadline() {
                timer.as_mut().reset(next);
            }
            let flow = tokio::select! {
                _ = self.shutdown.cancelled() => Flow::Close(End::Shutdown),
                // Polled rather than `readable()`, whose future is 168 bytes of the session's.
                ready = std::future::poll_fn(|cx| self.stream.poll_read_ready(cx)),
                    if !self.input_paused() => match ready {
                    Ok(()) => {
                        inbuf.reserve(READ_CHUNK);
                        match self.stream.try_read_buf(&mut inbuf) {
                            Ok(0) => match codec.decode_eof(&mut inbuf) {
                                Ok(Some(line)) => match self.on_line(line) {
                                    Flow::Continue => Flow::Close(End::Closed),
                                    close => close,
                                },
                                _ => Flow::Close(End::Closed),
                            },
                            Ok(_) => {
                                alive.heard();
                                let flow;
                                (flow, input_waiting) = self.on_bytes(&mut codec, &mut inbuf);
                                partial_deadline = self.pause_deadline(input_waiting, &inbuf);
                                flow
                            }
                            // Readiness was stale: wait again.
                            Err(e) if e.kind() == ErrorKind::WouldBlock => Flow::Continue,
                            Err(e) => Flow::Close(End::Dropped(e.to_string())),
                        }
                    }
                    Err(e) => Flow::Close(End::Dropped(e.to_string())),
                },
                (room, event) = self.receivers.next() => {
                    self.on_room_event(room, event);
                    Flow::Continue
                }
                event = std::future::poll_fn(|cx| {
                    poll_direct(&self.direct, &mut self.speaking, cx)
                }) => match event {
                    DirectEvent::Event(event) => {
                        self.write_event(&event);
                        Flow::Continue
                    }
                    DirectEvent::Replaced => Flow::Close(End::Replaced),
                },
                Some(done) = self.queries.next(), if !self.queries.is_empty() => {
                    self.on_completion(done);
                    Flow::Continue
                }
                // Armed once and moved on lazily: hearing from the client only notes the time,
                // and the timer, when it fires early, sets itself to the real deadline.
                () = &mut timer => {
                    let now = Instant::now();
                    let due = alive.deadline(self.nick.is_some(), self.info.ping_interval);
                    if partial_deadline.is_some_and(|pause| now >= pause) {
                        partial_deadline = None;
                        timer.as_mut().reset(due);
                        match codec.take_partial(&mut inbuf) {
                            Some(line) => self.on_line(line),
                            None => Flow::Continue,
                        }
                    } else if now < due {
                        timer.as_mut().reset(partial_deadline.map_or(due, |pause| pause.min(due)));
                        Flow::Continue
                    } else if self.nick.is_none() {
                        Flow::Close(End::NoHello)
                    } else if !self.dialect.pings() {
                        alive.heard();
                        timer.as_mut().reset(alive.deadline(true, self.info.ping_interval));
                        Flow::Continue
                    } else if let Some(token) = alive.ping() {
                        self.write(&ServerMsg::Ping { token });
                        timer.as_mut().reset(alive.deadline(true, self.info.ping_interval));
                        Flow::Continue
                    } else {
                        Flow::Close(End::PingTimeout)
                    }
                }
                // Boxed, and only while throttled: the rest of the time it takes no room in
                // the session's future.
                Some(()) = OptionFuture::from(self.throttle.as_ref().map(|t| Box::pin(t.wait()))),
                    if self.throttle.is_some() =>
                {
                    self.throttle = None;
                    Flow::Continue
                }
            };
            // Events already waiting go out with this write, and with the last one too (the
            // echo of a line that arrived together with the end of the stream).
            self.take_ready_events();
            if let Flow::Close(end) = flow {
                break end;
            }
        }
    }

    /// Handles the complete lines in `inbuf` until their answers fill `out`. Returns whether
    /// lines were left for after the next write.
    fn on_bytes(&mut self, codec: &mut LineCodec, inbuf: &mut BytesMut) -> (Flow, bool) {
        loop {
            if self.out.len() >= MAX_PENDING_OUT || self.input_paused() {
                return (Flow::Continue, !inbuf.is_empty());
            }
            match codec.decode(inbuf) {
                Ok(Some(line)) => {
                    if let Flow::Close(end) = self.on_line(line) {
                        return (Flow::Close(end), false);
                    }
                }
                Ok(None) => return (Flow::Continue, false),
                Err(e) => return (Flow::Close(End::Dropped(e.to_string())), false),
            }
        }
    }

    /// Whether reading input waits: for a room to catch up, or for Redis to answer.
    fn input_paused(&self) -> bool {
        self.throttle.is_some() || self.awaiting
    }

    /// When the unterminated rest of `inbuf` counts as a line (plain-text port only).
    fn pause_deadline(&self, input_waiting: bool, inbuf: &BytesMut) -> Option<Instant> {
        match self.dialect.line_pause() {
            Some(pause) if !input_waiting && !inbuf.is_empty() => Some(Instant::now() + pause),
            _ => None,
        }
    }

    fn on_line(&mut self, line: protocol::Line) -> Flow {
        // Taken over by a new connection: the hub has announced this session gone, so none of
        // the lines still buffered may act (a `say` would reach the room after the departure).
        if self.direct.replaced() {
            return Flow::Close(End::Replaced);
        }
        if self.nick.is_none() {
            self.lines_before_hello += 1;
            if self.lines_before_hello > MAX_LINES_BEFORE_HELLO {
                return Flow::Close(End::ChattyBeforeHello);
            }
        }
        let view = View { nick: self.nick.as_ref(), rooms: &self.joined };
        let request = match self.dialect.read(line, view, &mut self.out) {
            None => return Flow::Continue,
            Some(request) => request,
        };
        let request = match request {
            Ok(request) => request,
            Err(error) => {
                // Only lines that cannot be read as requests count towards the cut-off: a
                // request that fails (a busy recipient, a taken nick) is not the client's fault.
                debug!(code = ?error.code, message = ?error.message, "unreadable line");
                self.write(&error.to_msg());
                self.errors_in_a_row += 1;
                return if self.errors_in_a_row >= MAX_ERRORS_IN_A_ROW {
                    Flow::Close(End::TooManyErrors)
                } else {
                    Flow::Continue
                };
            }
        };
        self.errors_in_a_row = 0;
        let name = request.type_name();
        self.handle(request).unwrap_or_else(|error| {
            debug!(code = ?error.code, message = ?error.message, "request failed");
            self.write(&error.for_request(name).to_msg());
            Flow::Continue
        })
    }

    /// An event from the room at `index` of the receivers.
    fn on_room_event(&mut self, index: usize, event: Received) {
        match event {
            Received::Event(event) => {
                if self.is_new(&event) {
                    self.write_event(&event);
                }
            }
            Received::Lagged(missed) => {
                if let Some(room) = self.receivers.room(index).cloned() {
                    self.on_lag(&room, missed);
                }
            }
        }
    }

    /// Takes the events that are already waiting, without waiting for more, so they go out in
    /// the same write.
    fn take_ready_events(&mut self) {
        for _ in 0..MAX_EVENTS_PER_WRITE {
            if self.out.len() >= MAX_PENDING_OUT {
                break;
            }
            if let Some(event) = self.try_direct() {
                self.write_event(&event);
                continue;
            }
            match self.receivers.try_next() {
                Some((room, event)) => self.on_room_event(room, event),
                None => break,
            }
        }
        self.receivers.done_reading();
        if self.speaking.as_ref().is_some_and(Speaking::is_done) {
            self.speaking = None;
        }
    }

    /// A direct event that is already waiting.
    fn try_direct(&mut self) -> Option<SharedEvent> {
        self.direct
            .try_recv()
            .or_else(|| self.speaking.as_mut().and_then(|s| s.answers.try_recv().ok()))
    }

    /// Takes every event already waiting in the rooms, with no batch limit: an answer that
    /// changes how the client reads later events (its new nick) must come after all events that
    /// were sent before it. Bounded by the rooms' channel capacity.
    fn take_all_room_events(&mut self) {
        while let Some((room, event)) = self.receivers.try_next() {
            self.on_room_event(room, event);
        }
        self.receivers.done_reading();
    }

    fn write(&mut self, msg: &ServerMsg) {
        let view = View { nick: self.nick.as_ref(), rooms: &self.joined };
        self.dialect.write(msg, view, &mut self.out);
    }

    fn write_event(&mut self, event: &Event) {
        if self.out.is_empty() && self.out.capacity() < self.last_batch {
            // The first event of a batch: room for as much as the last batch took, so a busy
            // session does not grow its buffer from nothing each time.
            self.out.reserve(self.last_batch);
        }
        let view = View { nick: self.nick.as_ref(), rooms: &self.joined };
        self.dialect.write_event(event, view, &mut self.out);
    }

    /// Writes what is pending. A client that takes longer than [`WRITE_TIMEOUT`] is dropped.
    ///
    /// Nearly always the socket takes everything at once, without waiting; only a client that
    /// reads slowly takes the slow path (boxed, so its timers cost the other sessions nothing).
    async fn flush(&mut self) -> Result<(), End> {
        if self.out.is_empty() {
            // Room made for a batch that did not come goes back too.
            self.out = BytesMut::new();
            return Ok(());
        }
        let batch = self.out.len();
        while !self.out.is_empty() {
            match self.stream.try_write(&self.out) {
                Ok(0) => return Err(End::Dropped("the connection took no bytes".to_owned())),
                Ok(written) => self.out.advance(written),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    Box::pin(self.flush_slowly()).await?;
                }
                Err(e) => return Err(End::Dropped(e.to_string())),
            }
        }
        // The buffer goes back: a session between batches holds none (a member list of a big
        // room is tens of kilobytes, for each of thousands of idle sessions). The next batch of
        // events starts with room for one as big as this one was (see `write_event`).
        self.out = BytesMut::new();
        self.last_batch = batch.min(MAX_PENDING_OUT);
        if self.stalled {
            self.stalled = false;
            self.resubscribe();
        }
        Ok(())
    }

    /// Waits for the client to take what is pending. A client that has not taken its bytes
    /// after [`STALL_AFTER`] lets go of its rooms' channels meanwhile, so it does not hold back
    /// their senders (who wait for a room's slowest member); once the write completes it takes
    /// them up again and is filled in from history.
    async fn flush_slowly(&mut self) -> Result<(), End> {
        // `write_all_buf` consumes what it writes, so after a timeout `out` holds exactly
        // what is left.
        let write = self.stream.write_all_buf(&mut self.out);
        tokio::pin!(write);
        let written = match timeout(STALL_AFTER, &mut write).await {
            Ok(written) => written,
            Err(_) => {
                let rooms = self.receivers.len() + self.refilling.len();
                if rooms > 0 {
                    debug!(rooms, "not reading; letting go of its rooms meanwhile");
                    let_go_of_rooms(&mut self.receivers, &mut self.refilling, &self.channels);
                    self.stalled = true;
                }
                match timeout(WRITE_TIMEOUT.saturating_sub(STALL_AFTER), write).await {
                    Ok(written) => written,
                    Err(_) => return Err(End::TooSlow),
                }
            }
        };
        written.map_err(|e| End::Dropped(e.to_string()))
    }

    /// For a session ending while its client still reads: waits (at most [`SETTLE_TIMEOUT`])
    /// for its messages still being stored and its history reads, so their answers reach it
    /// before the end.
    async fn settle(&mut self) {
        let in_flight = self.speaking.as_ref().map(|s| s.in_flight.clone());
        // Its rooms' events are still taken meanwhile (up to what one write may hold; they go
        // out with the goodbye), so it neither holds their senders back nor falls behind and
        // misses the echoes it waits for.
        let _ = timeout(SETTLE_TIMEOUT, async {
            let idle = async {
                if let Some(in_flight) = &in_flight {
                    in_flight.wait_idle().await;
                }
            };
            tokio::pin!(idle);
            let mut idle_done = false;
            while !(idle_done && self.queries.is_empty()) {
                tokio::select! {
                    () = &mut idle, if !idle_done => idle_done = true,
                    Some(done) = self.queries.next(), if !self.queries.is_empty() => {
                        self.on_completion(done);
                    }
                    (room, event) = self.receivers.next(), if self.out.len() < MAX_PENDING_OUT => {
                        self.on_room_event(room, event);
                        self.receivers.done_reading();
                    }
                }
            }
        })
        .await;
        self.take_ready_events();
    }

    /// Leaves the hub, says goodbye where there is someone to say it to, and closes.
    async fn finish(&mut self, end: End) -> End {
        // A client that is still reading gets the echoes of the messages it had sent (they
        // are stored and relayed either way): the echo is the acknowledgement.
        if matches!(end, End::Closed | End::Quit(_) | End::Flooding | End::TooManyErrors) {
            self.settle().await;
        }
        if let Some(nick) = &self.nick {
            let reserve = end.reserves_nick() && self.dialect.resumes();
            self.hub.unregister(nick, self.id, end.presence(), reserve);
            info!(nick = ?nick.as_str(), ?end, "left");
        }
        self.joining.clear();
        let_go_of_rooms(&mut self.receivers, &mut self.refilling, &self.channels);
        if let Some((code, message)) = end.bye() {
            self.write(&ServerMsg::Bye { code, message });
        }
        // Whatever is still pending (answers to the last lines of a client that half-closed,
        // the goodbye) gets a short last chance; a client that is not reading does not get
        // the full write timeout again.
        let written = !self.out.is_empty()
            && matches!(
                timeout(FINAL_WRITE_TIMEOUT, self.stream.write_all_buf(&mut self.out)).await,
                Ok(Ok(()))
            );
        // Our side is closed first, whatever happens next (as the write half of a split
        // stream would on being dropped).
        let shut = self.stream.shutdown().await.is_ok();
        if written && shut {
            // Closing a socket with unread input makes the kernel send a reset, which can
            // destroy the goodbye before the client reads it: read and drop what the client
            // still sends, until it closes too or the linger time is up.
            let mut sink = [0u8; READ_CHUNK];
            let _ = timeout(CLOSE_LINGER, async {
                while let Ok(1..) = self.stream.read(&mut sink).await {}
            })
            .await;
        }
        end
    }
}

/// Drops the session's receivers of its rooms (live and held back for a refill) and tells
/// the rooms' waiting senders, since the backlog they waited for may have been this member's
/// alone. Takes the fields, not the session, so it can run while a write borrows others.
fn let_go_of_rooms(
    receivers: &mut Receivers,
    refilling: &mut ByRoom<(u64, broadcast::Receiver<SharedEvent>)>,
    channels: &[Channel],
) {
    receivers.clear();
    refilling.clear();
    for channel in channels {
        channel.tx.let_go();
    }
}

impl End {
    /// How the rooms hear of it.
    fn presence(&self) -> PresenceEvent {
        match self {
            End::Quit(reason) => PresenceEvent::Left { reason: reason.clone() },
            End::Shutdown => {
                PresenceEvent::Left { reason: Some(Label::truncate("server shutting down")) }
            }
            End::Closed => PresenceEvent::Dropped { reason: Label::truncate("connection closed") },
            End::Dropped(reason) => PresenceEvent::Dropped { reason: Label::truncate(reason) },
            End::TooManyErrors => {
                PresenceEvent::Dropped { reason: Label::truncate("too many unreadable lines") }
            }
            End::TooSlow => PresenceEvent::Dropped { reason: Label::truncate("not reading") },
            End::UnsupportedProtocol => {
                PresenceEvent::Dropped { reason: Label::truncate("unsupported protocol") }
            }
            End::NoHello => PresenceEvent::Dropped { reason: Label::truncate("no hello") },
            End::PingTimeout => PresenceEvent::Dropped { reason: Label::truncate("ping timeout") },
            End::ChattyBeforeHello => {
                PresenceEvent::Dropped { reason: Label::truncate("no hello") }
            }
            End::Flooding => PresenceEvent::Dropped { reason: Label::truncate("flooding") },
            End::Replaced => PresenceEvent::Dropped { reason: Label::truncate("reconnected") },
        }
    }

    /// Whether the client lost its connection (rather than left, closed it, or was sent
    /// away): its nick is then kept a while for it to come back with its resume token. Not a
    /// clean close: that is a program that ended (killed, crashed) and may start again at once
    /// without the token, which it kept only in memory.
    fn reserves_nick(&self) -> bool {
        matches!(self, End::Dropped(_) | End::TooSlow | End::PingTimeout)
    }

    /// The goodbye to the client, when there is anyone left to tell.
    fn bye(&self) -> Option<(ByeCode, String)> {
        Some(match self {
            End::Quit(_) => (ByeCode::Quit, "goodbye".to_owned()),
            End::Shutdown => (ByeCode::Shutdown, "the server is shutting down".to_owned()),
            End::TooManyErrors => (
                ByeCode::TooManyErrors,
                format!("{MAX_ERRORS_IN_A_ROW} unreadable lines in a row; closing the connection"),
            ),
            End::TooSlow => (
                ByeCode::TooSlow,
                format!("nothing read for {}s; closing the connection", WRITE_TIMEOUT.as_secs()),
            ),
            End::UnsupportedProtocol => {
                (ByeCode::UnsupportedProtocol, "unsupported protocol version".to_owned())
            }
            End::NoHello => {
                (ByeCode::HelloTimeout, "no hello in time; closing the connection".to_owned())
            }
            End::PingTimeout => {
                (ByeCode::PingTimeout, "no answer to ping; closing the connection".to_owned())
            }
            End::ChattyBeforeHello => (
                ByeCode::HelloTimeout,
                format!(
                    "{MAX_LINES_BEFORE_HELLO} lines without a successful hello; closing the connection"
                ),
            ),
            End::Flooding => (
                ByeCode::Flooding,
                "still sending too fast after being told to wait; closing the connection"
                    .to_owned(),
            ),
            End::Replaced => (
                ByeCode::Replaced,
                "a new connection took over your nick with this session's resume token".to_owned(),
            ),
            End::Closed | End::Dropped(_) => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;
    use crate::broker::HistoryConfig;
    use crate::dialect::Json;

    /// Most of what an idle connection costs is its session's future, all its life: the rarely
    /// taken paths (a slow write, the goodbye, throttling) are boxed, and nothing is in it twice
    /// (an `async fn` keeps its arguments beside the future they were moved into, so `run` and
    /// `serve` are not). Tasks are 128-byte aligned, so a few bytes more can cost 128 per
    /// connection: this bound (for a debug build) keeps growth a decision.
    const MOST_SESSION_BYTES: usize = 1152;

    #[tokio::test]
    async fn a_session_future_stays_small() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        let broker =
            Broker::local(HistoryConfig { location: None, ..HistoryConfig::default() }).unwrap();
        let session = run(
            stream,
            peer,
            Json,
            Arc::new(Hub::new(10, 10)),
            Arc::new(ServerInfo::default()),
            broker,
            CancellationToken::new(),
        );
        let size = size_of_val(&session);
        println!("a session's future: {size} bytes");
        assert!(size <= MOST_SESSION_BYTES, "a session's future is {size} bytes");
        drop(client);
    }
}
