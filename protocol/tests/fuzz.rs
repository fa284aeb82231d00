//! Fuzzing the JSON-lines decoder with proptest: bytes of any kind, cut into chunks of any size,
//! must give every line exactly one outcome, the same outcomes as when the bytes arrive in one
//! read, and never make the codec hold more than one line.
//!
//! The default case counts keep this file to a few seconds in debug mode. A long run:
//! `PROPTEST_CASES=1000000 cargo test --release -p chat-protocol --test fuzz`. Failures are kept
//! in `fuzz.proptest-regressions` and replayed first on every run; inputs worth keeping as bytes
//! go to `corpus/`, which [`the_corpus_decodes_the_same_in_every_chunking`] replays.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::fmt::Debug;
use std::fs;
use std::path::Path;

use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::FileFailurePersistence;
use protocol::limits::{MAX_LINE_BYTES, MAX_SERVER_LINE_BYTES, MAX_TEXT_BYTES};
use protocol::{
    ClientMsg, Decode, ErrorCode, Label, Line, LineCodec, Nick, RequestError, RoomName,
    ServerCodec, ServerMsg, Text, encode_line,
};
use tokio_util::codec::Decoder;

/// Cases per property: `PROPTEST_CASES` when set, else `default`. Read here because a `cases`
/// written in the config would override the variable.
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok());
    ProptestConfig {
        cases: cases.unwrap_or(default),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

// ---- Feeding a codec ----

/// Cuts `bytes` into chunks of the given sizes, taken in turn.
fn by_sizes<'a>(bytes: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    assert!(!sizes.is_empty());
    let mut chunks = Vec::new();
    let mut rest = bytes;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at((*size).clamp(1, rest.len()));
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

/// Cuts `bytes` at the given points, which may fall inside a UTF-8 character.
fn at_cuts<'a>(bytes: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
    points.extend([0, bytes.len()]);
    points.sort_unstable();
    points.dedup();
    points.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

/// Feeds `chunks` to `codec` as `FramedRead` does: after each chunk, decodes until the codec
/// needs more; at the end of the stream, `decode_eof` until it has nothing left. A chunk may
/// make the buffer longer than `max`, but once the codec has had its turn it holds at most
/// `max` bytes: never more than a line plus one read.
fn feed<D: Decoder>(codec: &mut D, chunks: &[&[u8]], max: usize) -> Vec<D::Item>
where
    D::Error: Debug,
{
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            out.push(item);
        }
        assert!(buf.len() <= max, "{} bytes buffered; the line limit is {max}", buf.len());
    }
    while let Some(item) = codec.decode_eof(&mut buf).unwrap() {
        out.push(item);
    }
    assert!(buf.is_empty(), "{} bytes left after the end of the stream", buf.len());
    out
}

/// The stream ended with all of `bytes` still buffered: only `decode_eof` is called.
fn feed_at_eof<D: Decoder>(codec: &mut D, bytes: &[u8]) -> Vec<D::Item>
where
    D::Error: Debug,
{
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(item) = codec.decode_eof(&mut buf).unwrap() {
        out.push(item);
    }
    out
}

// ---- The model: what the codecs must do, written the obvious way ----

/// Split at `\n`; one outcome per line, blank ones too; an unterminated last line counts at the
/// end of the stream; a line longer than `max` (a `\r` before the `\n` included) is too long.
fn expected_lines(bytes: &[u8], max: usize) -> Vec<Line> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let outcome = |line: &[u8]| match line {
        line if line.len() > max => Line::TooLong { max },
        line => Line::Complete(line.strip_suffix(b"\r").unwrap_or(line).into()),
    };
    lines.into_iter().map(outcome).collect()
}

/// The JSON-lines codec: the message or error of every non-blank line.
fn expected_msgs(bytes: &[u8], max: usize) -> Vec<Result<ClientMsg, RequestError>> {
    let outcome = |line| match line {
        Line::Complete(bytes) => ClientMsg::decode(&bytes),
        Line::TooLong { max } => Err(RequestError::line_too_long(max)),
    };
    expected_lines(bytes, max).into_iter().filter(|l| !l.is_blank()).map(outcome).collect()
}

