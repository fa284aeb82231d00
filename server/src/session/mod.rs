//! One task per connection: reads requests, carries them out, writes events.
//!
//! The task owns its socket and waits, in one `select!`, on the socket, its rooms' broadcast
//! receivers and its queue of direct events (which brings the shutdown too). After each wake-up it takes
//! everything else that is ready too and writes the lot with one syscall.
//!
//! - this file: the task, its `select!` loop, reading lines.
//! - [`requests`]: what each request does; [`rooms`]: the rooms it is in, one value each with
//!   its phase; [`backlog`]: history on joining, on request, and for a member that fell
//!   behind.
//! - [`account`]: registering, changing and deleting an account; private messages kept for
//!   an account that is away.
//! - [`moderation`]: topics, modes, invitations, kicks, bans, mutes, roles; kills and server
//!   bans; [`acts`]: storing what they decide, and what that does to the session's rooms.
//! - [`people`]: away messages and `whois`; [`search`]: finding a room's stored messages.
//! - [`budget`]: what each request costs against flood control, and whose budget pays.
//! - [`output`]: batching and writing; [`speaking`]: its messages on their way and a sender
//!   waiting for its room; [`alive`]: hello and ping deadlines; [`end`]: how it ends.

mod account;
mod acts;
mod alive;
mod backlog;
mod budget;
mod end;
mod moderation;
mod output;
mod people;
mod requests;
mod rooms;
mod search;
mod speaking;
#[cfg(test)]
mod tests;
mod turns;
mod watch;

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures::FutureExt;
use futures::future::OptionFuture;
use protocol::limits::MAX_LINE_BYTES;
use protocol::{LineCodec, Nick, PresenceEvent, ServerMsg};

use tokio::time::{Instant, sleep_until};
use tokio_util::codec::Decoder;
use tracing::{Instrument, Span, debug, error, info_span};
use uuid::Uuid;

use crate::broker::Broker;
use crate::config::ServerInfo;
use crate::dialect::{Dialect, View};
use crate::flood::{Flood, Holder};
use crate::hub::{DirectEvent, DirectReceiver, Hub, Order};
use crate::limits::{MAX_ERRORS_IN_A_ROW, MAX_LINES_BEFORE_HELLO, MAX_PENDING_OUT};
use crate::transport::Transport;
use alive::{Alive, Silence};
use backlog::Queries;
use end::End;
use rooms::{Received, Rooms};
use speaking::{Speaking, Throttle, poll_direct};
use turns::Turns;
use watch::Watch;

/// What woke a session that its rooms and reads did not.
enum Woken {
    Direct(DirectEvent),
    Timer,
    Socket(std::io::Result<()>),
}

/// What to do after a request.
enum Flow {
    Continue,
    Close(End),
}

/// Runs one session to its end. Errors stay inside: they are logged here and never reach the
/// accept loop.
///
/// Not an `async fn`: the session is made here, so the task holds one `Session`, inside the
/// one `serve` future. (An `async fn` keeps its arguments in its state beside the future they
/// were moved into, for as long as the connection lasts.)
pub fn run<D: Dialect>(
    stream: Transport,
    peer: SocketAddr,
    dialect: D,
    hub: Arc<Hub>,
    info: Arc<ServerInfo>,
    broker: Broker,
) -> impl Future<Output = ()> + Send {
    let id = Uuid::now_v7();
    let span = info_span!("session", peer = crate::log_address::shown(peer), %id);
    span.in_scope(|| debug!(%peer, "connected"));
    let direct = DirectReceiver::new(peer.ip());
    hub.enlist(&direct);
    let session = Session {
        id,
        peer: peer.ip(),
        login_failures: 0,
        hub,
        dialect,
        nick: None,
        logged_in: false,
        rooms: Rooms::default(),
        direct,
        speaking: None,
        out: BytesMut::new(),
        batch_events: 0,
        stream,
        errors_in_a_row: 0,
        lines_before_hello: 0,
        flood: info.flood.map(Flood::new),
        holder: None,
        renames: None,
        info,
        broker,
        queries: Queries::default(),
        throttle: None,
        awaiting: false,
        turns: Turns::default(),
        watch: Watch::default(),
        span,
    };
    session.serve()
}

