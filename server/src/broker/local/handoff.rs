//! How a message reaches the writer: stored at once, on its sender's thread, when nothing is
//! ahead of it and the writer has been quiet; otherwise through the writer's queue, to be
//! committed with whatever else queued up (group commit).
//!
//! A room that has not caught up with its messages (a member has not read one yet) has the
//! next ones queued, and so does a writer that stored anything less than
//! `STORE_AT_ONCE_AFTER` ago: under load, messages go on reaching the writer and the members
//! in batches.
//!
//! Stored at once, a message goes from its sender's session to its room's members without
//! leaving the runtime's thread: no hand-off to the writer thread, none back to the
//! broadcaster task. Its indexing for search and its room's pruning still happen on the writer
//! thread, with those of the messages stored before it: when `SETTLE_AFTER` of them wait
//! ([`Command::Settle`], sent after the members have been woken) or a search asks.
//!
//! Order is kept by what "nothing ahead" means: nothing is queued for the writer or being
//! handled by it (so no earlier message of the same sender, and no deletion), and every batch
//! the writer thread stored has been sent by the broadcaster (so members see a room's messages
//! in sequence order, and a sender's messages go out in the order sent). Both are checked
//! while holding the writer's state, which the thread holds for as long as it handles a batch.
//! `unsent` only goes up under it, and down after the broadcaster's send, so zero means sent
//! and stays so until the lock is let go. `queued` goes up as another session queues a message
//! (a session is one task: it is never queuing while it stores at once), and such a message
//! comes after the one stored at once, which is all order asks.
//!
//! A message stored at once never waits for the database: if another connection holds it (an
//! account or a room's settings being written), the message is given back and queues.

use std::sync::TryLockError;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::mpsc;

use super::{Command, Inner};
use crate::broker::{Say, Ticket};

/// What decides whether a message may skip the writer's queue, shared by the sessions, the
/// writer thread and the broadcaster task.
#[derive(Default)]
pub(super) struct Handoff {
    /// Messages and deletions queued for the writer or being handled by it.
    queued: AtomicUsize,
    /// Batches the writer thread stored that the broadcaster has not yet sent.
    unsent: AtomicUsize,
    /// A [`Command::Settle`] is on its way to the writer thread.
    settling: AtomicBool,
}

/// Whether every member of the room has read what came before `say`, and nothing else for
/// the room is on its way (`say` itself is). A room still taking in a fan-out, as it always
/// is when its senders go flat out, has its messages queued, so they reach its members in
/// batches: a member woken once reads many.
fn read_up(say: &Say) -> bool {
    say.room_tx.backlog() <= 1
}

impl Handoff {
    /// Stores and sends `say` at once if nothing is ahead of it, its room has caught up and
    /// the writer is quiet; otherwise gives it back, for the queue.
    pub(super) fn say_at_once(
        &self,
        inner: &Inner,
        say: Say,
        ticket: Ticket,
    ) -> Option<(Say, Ticket)> {
        if self.ahead() || !read_up(&say) {
            return Some((say, ticket));
        }
        // Never waits: a writer that is busy is no writer to skip the queue of. A lock
        // poisoned by a panic is used as it is, as everywhere (`crate::sync`).
        let mut writer = match inner.state.try_lock() {
            Ok(writer) => writer,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return Some((say, ticket)),
        };
        if self.ahead() || !writer.quiet() {
            return Some((say, ticket));
        }
        let due = match writer.say_at_once(say, ticket) {
            Ok(due) => due,
            Err(back) => return Some(back),
        };
        drop(writer);
        if due {
            self.settle_soon(&inner.writer);
        }
        None
    }

    /// Whether anything is queued for the writer, or stored and not yet sent.
    fn ahead(&self) -> bool {
        self.queued.load(Ordering::Acquire) != 0 || self.unsent.load(Ordering::Acquire) != 0
    }

    /// Counts a message or deletion about to be queued.
    pub(super) fn count_queued(&self) {
        self.queued.fetch_add(1, Ordering::AcqRel);
    }

    /// Counts `n` queued messages and deletions as handled (or never queued after all).
    pub(super) fn count_handled(&self, n: usize) {
        self.queued.fetch_sub(n, Ordering::AcqRel);
    }

    /// Counts a stored batch handed to the broadcaster.
    pub(super) fn count_unsent(&self) {
        self.unsent.fetch_add(1, Ordering::AcqRel);
    }

    /// Counts a batch the broadcaster has sent (or that never reached it).
    pub(super) fn count_sent(&self) {
        self.unsent.fetch_sub(1, Ordering::AcqRel);
    }

    /// Whether the caller is to ask the writer thread to settle: nobody has yet since it last
    /// did. A search that finds the index behind asks through here, so many searches make one
    /// request, as many messages stored at once do.
    pub(super) fn settle_asked(&self) -> bool {
        !self.settling.swap(true, Ordering::AcqRel)
    }

    /// The writer thread takes up what waits to be settled.
    pub(super) fn count_settled(&self) {
        self.settling.store(false, Ordering::Release);
    }