/// Longest error message for any line: an error explains, it does not echo the line back.
const MAX_ERROR_MESSAGE: usize = 300;

/// What holds for one line, whatever it says: not UTF-8 is `invalid_utf8`; what decodes
/// encodes back to the same message; an error names a real request type, is short and carries
/// no control character from the input; a server message decodes without panicking.
fn check_line(line: &[u8]) {
    let decoded = ClientMsg::decode(line);
    if std::str::from_utf8(line).is_err() {
        assert_eq!(decoded.as_ref().map_err(|e| e.code), Err(ErrorCode::InvalidUtf8));
    }
    match decoded {
        Ok(msg) => {
            let again = encode_line(&msg);
            assert_eq!(ClientMsg::decode(&again[..again.len() - 1]), Ok(msg));
        }
        Err(e) => {
            assert!(e.request.iter().all(|t| ClientMsg::TYPES.contains(&t.as_str())), "{e:?}");
            assert!(!e.message.chars().any(char::is_control), "{e:?}");
            assert!(e.message.len() <= MAX_ERROR_MESSAGE, "{} bytes: {e:?}", e.message.len());
        }
    }
    let _ = ServerMsg::decode(line);
}

// ---- Strategies ----

/// Pieces of JSON, so that random input gets past the parser's first byte.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    " ",
    "\t",
    "null",
    "true",
    "-",
    "0",
    "1e999",
    "-0",
    "18446744073709551616",
    "\"type\":",
    "\"say\"",
    "\"join\"",
    "\"hello\"",
    "\"room\":\"lobby\"",
    "\"text\":\"hi\"",
    "\"nick\":\"Tracy\"",
    "\"token\":",
    "\\u00",
    "\\ud800",
    "\\udc00",
    "\\u001b",
    "\u{feff}",
    "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"",
    "{\"type\":\"join\",\"room\":\"",
    "{\"type\":\"ping\",\"token\":",
    "{\"type\":\"ping\",\"token\":\"",
    "\"}",
];

/// Byte sequences that are never UTF-8 when they start at a character boundary: stray
/// continuation bytes, overlong forms, a surrogate, past U+10FFFF, bytes UTF-8 never uses, and
/// characters cut short.
const NOT_UTF8: &[&[u8]] = &[
    b"\x80",
    b"\xbf",
    b"\xc0\x80",
    b"\xc1\xbf",
    b"\xe0\x80\x80",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xf5\x80\x80\x80",
    b"\xfe",
    b"\xff",
    b"\xc3",
    b"\xe4\xb8",
    b"\xf0\x9f\x98",
];

/// Characters that have broken terminals, parsers or validators somewhere.
const NASTY: &[char] = &[
    '\0',
    '\u{7}',
    '\u{8}',
    '\t',
    '\n',
    '\r',
    '\u{1b}',
    '\u{7f}',
    '\u{85}',
    '\u{9b}',
    '"',
    '\\',
    '/',
    '\u{301}',
    '\u{34f}',
    '\u{200b}',
    '\u{200d}',
    '\u{200e}',
    '\u{202e}',
    '\u{2028}',
    '\u{2066}',
    '\u{fe0f}',
    '\u{feff}',
    '\u{fffd}',
    '\u{e0041}',
    'é',
    '小',
    '😀',
    'İ',
];

fn text_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::char::range(' ', '~'),
        2 => any::<char>(),
        2 => select(NASTY),
    ]
}

/// `chars` repeated, up to `bytes` bytes of UTF-8.
fn fill(chars: &[char], bytes: usize) -> String {
    let mut s = String::new();
    for c in chars.iter().cycle() {
        if chars.is_empty() || s.len() + c.len_utf8() > bytes {
            break;
        }
        s.push(*c);
    }
    s
}

