//! The requests a session carries out: everything that changes what the client is part of
//! (registration, rooms, nick) or asks the server for.

use std::sync::Arc;

use protocol::{
    ClientMsg, ErrorCode, Label, MessageKind, Nick, PROTOCOL_VERSION, PresenceEvent, RequestError,
    RoomName, ServerMsg, Text, now_millis,
};
use tokio_stream::wrappers::BroadcastStream;
use tracing::info;
use uuid::Uuid;

use super::{End, Flow, Session};
use crate::dialect::Dialect;
use crate::event::Event;
use crate::limits::MAX_ROOMS_PER_SESSION;

impl<D: Dialect> Session<D> {
    /// Carries out one request.
    pub(super) fn handle(&mut self, request: ClientMsg) -> Result<Flow, RequestError> {
        // Requests allowed at any time.
        let request = match request {
            ClientMsg::Ping { token } => {
                self.write(&ServerMsg::Pong { token });
                return Ok(Flow::Continue);
            }
            ClientMsg::Pong { .. } => return Ok(Flow::Continue),
            ClientMsg::Quit { reason } => return Ok(Flow::Close(End::Quit(reason))),
            ClientMsg::Hello { nick, protocol, client } => {
                if self.nick.is_some() {
                    return Err(RequestError::new(
                        ErrorCode::AlreadyRegistered,
                        "you said hello already",
                    ));
                }
                return self.hello(nick, protocol, &client);
            }
            other => other,
        };
        let Some(nick) = self.nick.clone() else {
            return Err(RequestError::new(ErrorCode::NotRegistered, "say hello first"));
        };
        match request {
            ClientMsg::Join { room } => self.join(&nick, room)?,
            ClientMsg::Leave { room } => self.leave(&nick, &room)?,
            ClientMsg::Say { room, text } => self.say(nick, room, MessageKind::Say, text)?,
            ClientMsg::Action { room, text } => self.say(nick, room, MessageKind::Action, text)?,
            ClientMsg::Msg { to, text } => {
                let event = self.hub.send_private(&nick, &to, text)?;
                self.write_event(&event);
            }
            ClientMsg::Nick { nick: new } => {
                if new != nick {
                    self.hub.rename(&nick, &new)?;
                    info!(from = ?nick.as_str(), to = ?new.as_str(), "renamed");
                    self.nick = Some(new.clone());
                    // Events about whoever had this nick before ("Tracy left") were sent before
                    // the rename: they must reach the client before it learns the nick is its own.
                    self.take_all_room_events();
                }
                self.write(&ServerMsg::Nick { nick: new });
            }
            ClientMsg::Rooms => self.write(&ServerMsg::Rooms { rooms: self.hub.rooms() }),
            ClientMsg::Who { room } => {
                let nicks = self.hub.members(&room).ok_or_else(|| {
                    RequestError::new(ErrorCode::NoSuchRoom, format!("there is no room #{room}"))
                })?;
                self.write(&ServerMsg::Members { room, nicks });
            }
            // Handled above.
            ClientMsg::Hello { .. }
            | ClientMsg::Ping { .. }
            | ClientMsg::Pong { .. }
            | ClientMsg::Quit { .. } => {}
        }
        Ok(Flow::Continue)
    }

    fn hello(&mut self, nick: Nick, protocol: u32, client: &Label) -> Result<Flow, RequestError> {
        if protocol != PROTOCOL_VERSION {
            self.write(
                &RequestError::new(
                    ErrorCode::UnsupportedProtocol,
                    format!("this server speaks protocol {PROTOCOL_VERSION}, not {protocol}"),
                )
                .for_request("hello")
                .to_msg(),
            );
            return Ok(Flow::Close(End::UnsupportedProtocol));
        }
        self.hub.register(&nick, self.id, self.direct_tx.clone())?;
        info!(nick = ?nick.as_str(), client = ?client.as_str(), "registered");
        self.nick = Some(nick.clone());
        let welcome = ServerMsg::Welcome {
            session: self.id,
            nick: nick.clone(),
            server: Label::truncate(&self.info.version),
            protocol: PROTOCOL_VERSION,
            greeting: format!("Hello, {nick}! Welcome to {}.", self.info.name),
            motd: self.info.motd.clone(),
            rooms: self.hub.rooms(),
        };
        self.write(&welcome);
        self.join(&nick, RoomName::lobby())?;
        Ok(Flow::Continue)
    }

    fn join(&mut self, nick: &Nick, room: RoomName) -> Result<(), RequestError> {
        if self.joined.contains(&room) {
            return Err(RequestError::new(
                ErrorCode::AlreadyInRoom,
                format!("you are already in #{room}"),
            ));
        }
        if self.joined.len() >= MAX_ROOMS_PER_SESSION {
            return Err(RequestError::new(
                ErrorCode::TooManyRooms,
                format!("you are in {MAX_ROOMS_PER_SESSION} rooms, the most a session may be in"),
            ));
        }
        let mut membership = self.hub.join(nick, &room)?;
        // Show the join first, then the member list: take the receiver's events up to our own
        // announcement now rather than on the next wake-up.
        while let Ok(event) = membership.rx.try_recv() {
            self.write_event(&event);
            if Arc::ptr_eq(&event, &membership.announcement) {
                break;
            }
        }
        self.write(&ServerMsg::Members { room: room.clone(), nicks: membership.members });
        self.receivers.insert(room.clone(), BroadcastStream::new(membership.rx));
        self.joined.push(room);
        self.senders.push(membership.tx);
        Ok(())
    }

    fn leave(&mut self, nick: &Nick, room: &RoomName) -> Result<(), RequestError> {
        let index = self.room_index(room)?;
        self.joined.remove(index);
        self.senders.remove(index);
        self.receivers.remove(room);
        let event = self.hub.leave(nick, room, PresenceEvent::Left { reason: None });
        self.write_event(&event);
        Ok(())
    }

    fn say(
        &mut self,
        from: Nick,
        room: RoomName,
        kind: MessageKind,
        text: Text,
    ) -> Result<(), RequestError> {
        let index = self.room_index(&room)?;
        let event = Event::new(ServerMsg::Message {
            id: Uuid::now_v7(),
            room,
            from,
            kind,
            text,
            ts: now_millis(),
        });
        // Cannot fail: this session's own receiver is subscribed.
        let _ = self.senders[index].send(event);
        Ok(())
    }

    fn room_index(&self, room: &RoomName) -> Result<usize, RequestError> {
        self.joined.iter().position(|r| r == room).ok_or_else(|| {
            RequestError::new(ErrorCode::NotInRoom, format!("you are not in #{room}"))
        })
    }
}
