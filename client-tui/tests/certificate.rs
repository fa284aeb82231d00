//! TLS as the app sees it, with no terminal and no network: a certificate never seen asks once
//! (y: trusted and connected, n: not connected), a changed one warns and names the file to
//! edit, a pinned mismatch and a TLS-only server are not retried, and the status line says
//! whether the link is encrypted.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::time::Instant;

use chat_tui::app::App;
use chat_tui::event::{Effect, Event, NetEvent, Security};
use chat_tui::link::{Connection, TLS_ONLY};
use chat_tui::settings::Settings;
use chat_tui::tls::{Refusal, Trusted};
use chat_tui::ui;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use protocol::fingerprint::{digest, show};
use protocol::{ByeCode, ServerMsg};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

use common::{nick, render, row, screen};

const SERVER: &str = "chat.example.org:7878";
const FILE: &str = "/home/m/.local/share/chat-tui/known_servers";

/// Michael's client, connecting over TLS (nothing has come back yet).
fn connecting() -> App {
    let settings = Settings::new(nick("Michael"), SERVER.into());
    let mut app = App::new(settings, Rect::new(0, 0, 100, 30));
    app.update(Event::Net(NetEvent::Connecting { server: SERVER.into() }));
    app
}

fn unknown() -> Refusal {
    Refusal::Unknown {
        server: SERVER.into(),
        fingerprint: digest(b"new cert"),
        reason: "no certificate authority you trust vouches for it".into(),
    }
}

