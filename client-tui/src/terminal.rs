//! The event loop: terminal setup and guaranteed restore, then one `select!` over the keyboard,
//! the network task and SIGTERM. Each wake-up updates the app and redraws once.

use std::io::stdout;
use std::time::{Duration, Instant};

use crossterm::event::{
    DisableBracketedPaste, DisableFocusChange, DisableMouseCapture, EnableBracketedPaste,
    EnableFocusChange, EnableMouseCapture, Event as TermEvent, EventStream, MouseEventKind,
};
use crossterm::execute;
use futures::StreamExt;
use protocol::ClientMsg;
use protocol::fingerprint::Sha256Digest;
use ratatui::layout::Rect;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::app::{App, LogKind};
use crate::event::{Effect, Event, NetEvent};
use crate::local::Local;
use crate::settings::Settings;
use crate::tls::TlsClient;
use crate::{hyperlink, net, ui};

/// After `/exit`, how long to wait for the server's goodbye before leaving anyway.
const QUIT_WAIT: Duration = Duration::from_secs(2);
/// Rows one notch of the mouse wheel scrolls.
const WHEEL_ROWS: i32 = 3;
/// Network events applied before a redraw, so a flood of messages costs one frame, not one each.
const MAX_EVENTS_PER_FRAME: usize = 1024;

/// Puts the terminal back on every exit path: return, error or panic (the panic hook is
/// installed by `ratatui::init`; this guard covers the rest).
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = execute!(stdout(), DisableBracketedPaste, DisableMouseCapture, DisableFocusChange);
        ratatui::restore();
    }
}

/// Runs the client until the person quits; over TLS with `tls`.
pub async fn run(settings: Settings, tls: Option<TlsClient>) -> anyhow::Result<()> {
    let mut terminal = ratatui::init();
    let _restore = Restore;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(stdout(), DisableBracketedPaste, DisableMouseCapture, DisableFocusChange);
        previous(info);
    }));
    execute!(stdout(), EnableBracketedPaste, EnableFocusChange)?;
    // Without mouse capture the terminal keeps the mouse: selecting text needs no Shift, and
    // the wheel scrolls the terminal's own history instead of the conversation.
    if settings.mouse {
        execute!(stdout(), EnableMouseCapture)?;
    }

    let size = terminal.size()?;
    let mut app = App::new(settings, Rect::new(0, 0, size.width, size.height));
    let mut local = Local::start(&mut app);
    let (net_events, mut from_net) = mpsc::channel(MAX_EVENTS_PER_FRAME);
    let mut connection = NetTask::open(&app, tls.as_ref(), &net_events);
    let mut keys = EventStream::new();
    let mut signals = QuitSignals::new()?;

    loop {
        terminal.draw(|frame| {
            ui::draw(frame, &app);
            if app.settings.links {
                let area = app.panes(frame.area()).messages_inner();
                hyperlink::link(frame.buffer_mut(), area);
            }
        })?;
        let deadline = app.next_deadline();
        let event = tokio::select! {
            key = keys.next() => match key {
                Some(Ok(event)) => match from_terminal(event) {
                    Some(event) => event,
                    None => continue,
                },
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            Some(event) = from_net.recv() => Event::Net(event),
            () = signals.recv() => Event::Key(ctrl_c()),
            () = sleep_until(deadline) => Event::Tick(Instant::now()),
        };
        // The clock first, so the event is handled at the right time.
        let mut around =
            Surroundings { outbox: &connection.outbox, tls: tls.as_ref(), local: &mut local };
        let mut outcome = apply(&mut app, Event::Tick(Instant::now()), &mut around);
        outcome.add(apply(&mut app, event, &mut around));
        for _ in 0..MAX_EVENTS_PER_FRAME {
            if outcome.quit {
                break;
            }
            match from_net.try_recv() {
                Ok(event) => outcome.add(apply(&mut app, Event::Net(event), &mut around)),
                Err(_) => break,
            }
        }
        local.check(&mut app);
        if outcome.quit {
            break;
        }
        if outcome.disconnect {
            // The app has already counted the connection as ended.
            connection.task.abort();
        }
        if outcome.connect {
            // The last connection has ended (the app asks only then); one task at a time.
            connection.task.abort();
            connection = NetTask::open(&app, tls.as_ref(), &net_events);
        }
    }
    // Closing the outbox tells the network task we are done; it reads until the server's
    // goodbye closes the connection.
    drop(connection.outbox);
    let _ = tokio::time::timeout(QUIT_WAIT, connection.task).await;
    local.finish();
    Ok(())
}

