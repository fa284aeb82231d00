//! The server's hot path, one step at a time: a room message encoded once for its fan-out, a
//! client's `say` line decoded, and the line codec splitting what a socket read hands it.
//!
//! `cargo bench -p chat-protocol --bench codec`; each benchmark runs about four seconds.

use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use protocol::{
    ClientMsg, Decode, Line, LineCodec, MessageKind, Nick, RoomName, ServerCodec, ServerMsg, Text,
    encode_line,
    limits::{MAX_LINE_BYTES, MAX_SERVER_LINE_BYTES},
};
use tokio_util::codec::Decoder;
use uuid::Uuid;

/// A typical chat line: 64 bytes of plain text.
const TEXT: &str = "The quick brown fox jumps over the lazy dog, then naps. 12345678";

/// What one large socket read hands the codec.
const BUFFER_BYTES: usize = 64 * 1024;

fn room_message() -> ServerMsg {
    ServerMsg::Message {
        account: false,
        id: Uuid::now_v7(),
        room: RoomName::lobby(),
        seq: 1_234_567,
        from: Nick::parse("Michael").expect("a valid nick"),
        kind: MessageKind::Say,
        text: Text::parse(TEXT).expect("a valid text"),
        ts: 1_767_225_600_000,
    }
}

fn say_line() -> String {
    format!(r#"{{"type":"say","room":"lobby","text":"{TEXT}"}}"#)
}

/// As many copies of `line`, each followed by `\n`, as fit in [`BUFFER_BYTES`], and how many.
fn buffer_of(line: &str) -> (BytesMut, u64) {
    let count = BUFFER_BYTES / (line.len() + 1);
    let mut buf = BytesMut::with_capacity(BUFFER_BYTES);
    for _ in 0..count {
        buf.extend_from_slice(line.as_bytes());
        buf.extend_from_slice(b"\n");
    }
    (buf, count as u64)
}

fn encode(c: &mut Criterion) {
    assert_eq!(TEXT.len(), 64);
    let msg = room_message();
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Bytes(encode_line(&msg).len() as u64));
    group.bench_function("room message, 64-byte text", |b| b.iter(|| encode_line(black_box(&msg))));
    group.finish();
}

fn decode(c: &mut Criterion) {
    let line = say_line();
    assert!(ClientMsg::decode(line.as_bytes()).is_ok(), "the say line decodes");
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(line.len() as u64));
    group.bench_function("say line, 64-byte text", |b| {
        b.iter(|| ClientMsg::decode(black_box(line.as_bytes())))
    });
    group.finish();
}

/// `LineCodec` over 64 KiB of `say` lines (103 bytes each), each split off and dropped.
fn split_lines(c: &mut Criterion) {
    let line = say_line();
    let (buf, count) = buffer_of(&line);
    let mut group = c.benchmark_group("line codec");
    group.throughput(Throughput::Bytes(buf.len() as u64));
    group.bench_function(format!("64 KiB, {count} lines of {} bytes", line.len()), |b| {
        b.iter_batched_ref(
            || buf.clone(),
            |buf| {
                let mut codec = LineCodec::new(MAX_SERVER_LINE_BYTES);
                let mut n = 0_u64;
                while let Ok(Some(line)) = codec.decode(buf) {
                    n += u64::from(matches!(line, Line::Complete(_)));
                }
                assert_eq!(n, count);
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// The whole read path of a session: lines split and decoded into client messages.
fn decode_stream(c: &mut Criterion) {
    let (buf, count) = buffer_of(&say_line());
    let mut group = c.benchmark_group("server codec");
    group.throughput(Throughput::Elements(count));
    group.bench_function(format!("64 KiB, {count} say lines"), |b| {
        b.iter_batched_ref(
            || buf.clone(),
            |buf| {
                let mut codec = ServerCodec::new(MAX_LINE_BYTES);
                let mut n = 0_u64;
                while let Ok(Some(msg)) = codec.decode(buf) {
                    n += u64::from(msg.is_ok());
                }
                assert_eq!(n, count);
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = encode, decode, split_lines, decode_stream
}
criterion_main!(benches);
