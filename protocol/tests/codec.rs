//! The JSON-lines codec over a real byte stream: bad lines become error values and the stream
//! goes on, which a plain `FramedRead` error would not allow.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use futures::StreamExt;
use protocol::{ClientMsg, ErrorCode, RoomName, ServerCodec, limits::MAX_LINE_BYTES};
use tokio_util::codec::FramedRead;

#[tokio::test]
async fn bad_lines_are_errors_and_the_stream_goes_on() {
    let long = format!(
        "{{\"type\":\"say\",\"room\":\"a\",\"text\":\"{}\"}}\n",
        "x".repeat(MAX_LINE_BYTES)
    );
    let mut input = Vec::new();
    input.extend_from_slice(b"{\"type\":\"join\",\"room\":\"rust\"}\n");
    input.extend_from_slice(b"not json\n");
    input.extend_from_slice(b"\n\r\n");
    input.extend_from_slice(long.as_bytes());
    input.extend_from_slice(b"\xc3\x28\n");
    input.extend_from_slice(b"{\"type\":\"rooms\"}");
    let mut frames = FramedRead::new(&input[..], ServerCodec::new(MAX_LINE_BYTES));

    let join = frames.next().await.unwrap().unwrap().unwrap();
    assert_eq!(join, ClientMsg::Join { room: RoomName::parse("rust").unwrap(), key: None });
    let mut errors = Vec::new();
    for _ in 0..3 {
        errors.push(frames.next().await.unwrap().unwrap().unwrap_err().code);
    }
    assert_eq!(errors, [ErrorCode::InvalidJson, ErrorCode::LineTooLong, ErrorCode::InvalidUtf8]);
    // The last line has no newline: the end of the stream completes it.
    assert_eq!(frames.next().await.unwrap().unwrap().unwrap(), ClientMsg::Rooms);
    assert!(frames.next().await.is_none());
}
