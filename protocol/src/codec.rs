//! The line codec: one `\n`-terminated line per frame, with a maximum length.
//!
//! [`LineCodec`] splits bytes into lines and never holds more than its maximum: an over-long
//! line is reported once as [`Line::TooLong`] and the rest of it is dropped as it arrives.
//! [`JsonLinesCodec`] adds JSON on top: each frame is a decoded message or the
//! [`RequestError`] that says why not. Both report bad input as values, not as stream errors,
//! because a `FramedRead` ends at its first error and a bad line must not end a session.

use std::io;
use std::marker::PhantomData;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use tokio_util::codec::{Decoder, Encoder};

use crate::decode::{Decode, RequestError};

/// One frame from [`LineCodec`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line without its `\n` (and without a `\r` before it).
    Complete(BytesMut),
    /// A line passed the maximum length; what came of it was discarded, and the rest of it will be
    /// discarded up to its `\n`.
    TooLong { max: usize },
}

impl Line {
    /// Blank lines (a keep-alive from `nc`, a stray `\r\n`) are not requests.
    pub fn is_blank(&self) -> bool {
        matches!(self, Line::Complete(b) if b.iter().all(u8::is_ascii_whitespace))
    }
}

#[derive(Debug, Clone)]
pub struct LineCodec {
    max: usize,
    /// Where to resume the search for `\n`, so a line arriving byte by byte is scanned once.
    scanned: usize,
    /// Inside an over-long line: drop bytes up to the next `\n`.
    discarding: bool,
}

impl LineCodec {
    pub fn new(max: usize) -> Self {
        Self { max, scanned: 0, discarding: false }
    }

    /// Ends an unterminated line: takes whatever is buffered as a complete line. For peers that
    /// send a line without `\n` and wait for an answer (the plain-text port uses it after a pause).
    pub fn take_partial(&mut self, buf: &mut BytesMut) -> Option<Line> {
        self.scanned = 0;
        if self.discarding || buf.is_empty() {
            buf.clear();
            return None;
        }
        Some(complete(buf.split()))
    }
}

fn complete(mut line: BytesMut) -> Line {
    if line.last() == Some(&b'\r') {
        line.truncate(line.len() - 1);
    }
    Line::Complete(line)
}