/// Chat text: mostly short and hostile; sometimes up to the limit, sometimes of control
/// characters only (JSON escapes each to six bytes).
fn text() -> impl Strategy<Value = Text> {
    prop_oneof![
        8 => vec(text_char(), 1..48).prop_map(String::from_iter),
        1 => (vec(text_char(), 1..8), 1..=MAX_TEXT_BYTES).prop_map(|(c, n)| fill(&c, n)),
        1 => (select(NASTY), 1..=MAX_TEXT_BYTES).prop_map(|(c, n)| fill(&[c, 'x'], n)),
    ]
    .prop_filter_map("valid text", |s| Text::parse(&s).ok())
}

/// A label, sometimes cut at the limit inside a character.
fn label() -> impl Strategy<Value = Label> {
    prop_oneof![vec(text_char(), 0..20), vec(text_char(), 150..300)]
        .prop_map(|c| Label::truncate(&String::from_iter(c)))
}

/// Letters and digits of one to four bytes of UTF-8.
fn name_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::char::range('a', 'z'),
        prop::char::range('A', 'Z'),
        prop::char::range('0', '9'),
        prop::char::range('À', 'ÿ'),
        prop::char::range('α', 'ω'),
        prop::char::range('一', '鿿'),
        prop::char::range('\u{20000}', '\u{2a6df}'),
    ]
}

fn nick() -> impl Strategy<Value = Nick> {
    let punctuation = select(&['_', '-', '[', ']', '{', '}', '|', '^', '`', '\\'][..]);
    vec(prop_oneof![4 => name_char(), 1 => punctuation], 1..=32)
        .prop_filter_map("valid nick", |c| Nick::parse(&String::from_iter(c)).ok())
}

fn room() -> impl Strategy<Value = RoomName> {
    let chars = vec(prop_oneof![4 => name_char(), 1 => select(&['_', '-', '.'][..])], 1..=32);
    (any::<bool>(), chars).prop_filter_map("valid room", |(hash, c)| {
        let name = String::from_iter(c);
        RoomName::parse(&if hash { format!("#{name}") } else { name }).ok()
    })
}

/// Any password the wire takes: 1 to the maximum of bytes, any characters.
fn password() -> impl Strategy<Value = protocol::Password> {
    vec(text_char(), 1..64).prop_filter_map("valid password", |c| {
        protocol::Password::parse(&String::from_iter(c)).ok()
    })
}

fn client_msg() -> impl Strategy<Value = ClientMsg> {
    use ClientMsg::*;
    prop_oneof![
        (
            nick(),
            any::<u32>(),
            label(),
            proptest::option::of(any::<u128>()),
            proptest::option::of(password())
        )
            .prop_map(|(nick, protocol, client, resume, password)| Hello {
                nick,
                protocol,
                client,
                resume: resume.map(|r| uuid::Uuid::from_u128(r).into()),
                password,
            }),
        password().prop_map(|password| Register { password }),
        (password(), password()).prop_map(|(old, new)| Passwd { old, new }),
        password().prop_map(|password| Unregister { password }),
        room().prop_map(|room| Join { room, key: None }),
        room().prop_map(|room| Leave { room }),
        (room(), text()).prop_map(|(room, text)| Say { room, text }),
        (room(), text()).prop_map(|(room, text)| Action { room, text }),
        (nick(), text()).prop_map(|(to, text)| Msg { to, text }),
        nick().prop_map(|nick| Nick { nick }),
        Just(Rooms),
        room().prop_map(|room| Who { room, after: None }),
        any::<u64>().prop_map(|token| Ping { token }),
        any::<u64>().prop_map(|token| Pong { token }),
        (room(), any::<Option<u64>>(), any::<u32>()).prop_map(|(room, before, limit)| History {
            room,
            before,
            limit
        }),
        prop::option::of(label()).prop_map(|reason| Quit { reason }),
        moderation(),
    ]
}

/// A key of a room with `+k`.
fn join_key() -> impl Strategy<Value = protocol::JoinKey> {
    vec(text_char(), 1..16)
        .prop_filter_map("valid key", |c| protocol::JoinKey::parse(&String::from_iter(c)).ok())
}