fn key(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn log_text(app: &App) -> String {
    app.server_log().iter().map(|l| l.text.as_str()).collect::<Vec<_>>().join("\n")
}

fn refused(app: &mut App, refusal: Refusal) {
    app.update(Event::Net(NetEvent::Certificate(refusal)));
}

/// The first-use question: the fingerprint in the log and in a box, nothing retried while it
/// is open, other keys ignored (the input line is not typed into); `y` trusts that very
/// certificate and connects at once.
#[test]
fn an_unknown_certificate_is_asked_about_and_yes_trusts_it() {
    let mut app = connecting();
    refused(&mut app, unknown());
    let shown = show(&digest(b"new cert"));
    assert!(
        log_text(&app).contains(&format!("its SHA-256 fingerprint: {shown}")),
        "{}",
        log_text(&app)
    );
    assert!(log_text(&app).ends_with("trust it and connect? y: yes, remember it  n: no"));
    assert_eq!(app.link.state, Connection::Closed);
    assert_eq!(app.next_deadline(), None, "no retry while asking");
    let screen_text = screen(&render(&app).0);
    assert!(screen_text.contains("unknown certificate"), "{screen_text}");
    assert!(
        screen_text.contains(&shown[..47]),
        "the first half of the fingerprint:\n{screen_text}"
    );
    assert!(screen_text.contains(&shown[48..]), "the second half:\n{screen_text}");

    assert_eq!(app.update(key(KeyCode::Char('x'))), vec![]);
    assert_eq!(app.composer.input.as_str(), "", "keys go to the question");
    let effects = app.update(key(KeyCode::Char('y')));
    assert_eq!(
        effects,
        vec![
            Effect::Trust { server: SERVER.into(), fingerprint: digest(b"new cert") },
            Effect::Connect
        ]
    );
    assert!(app.link.certificate.is_none());
    assert!(!screen(&render(&app).0).contains("unknown certificate"));
}

/// `n` (or Esc) refuses: nothing is remembered or retried; `/connect` asks again.
#[test]
fn no_refuses_the_certificate_until_connect_asks_again() {
    for answer in [KeyCode::Char('n'), KeyCode::Esc] {
        let mut app = connecting();
        refused(&mut app, unknown());
        assert_eq!(app.update(key(answer)), vec![]);
        assert!(log_text(&app).ends_with(&format!(
            "certificate of {SERVER} not trusted; not connecting (/connect asks again)"
        )));
        assert_eq!(app.next_deadline(), None);
        app.update(Event::Tick(Instant::now() + std::time::Duration::from_secs(3600)));
        assert_eq!(app.link.state, Connection::Closed);
        for c in "/connect".chars() {
            app.update(key(KeyCode::Char(c)));
        }
        assert_eq!(app.update(key(KeyCode::Enter)), vec![Effect::Connect]);
        refused(&mut app, unknown());
        assert!(app.link.certificate.is_some(), "asked again");
    }
}

/// A changed certificate: a warning in red that names the server, both fingerprints and the
/// file to edit; not retried; keys cannot accept it (only close the warning); `/connect`
/// tries again (after the person edited the file).
#[test]
fn a_changed_certificate_is_refused_loudly() {
    let mut app = connecting();
    let (old, new) = (digest(b"old cert"), digest(b"new cert"));
    refused(
        &mut app,
        Refusal::Changed {
            server: SERVER.into(),
            known: vec![old],
            fingerprint: new,
            file: Some(FILE.into()),
        },
    );
    let log = log_text(&app);
    assert!(log.contains(&format!("WARNING: the certificate of {SERVER} has CHANGED")), "{log}");
    assert!(log.ends_with(&format!(
        "not reconnecting: certificate changed; if you know why, delete the line for {SERVER} in \
         {FILE}, then /connect"
    )));
    assert_eq!(app.next_deadline(), None);
    let shown = screen(&render(&app).0);
    assert!(shown.contains("WARNING: certificate changed"), "{shown}");
    assert!(shown.contains(FILE), "{shown}");
    assert!(shown.contains(&show(&old)[..47]) && shown.contains(&show(&new)[..47]), "{shown}");

    assert_eq!(app.update(key(KeyCode::Char('y'))), vec![], "no way to accept it");
    assert!(app.link.certificate.is_some());
    assert_eq!(app.update(key(KeyCode::Esc)), vec![]);
    // The warning's box is closed (the notice above the input still says what is wrong).
    assert!(!screen(&render(&app).0).contains("WARNING: certificate changed"));
    for c in "/connect".chars() {
        app.update(key(KeyCode::Char(c)));
    }
    assert_eq!(app.update(key(KeyCode::Enter)), vec![Effect::Connect]);
}

/// A certificate that is not the pinned one, or that no CA vouches for when `--tls-ca` asks
/// for one, is refused without a question and not retried.
#[test]
fn pinned_and_ca_only_refusals_are_final() {
    let refusals = [
        Refusal::NotPinned { pinned: digest(b"a"), fingerprint: digest(b"b") },
        Refusal::Untrusted {
            server: SERVER.into(),
            reason: "it is not made out to this host".into(),
        },
    ];
    for refusal in refusals {
        let mut app = connecting();
        refused(&mut app, refusal);
        assert!(app.link.certificate.is_none(), "nothing to answer");
        assert_eq!(app.next_deadline(), None);
        assert!(app.server_log().back().unwrap().text.starts_with("not reconnecting: "));
    }
}

/// A plain-text client at a TLS-only server: the goodbye is explained in our words and the
/// client does not retry in clear.
#[test]
fn a_tls_only_server_is_explained_and_not_retried_in_clear() {
    let mut app = connecting();
    let plain = Security::Plain { loopback: false };
    app.update(Event::Net(NetEvent::Connected { server: SERVER.into(), security: plain }));
    let bye = ServerMsg::Bye {
        code: ByeCode::TlsRequired,
        message: "TLS only \u{1b}[31m".into(),
        retry_after_ms: None,
    };
    app.update(Event::Net(NetEvent::Message(bye)));
    app.update(Event::Net(NetEvent::Closed { reason: "the server closed the connection".into() }));
    assert_eq!(app.server_log().back().unwrap().text, format!("not reconnecting: {TLS_ONLY}"));
    assert!(!log_text(&app).contains('\u{1b}'), "the server's words are sanitised");
    assert_eq!(app.next_deadline(), None);
}

/// The status line: a lock over TLS, "not encrypted" in clear beyond loopback, neither in
/// clear on loopback (nor while not connected); the log says why the certificate is trusted.
#[test]
fn the_status_line_says_whether_the_link_is_encrypted() {
    let cases = [
        (Security::Tls(Trusted::Known), Some("🔒 chat.example.org:7878 · Michael")),
        (Security::Plain { loopback: false }, Some("not encrypted chat.example.org:7878")),
        (Security::Plain { loopback: true }, None),
    ];
    for (security, want) in cases {
        let mut app = connecting();
        app.update(Event::Net(NetEvent::Connected { server: SERVER.into(), security }));
        let status = row(&render(&app).0, 29);
        match want {
            Some(want) => assert!(status.contains(want), "{security:?}: {status}"),
            None => assert!(!status.contains("🔒") && !status.contains("encrypted"), "{status}"),
        }
        app.update(Event::Net(NetEvent::Closed { reason: "gone".into() }));
        let status = row(&render(&app).0, 29);
        assert!(!status.contains("🔒") && !status.contains("encrypted"), "closed: {status}");
    }
    let mut app = connecting();
    let tls = Security::Tls(Trusted::Known);
    app.update(Event::Net(NetEvent::Connected { server: SERVER.into(), security: tls }));
    assert!(log_text(&app).contains("over TLS (the certificate you trusted before)"));
}

/// Words that may quote the certificate (names its maker chose) reach the terminal sanitised,
/// from the question's box and from the log: shown as what they are, and drawn through
/// crossterm, the bytes hold none of their control characters.
#[test]
fn words_from_the_certificate_are_sanitised() {
    let mut app = connecting();
    let reason = "not for \u{1b}]0;owned\u{7}evil.example \u{202e}moc.knab";
    refused(
        &mut app,
        Refusal::Unknown {
            server: SERVER.into(),
            fingerprint: digest(b"x"),
            reason: reason.into(),
        },
    );
    let mut out = Vec::new();
    {
        let options = TerminalOptions { viewport: Viewport::Fixed(app.view.size) };
        let mut terminal =
            Terminal::with_options(CrosstermBackend::new(&mut out), options).unwrap();
        terminal.draw(|f| ui::draw(f, &app)).unwrap();
    }
    let output = String::from_utf8(out).unwrap();
    // Shown for what they are: pictures of the controls, a replacement for the bidi override.
    let shown = screen(&render(&app).0);
    assert!(shown.contains("not for ␛]0;owned␇evil.example \u{fffd}moc.knab"), "{shown}");
    for raw in ["\u{1b}]", "\u{7}", "\u{202e}"] {
        assert!(!output.contains(raw), "{raw:?} reached the terminal");
        assert!(!log_text(&app).contains(raw), "{raw:?} in the log");
    }
}
