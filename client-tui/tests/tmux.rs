//! End to end in a real terminal: the real `chat-tui` binary runs in tmux against a real server
//! on a loopback port; keys go in with `send-keys`, the screen comes out with `capture-pane`.
//!
//! Needs `tmux` (`.ci/run` installs it); the tests fail, not skip, without it.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use chat_server::{Listeners, ServerInfo};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// How long to wait for something to appear on a screen.
const WAIT: Duration = Duration::from_secs(15);

/// The terminal type the panes report: tmux's own, set explicitly rather than whatever the
/// person running the tests has.
const PANE_TERM: &str = "tmux-256color";

/// One tmux server of our own, in a directory of its own that is also the home of everything
/// it runs: its socket is there (`-S`), it reads no tmux config but ours, and the programs in
/// its panes see only the environment set here. So the tests never read the config file of
/// the person running them (`~/.config/chat-tui/config.toml`), nor inherit `NO_COLOR`,
/// `RUST_LOG`, `XDG_*` or `TERM`. The server is killed when the test ends, however it ends,
/// and the directory removed after it.
struct Tmux {
    dir: tempfile::TempDir,
}

impl Tmux {
    fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("chat-e2e-").tempdir().unwrap();
        std::fs::create_dir(dir.path().join("home")).unwrap();
        std::fs::write(
            dir.path().join("tmux.conf"),
            format!("set -g default-terminal {PANE_TERM}\nset -g default-shell /bin/sh\n"),
        )
        .unwrap();
        Self { dir }
    }

    /// The home directory of the programs in the panes (empty: no config file).
    fn home(&self) -> std::path::PathBuf {
        self.dir.path().join("home")
    }

    /// A tmux command on our server, with the whole environment given here: the server takes
    /// the environment of the command that starts it and hands it to every pane (tmux itself
    /// adds `TMUX`, `TMUX_PANE`, `TERM_PROGRAM`, `TERM_PROGRAM_VERSION`, and `TERM` from
    /// `default-terminal`).
    fn command(&self) -> Command {
        let home = self.home();
        let mut command = Command::new("tmux");
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("SHELL", "/bin/sh")
            .env("LC_ALL", "C.UTF-8")
            .env("TZ", "UTC")
            // The terminal the tmux client itself is in (detached: none that draws).
            .env("TERM", "xterm-256color")
            .arg("-u")
            .arg("-S")
            .arg(self.dir.path().join("socket"))
            .arg("-f")
            .arg(self.dir.path().join("tmux.conf"));
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self
            .command()
            .args(args)
            .output()
            .expect("tmux is needed for the end-to-end tests: apt-get install tmux");
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    /// Starts `chat-tui` with `args` in a new window of `width` x `height`. When it exits, the
    /// pane shows its exit status and stays open.
    fn start(&self, name: &str, args: &str, width: u16, height: u16) -> Pane<'_> {
        let command =
            format!("{} {args}; echo EXITED $?; sleep 600", env!("CARGO_BIN_EXE_chat-tui"));
        self.spawn(name, &command, width, height)
    }

    /// Runs the shell command `command` in a new window of `width` x `height`.
    fn spawn(&self, name: &str, command: &str, width: u16, height: u16) -> Pane<'_> {
        self.run(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-c",
            self.home().to_str().unwrap(),
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            command,
        ]);
        Pane { tmux: self, target: name.to_owned() }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").output();
    }
}

struct Pane<'a> {
    tmux: &'a Tmux,
    target: String,
}