fn mask() -> impl Strategy<Value = protocol::Mask> {
    use protocol::Mask;
    prop_oneof![
        nick().prop_map(Mask::Nick),
        nick().prop_map(Mask::Account),
        (any::<[u8; 4]>(), 0..=32u8).prop_filter_map("a network", |(ip, prefix)| {
            let ip = std::net::Ipv4Addr::from(ip);
            let masked = u32::from(ip) & u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            format!("{}/{prefix}", std::net::Ipv4Addr::from(masked)).parse().ok().map(Mask::Addr)
        }),
    ]
}

/// The requests of operators and admins.
fn moderation() -> impl Strategy<Value = ClientMsg> {
    use ClientMsg::*;
    use protocol::ModeChange;
    let change = prop_oneof![
        any::<bool>().prop_map(ModeChange::InviteOnly),
        any::<bool>().prop_map(ModeChange::Moderated),
        any::<bool>().prop_map(ModeChange::Secret),
        prop::option::of(join_key()).prop_map(ModeChange::Key),
    ];
    let role = select(
        &[
            protocol::Role::Member,
            protocol::Role::Voiced,
            protocol::Role::Operator,
            protocol::Role::Owner,
        ][..],
    );
    let duration = prop::option::of(any::<u64>());
    prop_oneof![
        (room(), prop::option::of(join_key())).prop_map(|(room, key)| Join { room, key }),
        (room(), prop::option::of(label())).prop_map(|(room, text)| Topic { room, text }),
        (room(), vec(change, 0..4)).prop_map(|(room, changes)| Mode { room, changes }),
        (room(), nick(), prop::option::of(label())).prop_map(|(room, nick, reason)| Kick {
            room,
            nick,
            reason
        }),
        (room(), mask(), duration.clone(), prop::option::of(label()))
            .prop_map(|(room, mask, duration, reason)| Ban { room, mask, duration, reason }),
        (room(), mask()).prop_map(|(room, mask)| Unban { room, mask }),
        room().prop_map(|room| Bans { room }),
        (room(), nick(), duration.clone()).prop_map(|(room, nick, duration)| Mute {
            room,
            nick,
            duration
        }),
        (room(), nick()).prop_map(|(room, nick)| Unmute { room, nick }),
        (room(), nick(), role).prop_map(|(room, nick, role)| Role { room, nick, role }),
        (room(), nick()).prop_map(|(room, nick)| Invite { room, nick }),
        room().prop_map(|room| Claim { room }),
        (nick(), prop::option::of(label())).prop_map(|(nick, reason)| Kill { nick, reason }),
        (mask(), duration, prop::option::of(label())).prop_map(|(mask, duration, reason)| Gban {
            mask,
            duration,
            reason
        }),
        mask().prop_map(|mask| Ungban { mask }),
        Just(Gbans),
    ]
}

/// Anything a peer could send: random bytes, line ends, whole messages, JSON fragments, long
/// runs of one byte, UTF-8 of every width, and bytes that are not UTF-8.
fn soup() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => vec(any::<u8>(), 0..32),
        3 => Just(b"\n".to_vec()),
        1 => Just(b"\r\n".to_vec()),
        1 => Just(b"\r".to_vec()),
        2 => client_msg().prop_map(|m| encode_line(&m).to_vec()),
        3 => select(TOKENS).prop_map(|t| t.as_bytes().to_vec()),
        1 => (any::<u8>(), 0..600usize).prop_map(|(b, n)| vec![b; n]),
        1 => select(NOT_UTF8).prop_map(<[u8]>::to_vec),
        2 => vec(text_char(), 0..16).prop_map(|c| String::from_iter(c).into_bytes()),
    ];
    vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

/// Read sizes: byte by byte, small, and larger than a line.
fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    vec(prop_oneof![1..4usize, 1..64usize, 1..20_000usize], 1..8)
}

