//! Nicks across the nodes: claimed, renamed and let go in Redis with one script each, so of
//! two nodes claiming one nick at once exactly one wins.

use std::sync::Arc;
use std::time::Duration;

use protocol::{ErrorCode, Nick, RequestError};
use redis::RedisError;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::outbox::Outgoing;
use super::wire::{Note, Owner, keys};
use super::{Cluster, scripts};
use crate::hub::{Claimed, Elsewhere, Registered, ResumeHash, nick_in_use, nick_registered};

impl Cluster {
    /// Claims `nick` for a new session across the chat. With `claim`, a resume token: the
    /// nick is taken over from the session that holds it (on any node) or reclaimed from a
    /// dropped one's reservation. `logged_in`: the session gave the account's password, and
    /// takes the nick from whoever holds it.
    pub async fn claim(
        &self,
        nick: &Nick,
        session: Uuid,
        resume: ResumeHash,
        claim: Option<Uuid>,
        logged_in: bool,
    ) -> Result<Claimed, RequestError> {
        let key = nick.key();
        let owner = Owner::Live {
            node: self.node.to_string(),
            session,
            token: resume,
            nick: nick.to_string(),
        };
        let mut conn = self.conn.clone();
        let (answer, previous, account): (String, String, String) = redis::cmd("EVAL")
            .arg(scripts::CLAIM)
            .arg(3)
            .arg(keys::nick(&key))
            .arg(keys::node_nicks(&self.node))
            .arg(keys::account(&key))
            .arg(owner.encode())
            // The script compares hashes: Redis never holds a token.
            .arg(claim.map(|c| ResumeHash::of(c).hex()).unwrap_or_default())
            .arg(key.as_str())
            .arg(if logged_in { "login" } else { "guest" })
            .query_async(&mut conn)
            .await
            .map_err(|e| self.request_failed("hello", &e))?;
        let account = account == "1";
        let claimed = |how| Ok(Claimed { how, account });
        if answer == "registered" {
            return Err(nick_registered(nick, &previous));
        }
        let previous = Owner::parse(&previous);
        match (answer.as_str(), previous) {
            ("new", _) => claimed(Registered::New),
            ("was", Some(Owner::Kept { .. })) => claimed(Registered::Reclaimed),
            ("was", Some(Owner::Live { node, session: old, nick: held, .. })) => {
                if *node != *self.node {
                    // The holder's node ends it; this node only learns it was taken over.
                    let note = Note::Replace {
                        session: old,
                        nick: Nick::parse(&held).unwrap_or_else(|_| nick.clone()),
                    };
                    self.relay().send(Outgoing::Publish {
                        channel: keys::to_node(&node),
                        payload: note.encode(),
                    });
                }
                claimed(Registered::TookOver)
            }
            (_, previous) => Err(in_use(nick, previous.as_ref())),
        }
    }

    /// [`Cluster::claim`] in a task of its own, for a session: it completes even if the
    /// session ends meanwhile, and a nick claimed for a session that is gone is let go again.
    pub fn claim_for(
        self: &Arc<Self>,
        nick: Nick,
        session: Uuid,
        resume: ResumeHash,
        claim: Option<Uuid>,
        logged_in: bool,
    ) -> impl Future<Output = Result<Claimed, RequestError>> + Send + 'static {
        let (answer, answered) = oneshot::channel();
        let cluster = self.clone();
        tokio::spawn(async move {
            let how = cluster.claim(&nick, session, resume, claim, logged_in).await;
            if let Err(Ok(_)) = answer.send(how) {
                cluster.relay().release(&nick, session, resume, Duration::ZERO);
            }
        });
        async move { answered.await.unwrap_or_else(|_| Err(stopping())) }
    }

    /// [`Cluster::rename`] in a task of its own, as [`Cluster::claim_for`].
    pub fn rename_for(
        self: &Arc<Self>,
        old: Nick,
        new: Nick,
        session: Uuid,
        resume: ResumeHash,
    ) -> impl Future<Output = Result<(), RequestError>> + Send + 'static {
        let (answer, answered) = oneshot::channel();
        let cluster = self.clone();
        tokio::spawn(async move {
            let result = cluster.rename(&old, &new, session, resume).await;
            if let Err(Ok(())) = answer.send(result) {
                // The session ended under its old nick, which let go of nothing in Redis.
                cluster.relay().release(&new, session, resume, Duration::ZERO);
            }
        });
        async move { answered.await.unwrap_or_else(|_| Err(stopping())) }
    }

    /// Moves a session's nick from `old` to `new` across the chat, if `new` is free.
    pub async fn rename(
        &self,
        old: &Nick,
        new: &Nick,
        session: Uuid,
        resume: ResumeHash,
    ) -> Result<(), RequestError> {
        let owner = |nick: &Nick| {
            Owner::Live {
                node: self.node.to_string(),
                session,
                token: resume,
                nick: nick.to_string(),
            }
            .encode()
        };
        let (old_key, new_key) = (old.key(), new.key());
        let mut conn = self.conn.clone();
        let (answer, holder): (String, String) = redis::cmd("EVAL")
            .arg(scripts::RENAME)
            .arg(4)
            .arg(keys::nick(&old_key))
            .arg(keys::nick(&new_key))
            .arg(keys::node_nicks(&self.node))
            .arg(keys::account(&new_key))
            .arg(owner(old))
            .arg(owner(new))
            .arg(old_key.as_str())
            .arg(new_key.as_str())
            .query_async(&mut conn)
            .await
            .map_err(|e| self.request_failed("nick", &e))?;
        match answer.as_str() {
            "ok" => Ok(()),
            "lost" => Err(RequestError::new(
                ErrorCode::NotRegistered,
                "a new connection took this session's nick over",
            )),
            "registered" => Err(nick_registered(new, &holder)),
            _ => Err(in_use(new, Owner::parse(&holder).as_ref())),
        }
    }

    pub(super) fn request_failed(&self, request: &str, e: &RedisError) -> RequestError {
        self.outage(e);
        RequestError::new(
            ErrorCode::StorageFailed,
            format!("the chat's shared store is not answering; {request} again in a moment"),
        )
    }
}

fn stopping() -> RequestError {
    RequestError::new(ErrorCode::StorageFailed, "the server is stopping")
}

/// "the nick Tracy is already in use", from what Redis says holds it.
fn in_use(nick: &Nick, holder: Option<&Owner>) -> RequestError {
    match holder {
        Some(Owner::Kept { .. }) => RequestError::new(
            ErrorCode::NickInUse,
            format!(
                "the nick {nick} is kept for a while for the one who held it, who lost the connection"
            ),
        ),
        Some(owner) => nick_in_use(nick, owner.nick()),
        None => nick_in_use(nick, nick.as_str()),
    }
}