impl Pane<'_> {
    fn capture(&self) -> String {
        String::from_utf8_lossy(&self.tmux.run(&["capture-pane", "-p", "-t", &self.target]).stdout)
            .into_owned()
    }

    /// Types `text` literally, then Enter.
    fn type_line(&self, text: &str) {
        self.type_text(text);
        self.key("Enter");
    }

    /// Types `text` literally.
    fn type_text(&self, text: &str) {
        self.tmux.run(&["send-keys", "-t", &self.target, "-l", text]);
    }

    /// The pid of the program running in the pane (the child of the pane's shell).
    fn program_pid(&self) -> u32 {
        let out = self.tmux.run(&["display-message", "-p", "-t", &self.target, "#{pane_pid}"]);
        let shell: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let children =
            std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap();
        children.split_whitespace().next().expect("the program is running").parse().unwrap()
    }

    fn key(&self, key: &str) {
        self.tmux.run(&["send-keys", "-t", &self.target, key]);
    }

    /// Sends `bytes` to the program as if the terminal had written them (escape sequences
    /// included: tmux passes them on as they are).
    fn send_bytes(&self, bytes: &[u8]) {
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut args = vec!["send-keys", "-t", &self.target, "-H"];
        args.extend(hex.iter().map(String::as_str));
        self.tmux.run(&args);
    }

    /// A tmux format (`#{...}`) evaluated for this pane.
    fn format(&self, format: &str) -> String {
        let out = self.tmux.run(&["display-message", "-p", "-t", &self.target, format]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Resizes the terminal to `width` x `height`, as a person dragging its corner does: the
    /// program gets SIGWINCH. Returns once tmux has the new size.
    fn resize(&self, width: u16, height: u16) {
        let (w, h) = (width.to_string(), height.to_string());
        self.tmux.run(&["resize-window", "-t", &self.target, "-x", &w, "-y", &h]);
        assert_eq!(self.format("#{pane_width}x#{pane_height}"), format!("{w}x{h}"));
    }

    /// Waits until the screen contains `needle`; fails with the screen if it never does.
    async fn wait_for(&self, needle: &str) -> String {
        self.wait_for_until(needle, Instant::now() + WAIT).await
    }

    /// Waits until the screen contains `needle`, at the latest until `deadline`; fails with the
    /// screen if it does not by then.
    async fn wait_for_until(&self, needle: &str, deadline: Instant) -> String {
        self.wait_until(&format!("{needle:?}"), deadline, |s| s.contains(needle)).await
    }

    /// Waits until the screen satisfies `ready` (`what` says what that means), at the latest
    /// until `deadline`; fails with the screen if it does not by then.
    async fn wait_until(
        &self,
        what: &str,
        deadline: Instant,
        ready: impl Fn(&str) -> bool,
    ) -> String {
        loop {
            let screen = self.capture();
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what} on {}:\n{screen}",
                self.target
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn start_server() -> (SocketAddr, SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listeners =
        Listeners::bind("127.0.0.1:0".parse().unwrap(), Some("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
    let (json, plain) = (listeners.json_addr().unwrap(), listeners.plain_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // No flood control: the history test seeds a room through nc in one burst.
    let info = ServerInfo { motd: "Be kind.".into(), flood: None, ..ServerInfo::default() };
    let history = chat_server::History::open(Default::default()).unwrap();
    tokio::spawn(chat_server::run(listeners, info, history, async {
        let _ = stopped.await;
    }));
    (json, plain, stop)
}

/// A plain-text client, as `nc` would be.
struct Nc {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Nc {
    async fn login(addr: SocketAddr, name: &str) -> Self {
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut nc = Self { reader: BufReader::new(r), writer: w };
        nc.send(name).await;
        nc.wait_for(&format!("Hello, {name}!")).await;
        nc
    }

    async fn send(&mut self, line: &str) {
        self.writer.write_all(format!("{line}\n").as_bytes()).await.unwrap();
    }

    /// Reads lines until one contains `needle`; returns all lines read.
    async fn wait_for(&mut self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let mut line = String::new();
            let read = tokio::time::timeout(WAIT, self.reader.read_line(&mut line)).await;
            assert!(matches!(read, Ok(Ok(1..))), "{needle:?} never came; got {seen:?}");
            let found = line.contains(needle);
            seen.push(line);
            if found {
                return seen;
            }
        }
    }
}

/// Two people and an `nc` guest chat, join a room, whisper, and leave with /exit and Ctrl-C; the
/// terminal is restored each time and the exit status is 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_terminals_and_a_guest_chat() {
    let (json, plain, _stop) = start_server().await;
    let tmux = Tmux::new();
    let michael = tmux.start("michael", &format!("--name Michael --server {json}"), 100, 30);
    michael.wait_for("Hello, Michael! Welcome to chat.").await;
    michael.wait_for("you joined #lobby").await;
    let tracy = tmux.start("tracy", &format!("--name Tracy --server {json}"), 80, 24);
    tracy.wait_for("Hello, Tracy! Welcome to chat.").await;
    michael.wait_for("Tracy joined").await;

    michael.type_line("hi Tracy, 你好 👋");
    tracy.wait_for("<Michael> hi Tracy, 你好 👋").await;

    let mut guest = Nc::login(plain, "Guest").await;
    guest.send("hello from nc").await;
    tracy.wait_for("<Guest> hello from nc").await;
    michael.wait_for("<Guest> hello from nc").await;
    tracy.type_line("welcome, Guest");
    guest.wait_for("[lobby] Tracy: welcome, Guest").await;

    tracy.type_line("/join rust");
    tracy.wait_for("┌ #rust").await;
    michael.type_line("/join rust");
    michael.wait_for("┌ #rust").await;
    tracy.wait_for("Michael joined").await;
    michael.type_line("/me likes ownership");
    tracy.wait_for("* Michael likes ownership").await;

    michael.type_line("/msg Tracy a secret");
    let screen = tracy.wait_for("@Michael(1!)").await;
    assert!(!screen.contains("a secret"), "the private message is in its own window:\n{screen}");
    tracy.key("M-3");
    tracy.wait_for("<Michael> a secret").await;
    tracy.key("M-2");
    tracy.wait_for("┌ #rust").await;

    michael.type_line("/exit");
    let screen = michael.wait_for("EXITED 0").await;
    assert!(!screen.contains("┌ connection"), "the terminal is restored after /exit:\n{screen}");
    tracy.wait_for("Michael left").await;
    // The guest saw the lobby talk and the leave, and never the private message.
    let seen = guest.wait_for("Michael left").await;
    assert!(!seen.iter().any(|l| l.contains("secret")), "{seen:?}");

    tracy.key("C-c");
    let screen = tracy.wait_for("EXITED 0").await;
    assert!(!screen.contains("┌ connection"), "the terminal is restored after Ctrl-C:\n{screen}");
}

/// An unreachable server is explained in the log pane; the client keeps trying (with a wait
/// between attempts) and stays up until asked to quit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_explained() {
    // A port that was free a moment ago: nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let tmux = Tmux::new();
    let pane = tmux.start("alone", &format!("--name Michael --server {addr}"), 100, 24);
    let screen = pane.wait_for(&format!("cannot connect to {addr}")).await;
    assert!(screen.contains("Connection refused"), "{screen}");
    assert!(screen.contains("(is chat-server"), "{screen}");
    pane.wait_for("reconnecting in ").await;
    pane.wait_for("(attempt 2)").await;
    pane.type_line("/exit");
    pane.wait_for("EXITED 0").await;
}

/// When the server goes away mid-session the client stays up, says so, and keeps trying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_going_away_is_reported() {
    let (json, _, stop) = start_server().await;
    let tmux = Tmux::new();
    let pane = tmux.start("left", &format!("--name Michael --server {json}"), 100, 24);
    pane.wait_for("you joined #lobby").await;
    stop.send(()).unwrap();
    let screen = pane.wait_for("disconnected: the server closed the connection").await;
    assert!(screen.contains("server says goodbye: the server is shutting down"), "{screen}");
    pane.wait_for("reconnecting in ").await;
    pane.type_line("still there?");
    pane.wait_for("not connected to the server").await;
    pane.key("C-c");
    pane.wait_for("EXITED 0").await;
}

/// SIGTERM, SIGINT and SIGHUP end the client like Ctrl-C: terminal restored, exit status 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_end_the_client_cleanly() {
    let (json, _, _stop) = start_server().await;
    let tmux = Tmux::new();
    for (i, signal) in ["-TERM", "-INT", "-HUP"].iter().enumerate() {
        let pane = tmux.start(
            &format!("signal{i}"),
            &format!("--name Michael{i} --server {json}"),
            100,
            24,
        );
        pane.wait_for("you joined #lobby").await;
        let pid = pane.program_pid().to_string();
        assert!(Command::new("kill").args([*signal, pid.as_str()]).status().unwrap().success());
        let screen = pane.wait_for("EXITED 0").await;
        assert!(
            !screen.contains("┌ connection"),
            "terminal not restored after {signal}:\n{screen}"
        );
    }
}

/// Joining shows the recent conversation marked as earlier history; PgUp past the top fetches
/// older pages until the beginning of the room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_on_join_and_paging_back() {
    let (json, plain, _stop) = start_server().await;
    let mut guest = Nc::login(plain, "Guest").await;
    for i in 1..=150 {
        guest.send(&format!("old message {i}")).await;
    }
    guest.wait_for("old message 150").await;
    let tmux = Tmux::new();
    let pane = tmux.start("history", &format!("--name Michael --server {json}"), 90, 20);
    let screen = pane.wait_for("you joined #lobby").await;
    assert!(screen.contains("── now"), "{screen}");
    // One sender's burst is one group: the nick once, then the lines under it.
    assert!(screen.contains("        old message 150"), "{screen}");
    // The backlog holds 101..150 under an "earlier messages" marker; older pages come as the
    // view reaches the top.
    let mut screen = String::new();
    let mut marker_seen = false;
    for _ in 0..200 {
        pane.key("PPage");
        screen = pane.capture();
        marker_seen |= screen.contains("── earlier messages");
        if screen.contains("the beginning of #lobby") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(marker_seen, "the backlog was never shown as earlier messages");
    assert!(screen.contains("the beginning of #lobby"), "{screen}");
    assert!(
        screen.contains("<Guest> old message 1\n") || screen.contains("<Guest> old message 1 "),
        "{screen}"
    );
    pane.key("C-c");
    pane.wait_for("EXITED 0").await;
}

/// A server with its history in `db`, listening on the given addresses (port 0: any), on a
/// runtime of its own: shutting that down drops every task and connection at once, as a crash
/// would (no goodbye).
async fn server_at(
    json: SocketAddr,
    plain: SocketAddr,
    db: &std::path::Path,
) -> (SocketAddr, SocketAddr, tokio::runtime::Runtime) {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let config = chat_server::HistoryConfig {
        location: Some(chat_server::history::Location::File(db.to_owned())),
        ..Default::default()
    };
    let (bound, addrs) = tokio::sync::oneshot::channel();
    runtime.spawn(async move {
        let listeners = Listeners::bind(json, Some(plain)).await.unwrap();
        let _ = bound.send((listeners.json_addr().unwrap(), listeners.plain_addr().unwrap()));
        let info = ServerInfo { motd: "Be kind.".into(), flood: None, ..ServerInfo::default() };
        // A server before this one on `db`, shut down as a crash, lets go of the database
        // (its lock) a moment after its runtime, where a crashed process would at once; until
        // then this one is refused as a second server on the same file.
        let deadline = Instant::now() + WAIT;
        let history = loop {
            match chat_server::History::open(config.clone()) {
                Ok(history) => break history,
                Err(e) if e.to_string().contains("another chat-server") => {
                    assert!(Instant::now() < deadline, "{e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("{e}"),
            }
        };
        chat_server::run(listeners, info, history, std::future::pending()).await;
    });
    let (json, plain) = addrs.await.unwrap();
    (json, plain, runtime)
}

/// The ports of a stopped server, held until it comes back: bound but not listening, so a
/// client trying them is refused as by a stopped server, while the kernel hands them to no
/// other socket (an outgoing connection of a test running beside this one could otherwise get
/// one, and the server could not come back on it).
struct HeldPorts {
    /// Held for as long as they are not dropped; never used otherwise.
    _sockets: Vec<tokio::net::TcpSocket>,
}

impl HeldPorts {
    /// Holds `addrs` as soon as the stopped server has let go of them.
    async fn hold(addrs: &[SocketAddr]) -> Self {
        let deadline = Instant::now() + WAIT;
        let mut held = Vec::new();
        for &addr in addrs {
            loop {
                let socket = tokio::net::TcpSocket::new_v4().unwrap();
                // Its own connections linger in TIME_WAIT; they are no obstacle.
                socket.set_reuseaddr(true).unwrap();
                match socket.bind(addr) {
                    Ok(()) => break held.push(socket),
                    Err(e) => assert!(Instant::now() < deadline, "cannot hold {addr}: {e}"),
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Self { _sockets: held }
    }
}

/// How many times `needle` is on the screen.
fn count(screen: &str, needle: &str) -> usize {
    screen.matches(needle).count()
}

/// The server crashes and comes back on the same port while two people chat in #rust: both
/// clients reconnect by themselves, keep their nicks, rejoin #rust and show what was said
/// while they were away, each line once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_clients_come_back_after_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (json, plain, server) = server_at(any, any, &db).await;
    let tmux = Tmux::new();
    let args = |name: &str| format!("--name {name} --server {json} --room rust");
    let michael = tmux.start("michael", &args("Michael"), 100, 30);
    let tracy = tmux.start("tracy", &args("Tracy"), 100, 30);
    michael.wait_for("┌ #rust").await;
    tracy.wait_for("┌ #rust").await;
    michael.type_line("said before the crash");
    tracy.wait_for("said before the crash").await;

    server.shutdown_background();
    let held = HeldPorts::hold(&[json, plain]).await;
    michael.wait_for("reconnecting in").await;
    tracy.wait_for("reconnecting in").await;

    drop(held);
    let (_, _, server) = server_at(json, plain, &db).await;
    // Someone speaks in #rust before the two are back.
    let mut guest = Nc::login(plain, "Guest").await;
    guest.send("/join rust").await;
    guest.wait_for("[rust] --> Guest joined").await;
    guest.send("said during the outage").await;

    for (pane, me) in [(&michael, "Michael"), (&tracy, "Tracy")] {
        pane.wait_for("back; rejoining #lobby, #rust").await;
        let screen = pane.wait_for("said during the outage").await;
        assert_eq!(count(&screen, "said during the outage"), 1, "{screen}");
        assert_eq!(count(&screen, "said before the crash"), 1, "{screen}");
        assert!(screen.contains(&format!(" online  {json} · {me} · #rust")), "{screen}");
    }
    tracy.type_line("and after it");
    let screen = michael.wait_for("<Tracy> and after it").await;
    assert_eq!(count(&screen, "said during the outage"), 1, "{screen}");
    guest.wait_for("Tracy: and after it").await;
    michael.key("C-c");
    tracy.key("C-c");
    michael.wait_for("EXITED 0").await;
    tracy.wait_for("EXITED 0").await;
    server.shutdown_background();
}

/// A TCP relay in front of the server whose client side can be cut while the server side stays
/// open: the half-dead connection of a laptop that changed networks, which the server cannot
/// tell from a quiet one until its ping times out.
struct Relay {
    addr: SocketAddr,
    cut: tokio::sync::watch::Sender<u32>,
}

impl Relay {
    async fn to(server: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, cuts) = tokio::sync::watch::channel(0u32);
        tokio::spawn(async move {
            // Server sides of cut connections: kept open, never read again.
            let mut kept = Vec::new();
            while let Ok((client, _)) = listener.accept().await {
                let upstream = TcpStream::connect(server).await.unwrap();
                let (kept_tx, kept_rx) = tokio::sync::oneshot::channel();
                let mut cuts = cuts.clone();
                cuts.borrow_and_update();
                tokio::spawn(async move {
                    let (mut client, mut upstream) = (client, upstream);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                        _ = cuts.changed() => {
                            // The client's side goes; the server's is handed over, still open.
                            let _ = kept_tx.send(upstream);
                        }
                    }
                });
                if let Ok(upstream) = kept_rx.await {
                    kept.push(upstream);
                }
            }
        });
        Self { addr, cut }
    }

    fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}

/// The connection dies without the server noticing: the client comes back at once through
/// the resume token, under its own nick, although the server still holds the old session
/// (without the token it would be told the nick is in use until the ping timeout, minutes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_dead_connection_is_taken_over_with_the_resume_token() {
    let (json, plain, _stop) = start_server().await;
    let relay = Relay::to(json).await;
    let tmux = Tmux::new();
    let michael =
        tmux.start("michael", &format!("--name Michael --server {}", relay.addr), 100, 30);
    michael.wait_for("┌ #lobby").await;
    let mut guest = Nc::login(plain, "Guest").await;
    guest.wait_for("[lobby] Members: Guest, Michael").await;

    relay.cut();
    michael.wait_for("back; rejoining #lobby").await;
    guest.wait_for("[lobby] <-- Michael dropped (reconnected)").await;
    guest.wait_for("[lobby] --> Michael joined").await;
    let screen = michael.wait_for(&format!(" online  {} · Michael · #lobby", relay.addr)).await;
    assert!(!screen.contains("in use"), "{screen}");
    michael.type_line("still me");
    guest.wait_for("Michael: still me").await;
    michael.key("C-c");
    michael.wait_for("EXITED 0").await;
}

/// The tests are hermetic: a program in a pane sees the home and the environment the test
/// gave it, not those of the person running the tests. No variable of theirs gets through (a
/// `NO_COLOR`, a `RUST_LOG`, their `TERM` or `XDG_*`), and `chat-tui` finds no config file (a
/// `~/.config/chat-tui/config.toml` of theirs with another name, rooms or `colors = false`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_programs_in_the_panes_see_only_the_tests_environment() {
    let tmux = Tmux::new();
    let home = tmux.home();
    let env = tmux.spawn("env", "env | sort; echo ENV-END; sleep 600", 250, 40);
    let screen = env.wait_for("ENV-END").await;
    let vars: Vec<(&str, &str)> = screen.lines().filter_map(|l| l.split_once('=')).collect();
    let allowed = [
        // Given by the test.
        "HOME",
        "LC_ALL",
        "PATH",
        "SHELL",
        "TERM",
        "TZ",
        "XDG_CACHE_HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_STATE_HOME",
        // Added by tmux and the shell.
        "TMUX",
        "TMUX_PANE",
        "TERM_PROGRAM",
        "TERM_PROGRAM_VERSION",
        "PWD",
        "OLDPWD",
        "SHLVL",
        "_",
    ];
    for (name, _) in &vars {
        assert!(allowed.contains(name), "{name} leaked into the pane:\n{screen}");
    }
    let value = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    assert_eq!(value("HOME"), home.to_str(), "{screen}");
    assert_eq!(value("XDG_CONFIG_HOME"), home.join(".config").to_str(), "{screen}");
    assert_eq!(value("TERM"), Some(PANE_TERM), "{screen}");
    assert_eq!(value("PWD"), home.to_str(), "{screen}");

    // chat-tui's own view: no config file, so colours on and no rooms but lobby.
    let config = tmux.start("config", "--name Michael --print-config", 250, 20);
    let screen = config.wait_for("EXITED 0").await;
    let file = home.join(".config/chat-tui/config.toml");
    assert!(screen.contains(&format!("# no config file at {}", file.display())), "{screen}");
    assert!(screen.contains("name = \"Michael\""), "{screen}");
    assert!(screen.contains("rooms = []"), "{screen}");
    assert!(screen.contains("colors = true"), "{screen}");
}

/// The newest "reconnecting in X s" on the log pane: X, if there is one.
fn announced_delay(screen: &str) -> Option<f64> {
    let (_, rest) = screen.rsplit_once("reconnecting in ")?;
    rest.split_once(" s")?.0.parse().ok()
}

/// `/connect` tries now: the server is gone long enough for the reconnect delay to have grown
/// past 8 s; it comes back on the same port and `/connect` is typed: the client is back well
/// before the delay would have run out (the next attempt on its own is at least 7 s away), under
/// its nick and in its rooms again (a newcomer to #rust sees it there and hears it speak).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_tries_at_once_instead_of_waiting_out_the_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (json, plain, server) = server_at(any, any, &db).await;
    let tmux = Tmux::new();
    let michael =
        tmux.start("michael", &format!("--name Michael --server {json} --room rust"), 100, 30);
    michael.wait_for("┌ #rust").await;

    server.shutdown_background();
    let held = HeldPorts::hold(&[json, plain]).await;
    // Each refused attempt doubles the delay: 0.25-0.5 s, 0.5-1, 1-2, 2-4, 4-8, then 8-16 s,
    // reached within 8 s of attempts.
    const LONG: f64 = 8.0;
    let screen = michael
        .wait_until(
            &format!("a reconnect delay of {LONG} s or more"),
            Instant::now() + Duration::from_secs(40),
            |s| announced_delay(s).is_some_and(|d| d >= LONG),
        )
        .await;
    let seen = Instant::now();
    let delay = Duration::from_secs_f64(announced_delay(&screen).unwrap());

    drop(held);
    let (_, _, server) = server_at(json, plain, &db).await;
    michael.type_line("/connect");
    // Left to itself the client tries again `delay` after it said so, which was at most a
    // moment before `seen`: 3 s of slack for that moment, and the rest is long enough to
    // connect and be welcomed on a busy machine.
    let back_by = seen + delay - Duration::from_secs(3);
    michael.wait_for_until("back; rejoining #lobby, #rust", back_by).await;
    michael.wait_for(&format!(" online  {json} · Michael · #rust")).await;

    let mut guest = Nc::login(plain, "Guest").await;
    guest.send("/join rust").await;
    guest.wait_for("[rust] Members: Guest, Michael").await;
    michael.type_line("back in rust");
    guest.wait_for("[rust] Michael: back in rust").await;
    michael.key("C-c");
    michael.wait_for("EXITED 0").await;
    server.shutdown_background();
}

/// The row of the input line's text in a terminal `height` rows high (from 0): above the
/// input box's bottom border and the status line, or, below 8 rows, where there are no borders,
/// just above the status line.
fn input_row(height: u16) -> usize {
    usize::from(if height >= 8 { height - 3 } else { height - 2 })
}

/// Resizing keeps what you typed: a half-typed line stays in the input line while the
/// terminal shrinks to 40x12, to the smallest size the client draws (20x5), and grows to
/// 120x40; Enter then sends exactly that line. Before each resize the pane is blanked, so
/// what is seen after it is what the client drew for the new size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resizing_keeps_the_half_typed_line() {
    let (json, plain, _stop) = start_server().await;
    let mut guest = Nc::login(plain, "Guest").await;
    let tmux = Tmux::new();
    let pane = tmux.start("resize", &format!("--name Michael --server {json}"), 80, 24);
    pane.wait_for("you joined #lobby").await;
    guest.wait_for("[lobby] --> Michael joined").await;

    let typed = "half 你好 typed";
    pane.type_text(typed);
    pane.wait_for(typed).await;
    for (width, height) in [(40, 12), (20, 5), (120, 40), (80, 24)] {
        pane.key("-R"); // resets the pane: a blank screen
        pane.wait_until("a blank screen", Instant::now() + WAIT, |s| s.trim().is_empty()).await;
        pane.resize(width, height);
        let row = input_row(height);
        let screen = pane
            .wait_until(
                &format!("{typed:?} on the input line (row {row}) at {width}x{height}"),
                Instant::now() + WAIT,
                |s| s.lines().nth(row).is_some_and(|l| l.contains(typed)),
            )
            .await;
        assert_eq!(count(&screen, typed), 1, "{screen}");
    }
    pane.key("Enter");
    let seen = guest.wait_for("[lobby] Michael: ").await;
    assert_eq!(seen.last().unwrap().trim_end(), format!("[lobby] Michael: {typed}"));
    pane.wait_for(&format!("<Michael> {typed}")).await;
    pane.key("C-c");
    pane.wait_for("EXITED 0").await;
}