/// Line limits small enough for random lines to pass them, and the real one.
fn line_max() -> impl Strategy<Value = usize> {
    prop_oneof![0..16usize, 16..300usize, Just(MAX_LINE_BYTES)]
}

/// What ends a line: `\n`, CR LF, or either with blank lines after it.
fn line_end() -> impl Strategy<Value = &'static [u8]> {
    const ENDS: &[&[u8]] = &[b"\n", b"\r\n", b"\n\n", b"\r\n \t\r\n", b"\n\x0c\n"];
    select(ENDS)
}

/// Decodes `chunks` with the server's codec and a line limit of `max`.
fn json(chunks: &[&[u8]], max: usize) -> Vec<Result<ClientMsg, RequestError>> {
    feed(&mut ServerCodec::new(max), chunks, max)
}

/// The lines of `msgs`, each ended by its `end` (the last one maybe by nothing), and what
/// decoding them must give: each message, or `line_too_long` for one whose line is too long.
fn encode_all(
    msgs: &[(ClientMsg, &[u8])],
    last_newline: bool,
) -> (Vec<u8>, Vec<Result<ClientMsg, RequestError>>) {
    let mut bytes = Vec::new();
    let mut want = Vec::new();
    for (i, (msg, end)) in msgs.iter().enumerate() {
        let line = encode_line(msg);
        let body = &line[..line.len() - 1];
        let end = if i + 1 < msgs.len() || last_newline { *end } else { b"" };
        bytes.extend_from_slice(body);
        bytes.extend_from_slice(end);
        // The limit counts a `\r` before the `\n`.
        want.push(if body.len() + usize::from(end.starts_with(b"\r")) > MAX_LINE_BYTES {
            Err(RequestError::line_too_long(MAX_LINE_BYTES))
        } else {
            Ok(msg.clone())
        });
    }
    (bytes, want)
}

/// `line` with `bad` put in at the character boundary `at`, and a newline.
fn spoil(line: &[u8], bad: &[u8], at: Index) -> Vec<u8> {
    let body = std::str::from_utf8(&line[..line.len() - 1]).unwrap();
    let mut boundaries: Vec<usize> = body.char_indices().map(|(i, _)| i).collect();
    boundaries.push(body.len());
    let cut = boundaries[at.index(boundaries.len())];
    [&body.as_bytes()[..cut], bad, &body.as_bytes()[cut..], b"\n"].concat()
}

/// A line of `len` bytes cycled from `pattern`, without a `\n`.
fn long_line(pattern: &[u8], len: usize) -> Vec<u8> {
    pattern.iter().cycle().take(len).map(|&b| if b == b'\n' { b'x' } else { b }).collect()
}

/// What opens one level of nesting; what closes it is the mirror image.
const OPENERS: &[&str] = &["[", "{\"a\":", "[{\"b\":"];

/// Where nested JSON goes: a line of its own, or a field of a request.
const NESTING_PLACES: &[&str] = &[
    "",
    "{\"type\":\"say\",\"room\":\"a\",\"text\":\"x\",\"extra\":",
    "{\"type\":\"say\",\"room\":\"a\",\"text\":",
    "{\"type\":\"ping\",\"token\":",
];

/// `depth` levels of `open` around a `1`, balanced, at `place`.
fn nested(open: &str, depth: usize, place: &str) -> String {
    let mirror = |c| match c {
        '[' => Some(']'),
        '{' => Some('}'),
        _ => None,
    };
    let close: String = open.chars().rev().filter_map(mirror).collect();
    let end = if place.is_empty() { "" } else { "}" };
    format!("{place}{}1{}{end}\n", open.repeat(depth), close.repeat(depth))
}

/// Requests up to a number field that must hold a `u32` or `u64`.
const NUMBER_FIELDS: &[&str] = &[
    "{\"type\":\"ping\",\"token\":",
    "{\"type\":\"hello\",\"nick\":\"a\",\"protocol\":",
    "{\"type\":\"history\",\"room\":\"a\",\"limit\":",
    "{\"type\":\"history\",\"room\":\"a\",\"before\":",
];