    /// Asks the writer thread to settle (index and prune) what was stored, after the members
    /// this runtime thread has just woken: the request is sent from a task that yields first.
    /// One request covers everything stored at once until the thread takes it up.
    fn settle_soon(&self, writer: &mpsc::Sender<Command>) {
        if !self.settle_asked() {
            return;
        }
        let writer = writer.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    tokio::task::yield_now().await;
                    let _ = writer.send(Command::Settle).await;
                });
            }
            // Outside a runtime: now; if the queue is full, the next batch of messages the
            // thread stores settles it too.
            Err(_) => {
                if writer.try_send(Command::Settle).is_err() {
                    self.count_settled();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use protocol::{RoomName, ServerMsg};
    use tokio::sync::broadcast::error::TryRecvError;

    use super::*;
    use crate::broker::HistoryConfig;
    use crate::broker::local::tests::say;
    use crate::broker::local::{Local, Location};
    use crate::event::SharedEvent;
    use crate::hub::RoomChannel;
    use crate::limits::STORE_AT_ONCE_AFTER;

    fn text(event: &SharedEvent) -> String {
        match &event.msg {
            ServerMsg::Message { text, .. } => text.as_str().to_owned(),
            other => panic!("not a message: {other:?}"),
        }
    }

    /// The text of the next message members get, waiting for it (at most 5 s).
    async fn next(members: &mut tokio::sync::broadcast::Receiver<SharedEvent>) -> String {
        let event = tokio::time::timeout(Duration::from_secs(5), members.recv()).await;
        text(&event.expect("no message came").expect("the room's channel closed"))
    }

    fn history(dir: &tempfile::TempDir) -> Local {
        Local::open(HistoryConfig {
            location: Some(Location::File(dir.path().join("history.db"))),
            ..HistoryConfig::default()
        })
        .unwrap()
    }

    /// History in a file, a room with a member, and the writer quiet.
    fn quiet_room()
    -> (tempfile::TempDir, Local, RoomChannel, tokio::sync::broadcast::Receiver<SharedEvent>) {
        let dir = tempfile::tempdir().unwrap();
        let history = history(&dir);
        let room = RoomChannel::new();
        let members = room.subscribe();
        until_quiet(&history);
        (dir, history, room, members)
    }

    /// Blocks the runtime's one thread (so the broadcaster task cannot run) until the writer
    /// thread has handled everything queued and the writer is quiet.
    fn until_quiet(history: &Local) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while history.inner.handoff.queued.load(Ordering::Acquire) != 0 {
            assert!(Instant::now() < deadline, "the writer thread never took its queue");
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(STORE_AT_ONCE_AFTER * 2);
    }

    /// A message to a quiet writer is stored and in its room before `say` returns, with
    /// nothing on the way through the writer thread or the broadcaster.
    #[tokio::test]
    async fn a_message_to_a_quiet_writer_is_stored_and_sent_at_once() {
        let (_dir, history, room, mut members) = quiet_room();
        history.say(say(&room, "at once")).unwrap();
        let event = members.try_recv().expect("not sent at once");
        assert_eq!(text(&event), "at once");
        let page = history.page(RoomName::lobby(), None, 10).await.unwrap();
        assert_eq!(page.messages.len(), 1, "sent but not stored");
        history.close().await;
    }

    /// A message never overtakes one queued before it (the same sender's, or a deletion):
    /// while anything is queued for the writer, a message queues too.
    #[tokio::test]
    async fn a_message_does_not_skip_a_queue_that_holds_anything() {
        let (_dir, history, room, mut members) = quiet_room();
        // As if a message were queued and not yet taken by the writer thread.
        history.inner.handoff.count_queued();
        history.say(say(&room, "queued")).unwrap();
        assert_eq!(members.try_recv().err(), Some(TryRecvError::Empty), "skipped the queue");
        assert_eq!(next(&mut members).await, "queued");
        history.inner.handoff.count_handled(1);
        history.close().await;
    }

    /// A message never overtakes a batch the writer thread stored that the broadcaster has not
    /// sent yet, even one for another room: a sender's messages go out in the order sent.
    #[tokio::test]
    async fn a_message_does_not_overtake_a_stored_batch_not_yet_sent() {
        let dir = tempfile::tempdir().unwrap();
        let history = history(&dir);
        let (first_room, second_room) = (RoomChannel::new(), RoomChannel::new());
        let (mut first_members, mut second_members) =
            (first_room.subscribe(), second_room.subscribe());
        // With something queued (as if), this one goes through the thread, which stores it
        // and hands it to the broadcaster, which cannot run while this test holds the
        // runtime's only thread.
        history.inner.handoff.count_queued();
        history.say(say(&first_room, "first")).unwrap();
        history.inner.handoff.count_handled(1);
        until_quiet(&history);
        assert_eq!(first_members.try_recv().err(), Some(TryRecvError::Empty));
        history.say(say(&second_room, "second")).unwrap();
        assert_eq!(
            second_members.try_recv().err(),
            Some(TryRecvError::Empty),
            "overtook the batch"
        );
        assert_eq!(next(&mut first_members).await, "first");
        assert_eq!(next(&mut second_members).await, "second");
        history.close().await;
    }

    /// A room whose members have not all read its last message has the next one queued, so
    /// a room taking in messages faster than its members read them gets them in batches.
    #[tokio::test]
    async fn a_room_behind_its_messages_has_the_next_one_queued() {
        let (_dir, history, room, mut members) = quiet_room();
        history.say(say(&room, "unread")).unwrap();
        until_quiet(&history);
        history.say(say(&room, "queued")).unwrap();
        assert_eq!(text(&members.try_recv().unwrap()), "unread");
        assert_eq!(members.try_recv().err(), Some(TryRecvError::Empty), "sent at once");
        assert_eq!(next(&mut members).await, "queued");
        history.close().await;
    }

    /// A message stored at once never waits for another connection's write on the runtime's
    /// thread: it is given back and queues, and the writer thread stores it once the database
    /// is free; its sender hears of no failure.
    #[tokio::test]
    async fn a_message_finding_the_database_held_queues_instead_of_waiting() {
        let (dir, history, room, mut members) = quiet_room();
        let other = rusqlite::Connection::open(dir.path().join("history.db")).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let (sender, mut told) = mpsc::channel(1);
        let asked = Instant::now();
        history.say(Say { sender, ..say(&room, "held") }).unwrap();
        assert!(asked.elapsed() < Duration::from_millis(500), "waited for the database");
        assert_eq!(members.try_recv().err(), Some(TryRecvError::Empty));
        other.execute_batch("COMMIT").unwrap();
        assert_eq!(next(&mut members).await, "held");
        assert!(told.try_recv().is_err(), "the sender was told of a failure");
        history.close().await;
    }

    /// A message stored at once that cannot be stored (a full database) is not sent, and its
    /// sender is told why, as on the writer thread.
    #[tokio::test]
    async fn a_message_that_cannot_be_stored_at_once_is_refused_and_not_sent() {
        let dir = tempfile::tempdir().unwrap();
        let history = Local::open(HistoryConfig {
            location: Some(Location::File(dir.path().join("history.db"))),
            max_bytes: Some(128 * 1024),
            ..HistoryConfig::default()
        })
        .unwrap();
        let room = RoomChannel::new();
        let mut members = room.subscribe();
        let big = "x".repeat(4000);
        for _ in 0..100 {
            until_quiet(&history);
            let (sender, mut told) = mpsc::channel(1);
            history.say(Say { sender, ..say(&room, &big) }).unwrap();
            if members.try_recv().is_ok() {
                continue;
            }
            let error = told.try_recv().expect("neither sent nor refused at once");
            let ServerMsg::Error { code, message, .. } = &error.msg else {
                panic!("not an error: {:?}", error.msg);
            };
            assert_eq!(*code, protocol::ErrorCode::StorageFailed);
            assert!(message.contains("full"), "{message}");
            assert_eq!(members.try_recv().err(), Some(TryRecvError::Empty));
            history.close().await;
            return;
        }
        panic!("the database never filled up");
    }

    /// With history off, a quiet room's message is numbered and sent at once too, and a
    /// search (which finds nothing) never waits for an index there is none of.
    #[tokio::test]
    async fn with_history_off_a_message_is_sent_at_once_and_searches_do_not_wait() {
        let history =
            Local::open(HistoryConfig { location: None, ..HistoryConfig::default() }).unwrap();
        let room = RoomChannel::new();
        let mut members = room.subscribe();
        until_quiet(&history);
        history.say(say(&room, "unkept")).unwrap();
        assert_eq!(text(&members.try_recv().expect("not sent at once")), "unkept");
        let asked = Instant::now();
        let words = protocol::Label::parse("unkept").unwrap();
        let found = history.search(RoomName::lobby(), words, None, 10).await.unwrap();
        assert!(found.messages.is_empty());
        assert!(asked.elapsed() < Duration::from_secs(1), "the search waited for an index");
        history.close().await;
    }

    /// What was stored at once and not yet settled is indexed before the writer stops.
    #[tokio::test]
    async fn what_waits_to_be_settled_is_indexed_before_the_writer_stops() {
        let (dir, history, room, mut members) = quiet_room();
        // As if a request to settle were already on its way, and lost with the runtime.
        history.inner.handoff.settling.store(true, Ordering::Release);
        history.say(say(&room, "last words")).unwrap();
        members.try_recv().expect("not sent at once");
        history.close().await;
        let conn = rusqlite::Connection::open(dir.path().join("history.db")).unwrap();
        let indexed: i64 = conn
            .query_row("SELECT indexed_through FROM rooms WHERE name = 'lobby'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(indexed, 1, "left unindexed at the stop");
    }

    /// What is stored at once is found by search: the search has the writer thread index what
    /// waits first.
    #[tokio::test]
    async fn what_is_stored_at_once_is_found_by_search() {
        let (_dir, history, room, mut members) = quiet_room();
        history.say(say(&room, "findable words")).unwrap();
        members.try_recv().expect("not sent at once");
        let words = protocol::Label::parse("findable").unwrap();
        let found = history.search(RoomName::lobby(), words, None, 10).await.unwrap();
        assert_eq!(found.messages.len(), 1);
        history.close().await;
    }
}
