//! The session's own unit tests: what one connection costs.

use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::broker::HistoryConfig;
use crate::dialect::Json;

/// Most of what an idle connection costs is its session's future, all its life: the rarely
/// taken paths (a slow write, the goodbye, throttling) are boxed, and nothing is in it twice
/// (an `async fn` keeps its arguments beside the future they were moved into, so `run` and
/// `serve` are not). Tasks are 128-byte aligned, so a few bytes more can cost 128 per
/// connection: this bound (for a debug build) keeps growth a decision.
const MOST_SESSION_BYTES: usize = 1008;

#[tokio::test]
async fn a_session_future_stays_small() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (stream, peer) = listener.accept().await.unwrap();
    let broker =
        Broker::local(HistoryConfig { location: None, ..HistoryConfig::default() }).unwrap();
    let session = run(
        Transport::Tcp(stream),
        peer,
        Json,
        Arc::new(Hub::new(10, 10)),
        Arc::new(ServerInfo::default()),
        broker,
    );
    let size = size_of_val(&session);
    println!("a session's future: {size} bytes");
    assert!(size <= MOST_SESSION_BYTES, "a session's future is {size} bytes");
    drop(client);
}