/// A number of `digits` nines: as an integer, negative, as an exponent, a fraction, or a long
/// float that is an integer after all.
fn huge_number(form: usize, digits: usize) -> String {
    let nines = "9".repeat(digits);
    match form {
        0 => nines,
        1 => format!("-{nines}"),
        2 => format!("1e{nines}"),
        3 => format!("0.{nines}"),
        _ => format!("{nines}.5e-{}", digits - 1),
    }
}

/// Requests around a string field with a size rule, and the code that refuses it when huge.
const STRING_FIELDS: &[(&str, &str, ErrorCode)] = &[
    ("{\"type\":\"say\",\"room\":\"a\",\"text\":\"", "\"}", ErrorCode::TextTooLong),
    ("{\"type\":\"hello\",\"nick\":\"", "\",\"protocol\":1}", ErrorCode::InvalidNick),
    ("{\"type\":\"join\",\"room\":\"", "\"}", ErrorCode::InvalidRoom),
    ("{\"type\":\"msg\",\"text\":\"hi\",\"to\":\"", "\"}", ErrorCode::InvalidNick),
    ("{\"type\":\"quit\",\"reason\":\"", "\"}", ErrorCode::InvalidField),
    (
        "{\"type\":\"hello\",\"nick\":\"a\",\"protocol\":1,\"client\":\"",
        "\"}",
        ErrorCode::InvalidField,
    ),
];

/// One character of a JSON string, written plainly or escaped.
const STRING_UNITS: &[&str] =
    &["x", "é", "\\u00e9", "\\\"", "😀", "\\ud83d\\ude00", "\\u001b", "\\n", "\\\\"];

// ---- Properties ----