struct Session<D> {
    id: Uuid,
    /// The client's address (as a trusted proxy gave it), for throttling failed logins.
    peer: std::net::IpAddr,
    /// Wrong passwords given to `hello` on this connection; at
    /// [`crate::limits::MAX_LOGIN_TRIES`] it is closed. Only a courtesy to the plain port's
    /// dialogue: a reconnect starts again, so the throttles, not this, bound guessing.
    login_failures: u8,
    hub: Arc<Hub>,
    info: Arc<ServerInfo>,
    dialect: D,
    nick: Option<Nick>,
    /// Logged in: `nick` is a registered account and this session its owner's (it gave the
    /// password, or the resume token of a session that had).
    logged_in: bool,
    /// The rooms it is in, in the order they were joined, each with its phase.
    rooms: Rooms,
    /// Private messages, and the shutdown; its sending side is given to the hub at
    /// registration, so others can reach this session directly.
    direct: DirectReceiver,
    /// While messages this session said are on their way through the broker: their
    /// count and the writer's answers. `None` the rest of the time.
    speaking: Option<Speaking>,
    /// Bytes waiting to be written; no memory while there are none.
    out: BytesMut,
    /// Messages in `out`, counted as delivered once written.
    batch_events: u32,
    /// Not split into owned halves: that puts it behind one more allocation, and the session
    /// reads and writes from one task.
    stream: Transport,
    errors_in_a_row: u32,
    /// Lines read while `nick` is `None`.
    lines_before_hello: u32,
    /// Flood control; `None` when the server has it off.
    flood: Option<Flood>,
    /// Whose budget `flood` spends, once registered (an account, or the address block), and
    /// where it is kept when the session ends; `None` for an exempt address.
    /// Boxed: a session's future holds it all its life.
    holder: Option<Box<Holder>>,
    /// Nick changes already told (one change comes through every shared room). Boxed, made
    /// at the first one: most sessions see few.
    renames: Option<Box<backlog::RecentRenames>>,
    broker: Broker,
    /// History reads under way.
    queries: Queries,
    /// Set while a room this session spoke in is far behind: no more input is read until the
    /// room's members have caught up (or the deadline passes).
    /// Boxed: a session's future holds it all its life, and most never wait.
    throttle: Option<Box<Throttle>>,
    /// A request waits for the nodes to decide (a nick claim): no more input is read until
    /// it is answered, so requests are answered in order.
    awaiting: bool,
    /// Whether the next wake-up polls the rooms first.
    turns: Turns,
    /// Whether the timer and the socket may have anything since they were last polled.
    watch: Watch,
    /// `session{peer, id}`: what the session logs, and what the hub and the broker log while
    /// it handles a request, is under it. Entered only off the delivery path ([`Self::in_span`]):
    /// entering and leaving a span costs about a tenth of what a delivery does.
    span: Span,
}