/// The numbers `n` of the "wheel line n" lines on the screen.
fn wheel_lines(screen: &str) -> Vec<u32> {
    screen
        .split("wheel line ")
        .skip(1)
        .filter_map(|rest| rest.get(..2).and_then(|n| n.parse().ok()))
        .collect()
}

/// The mouse wheel scrolls the conversation: the client asks the terminal for mouse reports
/// in SGR form; with more lines than fit, four notches up (as the terminal reports them) bring
/// older lines into view and take the newest out of it, four notches down bring it back. On
/// exit the terminal gets its mouse back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mouse_wheel_scrolls_the_conversation() {
    let (json, plain, _stop) = start_server().await;
    let tmux = Tmux::new();
    let pane = tmux.start("wheel", &format!("--name Michael --server {json}"), 80, 24);
    pane.wait_for("you joined #lobby").await;
    // Mouse reports on (any motion, which includes the wheel), in SGR form.
    assert_eq!(pane.format("#{mouse_any_flag} #{mouse_sgr_flag}"), "1 1");

    let mut guest = Nc::login(plain, "Guest").await;
    for i in 1..=40 {
        guest.send(&format!("wheel line {i:02}")).await;
    }
    let screen = pane.wait_for("wheel line 40").await;
    let oldest = *wheel_lines(&screen).iter().min().unwrap();
    assert!(oldest > 12, "all of it fits; the test needs more lines:\n{screen}");

    // SGR mouse reports at column 20, row 12 (in the conversation): button 64 is wheel up, 65
    // wheel down. The client scrolls 3 rows a notch.
    for _ in 0..4 {
        pane.send_bytes(b"\x1b[<64;20;12M");
    }
    let older = format!("wheel line {:02}", oldest - 1);
    let screen = pane
        .wait_until("the conversation scrolled back", Instant::now() + WAIT, |s| {
            s.contains(&older) && !s.contains("wheel line 40")
        })
        .await;
    assert!(!screen.contains("[<"), "a mouse report was taken as typing:\n{screen}");
    for _ in 0..4 {
        pane.send_bytes(b"\x1b[<65;20;12M");
    }
    pane.wait_until("the conversation back at the newest line", Instant::now() + WAIT, |s| {
        s.contains("wheel line 40") && !s.contains(&older)
    })
    .await;

    pane.key("C-c");
    pane.wait_for("EXITED 0").await;
    assert_eq!(pane.format("#{mouse_any_flag} #{mouse_sgr_flag}"), "0 0");
}