proptest! {
    #![proptest_config(config(256))]

    /// Any bytes in any chunks: the line codec never panics, never holds more than a line, gives
    /// each line exactly one outcome (blank lines included), and gives the same outcomes as when
    /// the bytes come in one read, or are all still buffered when the stream ends.
    #[test]
    fn lines_are_framed_the_same_however_the_bytes_arrive(
        bytes in soup(), sizes in chunk_sizes(), max in line_max(),
    ) {
        let want = expected_lines(&bytes, max);
        let chunked = feed(&mut LineCodec::new(max), &by_sizes(&bytes, &sizes), max);
        prop_assert_eq!(&chunked, &want);
        prop_assert_eq!(&feed(&mut LineCodec::new(max), &[&bytes], max), &want);
        prop_assert_eq!(&feed_at_eof(&mut LineCodec::new(max), &bytes), &want);
    }

    /// The same through the JSON-lines codec: one message or error per non-blank line, whatever
    /// the chunking; and each line on its own keeps the rules of `check_line`.
    #[test]
    fn json_lines_decode_the_same_however_the_bytes_arrive(
        bytes in soup(), sizes in chunk_sizes(), max in line_max(),
    ) {
        let want = expected_msgs(&bytes, max);
        prop_assert_eq!(&json(&by_sizes(&bytes, &sizes), max), &want);
        prop_assert_eq!(&json(&[&bytes], max), &want);
        prop_assert_eq!(&feed_at_eof(&mut ServerCodec::new(max), &bytes), &want);
        for line in bytes.split(|&b| b == b'\n') {
            check_line(line.strip_suffix(b"\r").unwrap_or(line));
        }
    }

    /// Valid messages come back unchanged through encoding, any split (inside a UTF-8 character
    /// too) and blank lines or CR LF between them. A message whose line would pass the limit (a
    /// long text of control characters: six bytes of JSON each) is `line_too_long`, and the next
    /// one is still read.
    #[test]
    fn valid_messages_round_trip_through_any_split(
        msgs in vec((client_msg(), line_end()), 1..8),
        last_newline in any::<bool>(),
        cuts in vec(any::<Index>(), 0..24),
    ) {
        let (bytes, want) = encode_all(&msgs, last_newline);
        prop_assert_eq!(json(&at_cuts(&bytes, &cuts), MAX_LINE_BYTES), want);
    }

    /// A line with bytes that are not UTF-8 anywhere in it is `invalid_utf8`, however it is
    /// chunked, and the line after it is read.
    #[test]
    fn a_line_that_is_not_utf8_is_invalid_utf8(
        msg in client_msg(), bad in select(NOT_UTF8), at in any::<Index>(), sizes in chunk_sizes(),
    ) {
        let mut bytes = spoil(&encode_line(&msg), bad, at);
        prop_assume!(bytes.len() <= MAX_LINE_BYTES);
        prop_assert!(std::str::from_utf8(&bytes).is_err());
        bytes.extend_from_slice(b"{\"type\":\"rooms\"}\n");
        let got = json(&by_sizes(&bytes, &sizes), MAX_LINE_BYTES);
        prop_assert_eq!(got.len(), 2);
        prop_assert_eq!(got[0].as_ref().map_err(|e| e.code), Err(ErrorCode::InvalidUtf8));
        prop_assert_eq!(&got[1], &Ok(ClientMsg::Rooms));
    }

    /// A line over the limit is `line_too_long`, reported once however it is chunked and never
    /// buffered whole, and the lines after it are read as usual.
    #[test]
    fn an_over_long_line_is_refused_and_the_next_ones_are_read(
        max in line_max(),
        over in 1usize..3000,
        pattern in vec(any::<u8>(), 1..64),
        cr in any::<bool>(),
        msgs in vec(client_msg(), 1..4),
        sizes in chunk_sizes(),
    ) {
        let next: Vec<u8> = msgs.iter().flat_map(|m| encode_line(m).to_vec()).collect();
        let longest = msgs.iter().map(|m| encode_line(m).len() - 1).max().unwrap_or(0);
        let max = max.max(longest);
        let end: &[u8] = if cr { b"\r\n" } else { b"\n" };
        let bytes = [&long_line(&pattern, max + over)[..], end, &next[..]].concat();
        let mut want = vec![Err(RequestError::line_too_long(max))];
        want.extend(msgs.into_iter().map(Ok));
        prop_assert_eq!(json(&by_sizes(&bytes, &sizes), max), want);
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// JSON nested deeper than the parser goes (up to 100,000 levels), bare or inside a request,
    /// is `invalid_json`, in any chunks, without overflowing the stack. Behind the real limit the
    /// longest of them are `line_too_long` instead: refused either way.
    #[test]
    fn deep_nesting_is_refused(
        depth in prop_oneof![129usize..1000, 1000usize..=100_000],
        open in select(OPENERS),
        place in select(NESTING_PLACES),
        sizes in chunk_sizes(),
    ) {
        let line = nested(open, depth, place);
        let got = json(&by_sizes(line.as_bytes(), &sizes), MAX_SERVER_LINE_BYTES);
        prop_assert_eq!(got.len(), 1);
        prop_assert_eq!(got[0].as_ref().map_err(|e| e.code), Err(ErrorCode::InvalidJson));
        prop_assert!(matches!(&json(&[line.as_bytes()], MAX_LINE_BYTES)[..], [Err(_)]));
    }

    /// Numbers that do not fit a `u32` or `u64` field (very long, huge exponents, fractions,
    /// negative) are refused as `invalid_field`, or as `invalid_json` when not even a float holds
    /// them.
    #[test]
    fn huge_numbers_are_refused(
        digits in prop_oneof![20usize..40, 40usize..20_000],
        form in 0..5usize,
        field in select(NUMBER_FIELDS),
    ) {
        let line = format!("{field}{}}}\n", huge_number(form, digits));
        let got = json(&[line.as_bytes()], MAX_SERVER_LINE_BYTES);
        prop_assert_eq!(got.len(), 1);
        let code = got[0].as_ref().map_err(|e| e.code);
        let refused = matches!(code, Err(ErrorCode::InvalidField | ErrorCode::InvalidJson));
        prop_assert!(refused, "{:?}", code);
    }

    /// Huge strings (written plainly or as escapes) in the fields with a size rule are refused
    /// with that field's code.
    #[test]
    fn huge_strings_are_refused(
        units in 4097usize..60_000,
        unit in select(STRING_UNITS),
        (head, tail, code) in select(STRING_FIELDS),
    ) {
        let line = format!("{head}{}{tail}", unit.repeat(units));
        prop_assert_eq!(ClientMsg::decode(line.as_bytes()).map_err(|e| e.code), Err(code));
    }
}

/// A line with characters of two, three and four bytes decodes the same when cut in two at
/// every byte, including the bytes inside those characters.
#[test]
fn a_line_cut_at_every_byte_decodes() {
    let msg = ClientMsg::Say {
        room: RoomName::parse("#Ünïcödé").unwrap(),
        text: Text::parse("é 小明 😀 e\u{301} \u{1b}[2J \"q\" \\").unwrap(),
    };
    let line = encode_line(&msg);
    for cut in 0..=line.len() {
        let (a, b) = line.split_at(cut);
        let got = feed(&mut ServerCodec::new(MAX_LINE_BYTES), &[a, b], MAX_LINE_BYTES);
        assert_eq!(got, vec![Ok(msg.clone())], "cut at {cut}");
    }
}

// ---- The corpus ----

/// A deterministic generator (splitmix64), so a corpus chunking is the same on every run.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One read, byte by byte, and eight runs of random-looking read sizes seeded by `name`.
fn chunkings<'a>(bytes: &'a [u8], name: &str) -> Vec<Vec<&'a [u8]>> {
    let mut state = name
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let mut all = vec![vec![bytes], by_sizes(bytes, &[1])];
    for limit in [2, 3, 7, 64, 1000, 4096, 20_000, 100_000] {
        let sizes: Vec<usize> =
            (0..97).map(|_| 1 + usize::try_from(splitmix(&mut state) % limit).unwrap()).collect();
        all.push(by_sizes(bytes, &sizes));
    }
    all
}