impl Decoder for LineCodec {
    type Item = Line;
    type Error = io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> io::Result<Option<Line>> {
        loop {
            let newline = buf[self.scanned..].iter().position(|&b| b == b'\n');
            match (newline, self.discarding) {
                (Some(i), false) => {
                    let end = self.scanned + i;
                    self.scanned = 0;
                    let mut line = buf.split_to(end + 1);
                    if end > self.max {
                        return Ok(Some(Line::TooLong { max: self.max }));
                    }
                    line.truncate(end);
                    return Ok(Some(complete(line)));
                }
                (Some(i), true) => {
                    // The over-long line ends here; it was already reported.
                    let _ = buf.split_to(self.scanned + i + 1);
                    self.scanned = 0;
                    self.discarding = false;
                }
                (None, false) if buf.len() > self.max => {
                    buf.clear();
                    self.scanned = 0;
                    self.discarding = true;
                    return Ok(Some(Line::TooLong { max: self.max }));
                }
                (None, false) => {
                    self.scanned = buf.len();
                    return Ok(None);
                }
                (None, true) => {
                    buf.clear();
                    self.scanned = 0;
                    return Ok(None);
                }
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> io::Result<Option<Line>> {
        match self.decode(buf)? {
            Some(line) => Ok(Some(line)),
            None => Ok(self.take_partial(buf)),
        }
    }
}

/// Encodes `msg` as one wire line, `\n` included. Call once per message and share the bytes.
pub fn encode_line<T: Serialize>(msg: &T) -> Bytes {
    let mut buf = BytesMut::with_capacity(128);
    write_line(msg, &mut buf);
    buf.freeze()
}

/// Appends `msg` as one wire line to `buf`.
pub fn write_line<T: Serialize>(msg: &T, buf: &mut BytesMut) {
    let mut writer = buf.writer();
    // Serialising our own message types into memory cannot fail: every map key is a string
    // and no Serialize impl of ours returns an error.
    if serde_json::to_writer(&mut writer, msg).is_ok() {
        writer.into_inner().put_u8(b'\n');
    }
}

/// JSON lines: decodes `In` (one per line, each a message or the error that explains it) and
/// encodes `Out`.
#[derive(Debug)]
pub struct JsonLinesCodec<In, Out> {
    lines: LineCodec,
    _types: PhantomData<fn(Out) -> In>,
}

impl<In, Out> JsonLinesCodec<In, Out> {
    pub fn new(max_line: usize) -> Self {
        Self { lines: LineCodec::new(max_line), _types: PhantomData }
    }

    fn frame(&self, line: Option<Line>) -> Option<Result<In, RequestError>>
    where
        In: Decode,
    {
        Some(match line? {
            Line::Complete(bytes) => In::decode(&bytes),
            Line::TooLong { max } => Err(RequestError::line_too_long(max)),
        })
    }
}

impl<In: Decode, Out> Decoder for JsonLinesCodec<In, Out> {
    type Item = Result<In, RequestError>;
    type Error = io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> io::Result<Option<Self::Item>> {
        loop {
            let line = self.lines.decode(buf)?;
            if line.as_ref().is_some_and(Line::is_blank) {
                continue;
            }
            return Ok(self.frame(line));
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> io::Result<Option<Self::Item>> {
        // Skips blank lines as `decode` does: `None` here ends the stream, and complete lines
        // may still follow a blank one when the caller did not drain `buf` with `decode` first.
        loop {
            let line = self.lines.decode_eof(buf)?;
            if line.as_ref().is_some_and(Line::is_blank) {
                continue;
            }
            return Ok(self.frame(line));
        }
    }
}

impl<In, Out: Serialize> Encoder<&Out> for JsonLinesCodec<In, Out> {
    type Error = io::Error;

    fn encode(&mut self, msg: &Out, buf: &mut BytesMut) -> io::Result<()> {
        write_line(msg, buf);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(codec: &mut LineCodec, buf: &mut BytesMut, bytes: &[u8]) -> Vec<Line> {
        buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(line) = codec.decode(buf).unwrap() {
            out.push(line);
        }
        out
    }

    fn complete(s: &str) -> Line {
        Line::Complete(BytesMut::from(s))
    }

    #[test]
    fn splits_lines_and_strips_cr() {
        let mut codec = LineCodec::new(16);
        let mut buf = BytesMut::new();
        let lines = feed(&mut codec, &mut buf, b"one\r\ntwo\nthr");
        assert_eq!(lines, vec![complete("one"), complete("two")]);
        assert_eq!(feed(&mut codec, &mut buf, b"ee\n"), vec![complete("three")]);
    }

    #[test]
    fn a_line_sent_byte_by_byte_is_reassembled() {
        let mut codec = LineCodec::new(64);
        let mut buf = BytesMut::new();
        let text = "héllo 小明\n".as_bytes();
        let mut got = Vec::new();
        for b in text {
            got.extend(feed(&mut codec, &mut buf, &[*b]));
        }
        assert_eq!(got, vec![complete("héllo 小明")]);
    }

    #[test]
    fn an_over_long_line_is_reported_once_and_never_buffered_whole() {
        let mut codec = LineCodec::new(8);
        let mut buf = BytesMut::new();
        assert_eq!(feed(&mut codec, &mut buf, b"0123456789"), vec![Line::TooLong { max: 8 }]);
        assert!(buf.is_empty(), "the over-long prefix is dropped at once");
        for _ in 0..1000 {
            assert!(feed(&mut codec, &mut buf, b"more bytes of the same line").is_empty());
            assert!(buf.len() <= 8);
        }
        assert_eq!(feed(&mut codec, &mut buf, b"end\nok\n"), vec![complete("ok")]);
    }

    #[test]
    fn an_over_long_line_arriving_whole_is_reported() {
        let mut codec = LineCodec::new(4);
        let mut buf = BytesMut::new();
        assert_eq!(
            feed(&mut codec, &mut buf, b"12345\n1234\n"),
            vec![Line::TooLong { max: 4 }, complete("1234")]
        );
    }

    #[test]
    fn the_end_of_the_stream_skips_blank_lines_and_reads_on() {
        let mut codec = crate::ServerCodec::new(64);
        let mut buf = BytesMut::from("\n \r\n{\"type\":\"rooms\"}\n\n{\"type\":\"quit\"}");
        let mut got = Vec::new();
        while let Some(frame) = codec.decode_eof(&mut buf).unwrap() {
            got.push(frame.unwrap().type_name());
        }
        assert_eq!(got, ["rooms", "quit"]);
        assert!(buf.is_empty());
    }

    #[test]
    fn take_partial_ends_an_unterminated_line() {
        let mut codec = LineCodec::new(16);
        let mut buf = BytesMut::new();
        assert!(feed(&mut codec, &mut buf, b"Michael").is_empty());
        assert_eq!(codec.take_partial(&mut buf), Some(complete("Michael")));
        assert_eq!(feed(&mut codec, &mut buf, b"hi\n"), vec![complete("hi")]);
    }
}