impl<D: Dialect> Session<D> {
    /// The session's life. Not an `async fn`, whose state would hold `self` twice (the
    /// argument, and the variable it is moved into): the block below uses its captures in
    /// place.
    #[allow(clippy::manual_async_fn)] // on purpose: see above
    fn serve(mut self) -> impl Future<Output = ()> + Send {
        async move {
            let _open = crate::metrics::session_opened();
            // A panic here is a bug, but it must cost only this session: other tasks go on
            // anyway, and the hub must not keep a ghost of this one.
            let mut ended = AssertUnwindSafe(self.serve_until_end()).catch_unwind().await.ok();
            let span = self.span.clone();
            if let Some(end) = ended.take() {
                // Boxed: the goodbye's futures would otherwise add to every session's size all
                // along.
                let finish = Box::pin(self.finish(end).instrument(span.clone()));
                ended = AssertUnwindSafe(finish).catch_unwind().await.ok();
            }
            let _entered = span.enter();
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
        self.stream.set_nodelay();
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
        let timer = sleep_until(alive.deadline(false, self.silence()));
        tokio::pin!(timer);
        loop {
            if let Err(end) = self.flush().await {
                break end;
            }
            if input_waiting && !self.input_paused() {
                let flow;
                (flow, input_waiting) = self.in_span(|s| s.on_bytes(&mut codec, &mut inbuf));
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
            // An unterminated line whose pause ended while input waited.
            if partial_deadline.is_none() && !inbuf.is_empty() && !self.input_paused() {
                partial_deadline = self.pause_deadline(input_waiting, &inbuf);
            }
            // The timer may fire early (it then moves itself on) but never late: the end of an
            // unterminated line, or a deadline that came nearer (the hello is done, and the
            // first ping is due before the hello deadline would have been).
            let due = alive.deadline(self.nick.is_some(), self.silence());
            let next = partial_deadline.map_or(due, |pause| pause.min(due));
            if next < timer.deadline() {
                timer.as_mut().reset(next);
            }
            let (rooms_turn, direct_first) = (self.turns.rooms_turn(), self.turns.direct_first());
            let reading = !self.input_paused();
            let mut room_won = false;
            let flow = tokio::select! {
                // In this order (`turns.rs`): a wake-up for a room's event (most of them) polls
                // nothing else, until the others' turn; then what nobody else can keep ready (the
                // session's own reads, its throttle); then the rest.
                biased;
                (room, event) = std::future::poll_fn(|cx| {
                    self.rooms.poll_next(&self.direct, cx)
                }), if rooms_turn => {
                    room_won = true;
                    self.on_room_event(room, event);
                    Flow::Continue
                }
                // Polled in the span: the broker logs what goes wrong with a read as it runs.
                Some(done) = std::future::poll_fn(|cx| {
                    let _entered = self.span.enter();
                    self.queries.poll_next(cx)
                }), if !self.queries.is_empty() => self.in_span(|s| s.on_completion(done)),
                // Boxed, and only while throttled: the rest of the time it takes no room in
                // the session's future.
                Some(share) = OptionFuture::from(
                    self.throttle.as_ref().map(|t| Box::pin(t.wait())),
                ), if self.throttle.is_some() => {
                    if let Some(throttle) = self.throttle.take()
                        && let Some(joined) = self.rooms.get_mut(&throttle.room)
                    {
                        joined.share = share;
                    }
                    Flow::Continue
                }
                // The direct queue, which others (private messages, orders) can keep ready, and
                // through the watch (`watch.rs`: polled only once one of them woke the session)
                // the timer and the socket, which the client can keep ready (its lines). The
                // queue and the watch take turns at going first: neither keeps the other
                // waiting. The socket is polled for readiness rather than with `readable()`,
                // whose future is 168 bytes of the session's.
                woken = std::future::poll_fn(|cx| {
                    let mut direct = |cx: &mut Context<'_>| {
                        poll_direct(&self.direct, &mut self.speaking, cx).map(Woken::Direct)
                    };
                    if direct_first && let Poll::Ready(woken) = direct(cx) {
                        return Poll::Ready(woken);
                    }
                    let (stream, waits) = (&mut self.stream, (reading, timer.deadline()));
                    let watched = self.watch.poll(cx, waits, |cx| {
                        if timer.as_mut().poll(cx).is_ready() {
                            return Poll::Ready(Woken::Timer);
                        }
                        match reading {
                            true => stream.poll_read_ready(cx).map(Woken::Socket),
                            false => Poll::Pending,
                        }
                    });
                    if watched.is_ready() || direct_first { watched } else { direct(cx) }
                }) => match woken {
                    Woken::Direct(event) => self.on_direct(event),
                    // Armed once and moved on lazily: hearing from the client only notes the
                    // time, and the timer, when it fires early, sets itself to the real deadline.
                    Woken::Timer => {
                        let now = Instant::now();
                        let due = alive.deadline(self.nick.is_some(), self.silence());
                        if partial_deadline.is_some_and(|pause| now >= pause) {
                            partial_deadline = None;
                            timer.as_mut().reset(due);
                            // While input waits (for an act, a room), so does the unterminated
                            // line: its pause starts again once input goes on (above).
                            match reading.then(|| codec.take_partial(&mut inbuf)).flatten() {
                                Some(line) => self.in_span(|s| s.on_line(line)),
                                None => Flow::Continue,
                            }
                        } else if now < due {
                            let next = partial_deadline.map_or(due, |pause| pause.min(due));
                            timer.as_mut().reset(next);
                            Flow::Continue
                        } else if self.nick.is_none() {
                            Flow::Close(End::NoHello)
                        } else if let Some(token) = alive.ping() {
                            if self.dialect.pings() {
                                self.write(&ServerMsg::Ping { token });
                            } else {
                                let grace = self.info.ping_interval.as_secs();
                                self.notice(format!(
                                    "you have been silent for a while: say anything (or /ping) within {grace} s to stay connected"
                                ));
                            }
                            timer.as_mut().reset(alive.deadline(true, self.silence()));
                            Flow::Continue
                        } else if self.dialect.pings() {
                            Flow::Close(End::PingTimeout)
                        } else {
                            Flow::Close(End::Idle)
                        }
                    }
                    Woken::Socket(Ok(())) => {
                        match self.stream.try_read_buf(&mut inbuf) {
                            Ok(0) => match codec.decode_eof(&mut inbuf) {
                                Ok(Some(line)) => match self.in_span(|s| s.on_line(line)) {
                                    Flow::Continue => Flow::Close(End::Closed),
                                    close => close,
                                },
                                _ => Flow::Close(End::Closed),
                            },
                            Ok(_) => {
                                alive.heard();
                                let flow;
                                (flow, input_waiting) =
                                    self.in_span(|s| s.on_bytes(&mut codec, &mut inbuf));
                                partial_deadline = self.pause_deadline(input_waiting, &inbuf);
                                flow
                            }
                            // Readiness was stale: wait again.
                            Err(e) if e.kind() == ErrorKind::WouldBlock => Flow::Continue,
                            Err(e) => Flow::Close(End::Dropped(e.to_string())),
                        }
                    }
                    Woken::Socket(Err(e)) => Flow::Close(End::Dropped(e.to_string())),
                },
                // The other branches' turn has come, and none of them is ready.
                () = std::future::ready(()), if !rooms_turn => Flow::Continue,
            };
            self.turns.won(room_won);
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

    /// What came through the session's direct queue.
    fn on_direct(&mut self, event: DirectEvent) -> Flow {
        match event {
            DirectEvent::Event(event) => {
                self.write_event(&event);
                Flow::Continue
            }
            DirectEvent::Replaced => Flow::Close(End::Replaced),
            DirectEvent::Shutdown => Flow::Close(End::Shutdown),
            DirectEvent::Order(Order::Leave { room, event }) => {
                self.in_span(|s| s.removed_from(&room, &event));
                Flow::Continue
            }
            DirectEvent::Order(Order::End { code, message }) => {
                Flow::Close(End::Removed { code, message })
            }
        }
    }

    /// Runs `f` inside the session's span, so what it logs (and what the hub and the broker log
    /// meanwhile) names the session.
    fn in_span<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let span = self.span.clone();
        let _entered = span.enter();
        f(self)
    }

    /// Whether reading input waits: for a room to catch up, or for the nodes to decide.
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
        let view = View { nick: self.nick.as_ref(), rooms: &self.rooms };
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
        if let Err(refused) = self.pay(&request) {
            return refused;
        }
        let (name, cost, since) = (request.type_name(), budget::cost(&request), self.out.len());
        let flow = match self.handle(request) {
            Ok(flow) => flow,
            Err(error) => {
                debug!(code = ?error.code, message = ?error.message, "request failed");
                self.write(&error.for_request(name).to_msg());
                self.pay_for_refusal();
                Flow::Continue
            }
        };
        self.pay_for_answer(cost, since);
        flow
    }

    /// How long the client may be silent: a JSON client is pinged, a person at `nc` (who
    /// cannot answer a ping) is told, after a longer quiet.
    fn silence(&self) -> Silence {
        let quiet = if self.dialect.pings() {
            self.info.ping_interval
        } else {
            self.info.plain_idle_timeout
        };
        Silence { quiet, grace: self.info.ping_interval }
    }

    /// An event from the room at `index` of the receivers.
    /// A member list sent to a whole room (after a node lost presence and fetched it anew)
    /// leaves out quiet members, this session among them if it joined quietly: its own client
    /// gets the list with itself added, where it sorts, as its join showed it. `None`: the
    /// room's list as it is.
    fn with_quiet_self(&self, msg: &ServerMsg) -> Option<ServerMsg> {
        let ServerMsg::Members { room, nicks, roles, after, more, away } = msg else {
            return None;
        };
        let nick = self.nick.as_ref()?;
        self.rooms.get(room)?.quiet?;
        let at = crate::hub::member_position(nicks, nick).ok()?;
        if (at == nicks.len() && *more) || (at == 0 && after.is_some()) {
            // It sorts on another page.
            return None;
        }
        let mut nicks = nicks.clone();
        nicks.insert(at, nick.clone());
        let (room, roles, after, more) = (room.clone(), roles.clone(), after.clone(), *more);
        Some(ServerMsg::Members { room, nicks, roles, after, more, away: away.clone() })
    }

    fn on_room_event(&mut self, index: usize, event: Received) {
        match event {
            Received::Event(event) => {
                if self.is_new(&event) {
                    match self.with_quiet_self(&event.msg) {
                        Some(own) => self.write(&own),
                        None => self.write_event(&event),
                    }
                }
                if let ServerMsg::Presence {
                    room, nick, event: PresenceEvent::Kicked { .. }, ..
                } = &event.msg
                    && self.nick.as_ref() == Some(nick)
                {
                    // Removed by an operator: the hub has taken this session out already.
                    self.forget_room(room);
                }
            }
            Received::Lagged(missed) => {
                if let Some(room) = self.rooms.name(index).cloned() {
                    self.on_lag(&room, missed);
                }
            }
        }
    }
}
