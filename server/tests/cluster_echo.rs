//! A message's echo on a node of several (`--redis`): it comes back through the node's
//! subscription, after Redis has confirmed the message to the node, and the message counts as
//! on its way (in its sender's messages in flight, in its room's backlog) until then.

#![allow(clippy::unwrap_used)] // a panic is a test failure

mod common;

use std::time::{Duration, Instant};

use chat_server::limits::SETTLE_TIMEOUT;
use common::redis::{Node, RedisServer, member, say};
use common::relay::Relay;
use protocol::ServerMsg;
use tokio::io::AsyncWriteExt;

/// How late the subscription brings back what is published.
const LAG: Duration = Duration::from_millis(500);

/// A client that closes its side right after its last message still gets that message's echo
/// before the server closes, however late the subscription brings it back: its session waits
/// for the echo, not for Redis's confirmation.
#[tokio::test]
async fn a_sender_closing_at_once_gets_its_echo_through_a_slow_subscription() {
    let redis = RedisServer::start();
    let relay = Relay::to(&redis);
    let a = Node::start_via(&redis, &relay.url(), "a", &[]).await;
    let mut michael = member(&a, "Michael").await;

    relay.lag_subscriptions(LAG);
    let sent = Instant::now();
    michael.send(say("lobby", "last words")).await;
    michael.frames.get_mut().shutdown().await.unwrap();
    let got = michael.recv_until_closed().await;
    assert!(
        got.iter()
            .any(|m| matches!(m, ServerMsg::Message { text, .. } if text.as_str() == "last words")),
        "no echo before the end: {got:?}"
    );
    // Ended by the echo, not by the session's deadline for what it waits for.
    assert!(sent.elapsed() < SETTLE_TIMEOUT - LAG, "ended {:?} after the message", sent.elapsed());
}