/// Replays one corpus file through both codecs in every chunking; checks each line on its
/// own, without a length limit; and compares with the outcomes its `.expect` file lists, if
/// it has one (one word per non-blank line: `ok` or an error code).
fn replay(path: &Path) {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let bytes = fs::read(path).unwrap();
    let (want_lines, want) =
        (expected_lines(&bytes, MAX_LINE_BYTES), expected_msgs(&bytes, MAX_LINE_BYTES));
    for (i, chunks) in chunkings(&bytes, &name).iter().enumerate() {
        let lines = feed(&mut LineCodec::new(MAX_LINE_BYTES), chunks, MAX_LINE_BYTES);
        assert!(lines == want_lines, "{name}: lines differ in chunking {i}");
        let msgs = feed(&mut ServerCodec::new(MAX_LINE_BYTES), chunks, MAX_LINE_BYTES);
        assert!(msgs == want, "{name}: messages differ in chunking {i}");
    }
    assert!(feed_at_eof(&mut ServerCodec::new(MAX_LINE_BYTES), &bytes) == want, "{name}: at eof");
    for line in bytes.split(|&b| b == b'\n') {
        check_line(line.strip_suffix(b"\r").unwrap_or(line));
    }
    if let Ok(listed) = fs::read_to_string(path.with_extension("expect")) {
        let got: Vec<&str> =
            want.iter().map(|o| o.as_ref().map_or_else(|e| e.code.as_str(), |_| "ok")).collect();
        assert_eq!(got, listed.split_whitespace().collect::<Vec<_>>(), "{name}");
    }
}

/// Every input in `tests/corpus/` (raw bytes: edge cases, and inputs that once broke
/// something) decodes the same in every chunking as the model says, and as its `.expect` file
/// lists.
#[test]
fn the_corpus_decodes_the_same_in_every_chunking() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the corpus in {} is missing", dir.display());
    for path in files {
        replay(&path);
    }
}