/// The current connection: its network task and its outbox.
struct NetTask {
    outbox: mpsc::Sender<ClientMsg>,
    task: JoinHandle<()>,
}

impl NetTask {
    fn open(app: &App, tls: Option<&TlsClient>, events: &mpsc::Sender<NetEvent>) -> Self {
        let server = app.settings.server.clone();
        let (outbox, task) = net::spawn(server, tls.cloned(), app.link.hello(), events.clone());
        Self { outbox, task }
    }
}

/// What effects act on: the current connection's outbox, what TLS trusts, and this machine.
struct Surroundings<'a> {
    outbox: &'a mpsc::Sender<ClientMsg>,
    tls: Option<&'a TlsClient>,
    local: &'a mut Local,
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// What the effects of some events ask of the loop.
#[derive(Debug, Default, Clone, Copy)]
struct Outcome {
    quit: bool,
    connect: bool,
    disconnect: bool,
}

impl Outcome {
    fn add(&mut self, other: Outcome) {
        self.quit |= other.quit;
        self.connect |= other.connect;
        self.disconnect |= other.disconnect;
    }
}

/// Updates the app and carries out its effects.
fn apply(app: &mut App, event: Event, around: &mut Surroundings<'_>) -> Outcome {
    let mut outcome = Outcome::default();
    for effect in app.update(event) {
        match effect {
            Effect::Send(msg) => {
                if around.outbox.try_send(msg).is_err() {
                    app.log(LogKind::Error, "the connection is not taking messages; not sent");
                }
            }
            Effect::Trust { server, fingerprint } => {
                if let Some(tls) = around.tls {
                    remember(app, tls, &server, &fingerprint);
                }
            }
            Effect::Connect => outcome.connect = true,
            Effect::Disconnect => outcome.disconnect = true,
            Effect::Bell => {
                use std::io::Write as _;
                let mut out = stdout();
                let _ = out.write_all(b"\x07").and_then(|()| out.flush());
            }
            Effect::Quit => outcome.quit = true,
            effect @ (Effect::Notify(_) | Effect::Record(_) | Effect::SaveIgnored(_)) => {
                around.local.carry_out(app, effect);
            }
        }
    }
    outcome
}

/// Remembers a certificate the person trusted, and says where.
fn remember(app: &mut App, tls: &TlsClient, server: &str, fingerprint: &Sha256Digest) {
    match tls.remember(server, fingerprint) {
        Ok(Some(path)) => app.log(
            LogKind::Good,
            &format!("certificate of {server} trusted; remembered in {}", path.display()),
        ),
        Ok(None) => app.log(
            LogKind::Info,
            &format!(
                "certificate of {server} trusted until chat-tui exits (neither XDG_DATA_HOME \
                 nor HOME is set, so there is no known_servers file)"
            ),
        ),
        Err(why) => app.log(
            LogKind::Error,
            &format!("certificate of {server} trusted until chat-tui exits: {why}"),
        ),
    }
}

fn from_terminal(event: TermEvent) -> Option<Event> {
    match event {
        TermEvent::Key(key) => Some(Event::Key(key)),
        TermEvent::Paste(text) => Some(Event::Paste(text)),
        TermEvent::Resize(w, h) => Some(Event::Resize(w, h)),
        TermEvent::FocusGained => Some(Event::Focus(true)),
        TermEvent::FocusLost => Some(Event::Focus(false)),
        TermEvent::Mouse(mouse) => match mouse.kind {
            MouseEventKind::ScrollUp => Some(Event::Scroll(WHEEL_ROWS)),
            MouseEventKind::ScrollDown => Some(Event::Scroll(-WHEEL_ROWS)),
            _ => None,
        },
    }
}

fn ctrl_c() -> crossterm::event::KeyEvent {
    crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char('c'),
        crossterm::event::KeyModifiers::CONTROL,
    )
}

/// SIGTERM, SIGINT (from `kill`; the keyboard's Ctrl-C arrives as a key in raw mode) and SIGHUP
/// (the terminal went away): each ends the client like Ctrl-C, so the terminal is restored and
/// the server hears a goodbye.
struct QuitSignals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl QuitSignals {
    fn new() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
            _ = self.hup.recv() => {}
        }
    }
}
