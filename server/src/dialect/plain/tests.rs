//! The plain-text dialect's own tests: reading lines, charsets, cutting long messages.

use super::*;
use crate::dialect::JoinedRooms;

fn view<'a, R: JoinedRooms>(nick: Option<&'a Nick>, rooms: &'a R) -> View<'a> {
    View { nick, rooms }
}

#[test]
fn the_first_line_is_the_nick() {
    let mut plain = Plain::new();
    let mut out = BytesMut::new();
    let req = plain.read(Line::Complete("Michael".into()), view(None, &[]), &mut out);
    assert!(matches!(req, Some(Ok(ClientMsg::Hello { nick, .. })) if nick.as_str() == "Michael"));
}

#[test]
fn gbk_lines_switch_the_session_to_gbk() {
    let mut plain = Plain::new();
    let (gbk_name, _, _) = GBK.encode("小明");
    let mut out = BytesMut::new();
    let req = plain.read(Line::Complete(BytesMut::from(&gbk_name[..])), view(None, &[]), &mut out);
    assert!(matches!(req, Some(Ok(ClientMsg::Hello { nick, .. })) if nick.as_str() == "小明"));
    assert_eq!(plain.charset(), Charset::Gbk);
    plain.put(&mut out, "你好");
    assert_eq!(&out[..], &[&GBK.encode("你好").0[..], b"\r\n"].concat()[..]);
}

/// No byte GBK writes is an 8-bit control: characters that would need one are written
/// as numeric references instead.
#[test]
fn gbk_output_has_no_bytes_a_terminal_takes_for_controls() {
    let risky: String = ('\u{4e00}'..='\u{9fff}')
        .filter(|c| {
            let mut b = [0u8; 4];
            GBK.encode(c.encode_utf8(&mut b)).0.iter().any(|x| (0x80..=0x9f).contains(x))
        })
        .take(50)
        .collect();
    assert_eq!(risky.chars().count(), 50, "GBK has such characters");
    let mut out = BytesMut::new();
    put_gbk(&mut out, &format!("你好 {risky} ok"));
    assert!(!out.iter().any(|b| (0x80..=0x9f).contains(b)), "{out:?}");
    let first = risky.chars().next().unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains(&format!("&#{};", u32::from(first))), "{text}");
    assert!(out.starts_with(&GBK.encode("你好").0));
}

#[test]
fn bytes_that_are_neither_utf8_nor_gbk_are_an_error() {
    let mut plain = Plain::new();
    let mut out = BytesMut::new();
    let req =
        plain.read(Line::Complete(BytesMut::from(&b"\xff\xff\xfe"[..])), view(None, &[]), &mut out);
    assert!(matches!(req, Some(Err(e)) if e.code == ErrorCode::InvalidUtf8));
    assert_eq!(plain.charset(), Charset::Utf8);
}

#[test]
fn a_utf8_line_is_read_as_utf8_even_after_gbk() {
    let mut plain = Plain::new();
    let mut out = BytesMut::new();
    let (gbk_name, _, _) = GBK.encode("小明");
    plain.read(Line::Complete(BytesMut::from(&gbk_name[..])), view(None, &[]), &mut out);
    assert_eq!(plain.charset(), Charset::Gbk);
    let nick = Nick::parse("小明").unwrap();
    let rooms = [RoomName::lobby()];
    let req = plain.read(Line::Complete("/join 日本".into()), view(Some(&nick), &rooms), &mut out);
    assert!(matches!(req, Some(Ok(ClientMsg::Join { room, .. })) if room.as_str() == "日本"));
}

#[test]
fn many_line_messages_are_cut() {
    let lines = message_lines("[lobby] Tracy: ", &"x\n".repeat(1000));
    assert_eq!(lines.len(), MAX_PLAIN_LINES_PER_MESSAGE + 1);
    assert_eq!(
        lines.last().unwrap(),
        &format!("[lobby] Tracy: [... {} more lines]", 1000 - MAX_PLAIN_LINES_PER_MESSAGE)
    );
}
