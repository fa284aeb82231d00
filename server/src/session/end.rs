//! How a session ends: why ([`End`]), what its rooms and its client are told, and the last
//! moments (its messages still being stored, its goodbye, a close that does not reset).

use protocol::{ByeCode, Label, PresenceEvent, ServerMsg};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;
use tracing::info;

use super::Session;
use crate::dialect::Dialect;
use crate::limits::{
    CLOSE_LINGER, FINAL_WRITE_TIMEOUT, MAX_ERRORS_IN_A_ROW, MAX_LINES_BEFORE_HELLO,
    MAX_LOGIN_TRIES, MAX_PENDING_OUT, SETTLE_TIMEOUT, WRITE_TIMEOUT,
};
use crate::transport::READ_CHUNK;

/// Why a session ended.
#[derive(Debug)]
pub(super) enum End {
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
    /// A plain-text client silent through the idle timeout and the notice that followed it.
    Idle,
    /// [`MAX_LINES_BEFORE_HELLO`] lines without a successful hello.
    ChattyBeforeHello,
    /// Kept sending while refused for flooding.
    Flooding,
    /// A new connection took the nick over with this session's resume token.
    Replaced,
    /// [`MAX_LOGIN_TRIES`] wrong passwords.
    LoginFailed,
    /// A server admin's kill, or a server ban: `code` is `killed` or `banned`.
    Removed {
        code: ByeCode,
        message: String,
    },
}

impl<D: Dialect> Session<D> {
    /// For a session ending while its client still reads: waits (at most [`SETTLE_TIMEOUT`])
    /// for its messages still being stored and its history reads, so their answers reach it
    /// before the end.
    pub(super) async fn settle(&mut self) {
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
                        // Ending anyway.
                        let _ = self.on_completion(done);
                    }
                    (room, event) = std::future::poll_fn(|cx| self.rooms.poll_next(&self.direct, cx)),
                        if self.out.len() < MAX_PENDING_OUT =>
                    {
                        self.on_room_event(room, event);
                        self.rooms.done_reading();
                    }
                }
            }
        })
        .await;
        self.take_ready_events();
    }

    /// Leaves the hub, says goodbye where there is someone to say it to, and closes.
    pub(super) async fn finish(&mut self, end: End) -> End {
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
        self.rooms.leave_all();
        if let (Some(holder), Some(flood)) = (self.holder.take(), &self.flood) {
            let now = tokio::time::Instant::now();
            self.broker.keep_budget(&holder, || flood.shared(now, protocol::now_millis()));
            self.info.kept.keep(*holder, flood);
        }
        let bye = end.bye();
        crate::metrics::session_ended(bye.as_ref().map(|(code, _)| *code));
        if let Some((code, message)) = bye {
            self.write(&ServerMsg::Bye { code, message, retry_after_ms: None });
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

impl End {
    /// How the rooms hear of it.
    pub(super) fn presence(&self) -> PresenceEvent {
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
            End::Idle => PresenceEvent::Dropped { reason: Label::truncate("idle") },
            End::ChattyBeforeHello => {
                PresenceEvent::Dropped { reason: Label::truncate("no hello") }
            }
            End::Flooding => PresenceEvent::Dropped { reason: Label::truncate("flooding") },
            End::Replaced => PresenceEvent::Dropped { reason: Label::truncate("reconnected") },
            End::LoginFailed => PresenceEvent::Dropped { reason: Label::truncate("login failed") },
            End::Removed { message, .. } => {
                PresenceEvent::Left { reason: Some(Label::truncate(message)) }
            }
        }
    }

    /// Whether the client lost its connection (rather than left, closed it, or was sent
    /// away): its nick is then kept a while for it to come back with its resume token. Not a
    /// clean close: that is a program that ended (killed, crashed) and may start again at once
    /// without the token, which it kept only in memory.
    pub(super) fn reserves_nick(&self) -> bool {
        matches!(self, End::Dropped(_) | End::TooSlow | End::PingTimeout)
    }

    /// The goodbye to the client, when there is anyone left to tell.
    pub(super) fn bye(&self) -> Option<(ByeCode, String)> {
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
            End::Idle => {
                (ByeCode::PingTimeout, "silent for too long; closing the connection".to_owned())
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
                "a new connection took over your nick, with this session's resume token or the account's password".to_owned(),
            ),
            End::LoginFailed => (
                ByeCode::LoginFailed,
                format!("{MAX_LOGIN_TRIES} wrong passwords; closing the connection"),
            ),
            End::Removed { code, message } => (*code, message.clone()),
            End::Closed | End::Dropped(_) => return None,
        })
    }
}
