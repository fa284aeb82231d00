//! The harness: a tmux server of the test's own, its panes, servers on loopback, `nc`, relays.

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use chat_server::{Listeners, ServerInfo};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// How long to wait for something to appear on a screen.
pub const WAIT: Duration = Duration::from_secs(15);

/// How long an Alt+N is given to show its window before it is pressed again.
const ALT_AGAIN: Duration = Duration::from_secs(2);

/// The terminal type the panes report: tmux's own, set explicitly rather than whatever the
/// person running the tests has.
pub const PANE_TERM: &str = "tmux-256color";

/// One tmux server of our own, in a directory of its own that is also the home of everything
/// it runs: its socket is there (`-S`), it reads no tmux config but ours, and the programs in
/// its panes see only the environment set here. So the tests never read the config file of
/// the person running them (`~/.config/chat-tui/config.toml`), nor inherit `NO_COLOR`,
/// `RUST_LOG`, `XDG_*` or `TERM`. The server is killed when the test ends, however it ends,
/// and the directory removed after it.
pub struct Tmux {
    dir: tempfile::TempDir,
}

impl Tmux {
    pub fn new() -> Self {
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
    pub fn home(&self) -> std::path::PathBuf {
        self.dir.path().join("home")
    }

    /// A tmux command on our server, with the whole environment given here: the server takes
    /// the environment of the command that starts it and hands it to every pane (tmux itself
    /// adds `TMUX`, `TMUX_PANE`, `TERM_PROGRAM`, `TERM_PROGRAM_VERSION`, and `TERM` from
    /// `default-terminal`).
    pub fn command(&self) -> Command {
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

    pub fn run(&self, args: &[&str]) -> Output {
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
    pub fn start(&self, name: &str, args: &str, width: u16, height: u16) -> Pane<'_> {
        let command =
            format!("{} {args}; echo EXITED $?; sleep 600", env!("CARGO_BIN_EXE_chat-tui"));
        self.spawn(name, &command, width, height)
    }

    /// [`Tmux::start`] with `env` added to the environment of `chat-tui` alone (values are
    /// single-quoted for the shell, and must not hold a quote).
    pub fn start_with_env(
        &self,
        name: &str,
        env: &[(&str, &str)],
        args: &str,
        width: u16,
        height: u16,
    ) -> Pane<'_> {
        let vars: Vec<String> = env
            .iter()
            .map(|(k, v)| {
                assert!(!v.contains('\''), "{v:?}");
                format!("{k}='{v}'")
            })
            .collect();
        let command = format!(
            "env {} {} {args}; echo EXITED $?; sleep 600",
            vars.join(" "),
            env!("CARGO_BIN_EXE_chat-tui")
        );
        self.spawn(name, &command, width, height)
    }

    /// Runs the shell command `command` in a new window of `width` x `height`.
    pub fn spawn(&self, name: &str, command: &str, width: u16, height: u16) -> Pane<'_> {
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

pub struct Pane<'a> {
    tmux: &'a Tmux,
    target: String,
}

impl Pane<'_> {
    pub fn capture(&self) -> String {
        String::from_utf8_lossy(&self.tmux.run(&["capture-pane", "-p", "-t", &self.target]).stdout)
            .into_owned()
    }

    /// Types `text` literally, then Enter.
    pub fn type_line(&self, text: &str) {
        self.type_text(text);
        self.key("Enter");
    }

    /// Types `text` literally.
    pub fn type_text(&self, text: &str) {
        self.tmux.run(&["send-keys", "-t", &self.target, "-l", text]);
    }

    /// The pid of the program running in the pane (the child of the pane's shell).
    pub fn program_pid(&self) -> u32 {
        let out = self.tmux.run(&["display-message", "-p", "-t", &self.target, "#{pane_pid}"]);
        let shell: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let children =
            std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap();
        children.split_whitespace().next().expect("the program is running").parse().unwrap()
    }

    pub fn key(&self, key: &str) {
        self.tmux.run(&["send-keys", "-t", &self.target, key]);
    }

    /// Sends `bytes` to the program as if the terminal had written them (escape sequences
    /// included: tmux passes them on as they are).
    pub fn send_bytes(&self, bytes: &[u8]) {
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut args = vec!["send-keys", "-t", &self.target, "-H"];
        args.extend(hex.iter().map(String::as_str));
        self.tmux.run(&args);
    }

    /// Appends everything the program writes to its terminal from now on to `file`, as it
    /// writes it: escape sequences the screen does not show (notifications, hyperlinks)
    /// included.
    pub fn record_output(&self, file: &std::path::Path) {
        let command = format!("cat >> '{}'", file.display());
        self.tmux.run(&["pipe-pane", "-O", "-t", &self.target, &command]);
    }

    /// A tmux format (`#{...}`) evaluated for this pane.
    pub fn format(&self, format: &str) -> String {
        let out = self.tmux.run(&["display-message", "-p", "-t", &self.target, format]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Resizes the terminal to `width` x `height`, as a person dragging its corner does: the
    /// program gets SIGWINCH. Returns once tmux has the new size.
    pub fn resize(&self, width: u16, height: u16) {
        let (w, h) = (width.to_string(), height.to_string());
        self.tmux.run(&["resize-window", "-t", &self.target, "-x", &w, "-y", &h]);
        assert_eq!(self.format("#{pane_width}x#{pane_height}"), format!("{w}x{h}"));
    }

    /// Shows the server window (Alt+1) and waits for `needle` there, then shows window
    /// `back` again; returns the server window's screen.
    pub async fn server_window_shows(&self, needle: &str, back: u8) -> String {
        self.alt_until(1, "the server window", |s| s.contains("┌ server ")).await;
        let screen = self
            .wait_until(&format!("{needle:?} in the server window"), Instant::now() + WAIT, |s| {
                s.contains("┌ server ") && s.contains(needle)
            })
            .await;
        self.alt_until(back, &format!("window {back}"), |s| !s.contains("┌ server ")).await;
        screen
    }

    /// Presses Alt+`n` until `shown` holds. A busy terminal may split Alt+N into Esc and the
    /// digit (or join it to an Esc just before): the digit then lands in the input line, is
    /// cleared (Ctrl+U), and the key is pressed again.
    pub async fn alt_until(&self, n: u8, what: &str, shown: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            self.key(&format!("M-{n}"));
            let again = Instant::now() + ALT_AGAIN;
            while Instant::now() < again {
                if shown(&self.capture()) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert!(Instant::now() < deadline, "Alt+{n} never showed {what}:\n{}", self.capture());
            self.key("C-u");
        }
    }

    /// Waits until the screen contains `needle`; fails with the screen if it never does.
    pub async fn wait_for(&self, needle: &str) -> String {
        self.wait_for_until(needle, Instant::now() + WAIT).await
    }

    /// Waits until the screen contains `needle`, at the latest until `deadline`; fails with the
    /// screen if it does not by then.
    pub async fn wait_for_until(&self, needle: &str, deadline: Instant) -> String {
        self.wait_until(&format!("{needle:?}"), deadline, |s| s.contains(needle)).await
    }

    /// Waits until the screen satisfies `ready` (`what` says what that means), at the latest
    /// until `deadline`; fails with the screen if it does not by then.
    pub async fn wait_until(
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

pub async fn start_server() -> (SocketAddr, SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listeners =
        Listeners::bind("127.0.0.1:0".parse().unwrap(), Some("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
    let (json, plain) = (listeners.json_addr().unwrap(), listeners.plain_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // No flood control: the history test seeds a room through nc in one burst.
    let info = ServerInfo { motd: "Be kind.".into(), flood: None, ..ServerInfo::default() };
    let history = chat_server::Broker::local(Default::default()).unwrap();
    tokio::spawn(chat_server::run(listeners, info, history, async {
        let _ = stopped.await;
    }));
    (json, plain, stop)
}

/// A line-by-line client over any stream: what it sends is a line, what it waits for is a
/// line holding some text.
pub struct Lines<S> {
    reader: BufReader<tokio::io::ReadHalf<S>>,
    writer: tokio::io::WriteHalf<S>,
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite> Lines<S> {
    pub fn new(stream: S) -> Self {
        let (r, w) = tokio::io::split(stream);
        Self { reader: BufReader::new(r), writer: w }
    }

    pub async fn send(&mut self, line: &str) {
        self.writer.write_all(format!("{line}\n").as_bytes()).await.unwrap();
    }

    /// Reads lines until one contains `needle`; returns all lines read.
    pub async fn wait_for(&mut self, needle: &str) -> Vec<String> {
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

    /// Gives `name` to a plain-text port and waits for its greeting.
    pub async fn log_in(&mut self, name: &str) {
        self.send(name).await;
        self.wait_for(&format!("Hello, {name}!")).await;
    }
}

/// A plain-text client, as `nc` would be.
pub type Nc = Lines<TcpStream>;

impl Nc {
    pub async fn login(addr: SocketAddr, name: &str) -> Self {
        let mut nc = Lines::new(TcpStream::connect(addr).await.unwrap());
        nc.log_in(name).await;
        nc
    }
}

/// A client speaking the JSON protocol line by line, as a script would.
pub struct Json(Lines<TcpStream>);

impl std::ops::Deref for Json {
    type Target = Lines<TcpStream>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Json {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Json {
    /// Says hello as `nick` (with `password`, if any) and waits for the welcome.
    pub async fn hello(addr: SocketAddr, nick: &str, password: Option<&str>) -> Self {
        let mut json = Self(Lines::new(TcpStream::connect(addr).await.unwrap()));
        let password = password.map_or_else(String::new, |p| format!(r#","password":"{p}""#));
        json.send(&format!(
            r#"{{"type":"hello","nick":"{nick}","protocol":{}{password}}}"#,
            protocol::PROTOCOL_VERSION
        ))
        .await;
        json.wait_for(r#""type":"welcome""#).await;
        json
    }

    /// Makes our nick an account with `password`.
    pub async fn register(&mut self, password: &str) {
        self.send(&format!(r#"{{"type":"register","password":"{password}"}}"#)).await;
        self.wait_for(r#""event":"registered""#).await;
    }

    /// Says goodbye and waits for the server to close.
    pub async fn quit(mut self) {
        self.send(r#"{"type":"quit"}"#).await;
        self.wait_for(r#""type":"bye""#).await;
    }
}

/// A server with its history in `db`, listening on the given addresses (port 0: any), on a
/// runtime of its own: shutting that down drops every task and connection at once, as a crash
/// would (no goodbye).
pub async fn server_at(
    json: SocketAddr,
    plain: SocketAddr,
    db: &std::path::Path,
) -> (SocketAddr, SocketAddr, tokio::runtime::Runtime) {
    tls_server_at(json, plain, db, None).await
}

/// [`server_at`], serving TLS only on both ports with `tls`.
pub async fn tls_server_at(
    json: SocketAddr,
    plain: SocketAddr,
    db: &std::path::Path,
    tls: Option<std::sync::Arc<chat_server::tls::Tls>>,
) -> (SocketAddr, SocketAddr, tokio::runtime::Runtime) {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let config = chat_server::HistoryConfig {
        location: Some(chat_server::broker::Location::File(db.to_owned())),
        ..Default::default()
    };
    let (bound, addrs) = tokio::sync::oneshot::channel();
    runtime.spawn(async move {
        let mut listeners = Listeners::bind(json, Some(plain)).await.unwrap();
        if let Some(tls) = tls {
            listeners = listeners.with_tls(tls);
        }
        let _ = bound.send((listeners.json_addr().unwrap(), listeners.plain_addr().unwrap()));
        let info = ServerInfo { motd: "Be kind.".into(), flood: None, ..ServerInfo::default() };
        // A server before this one on `db`, shut down as a crash, lets go of the database
        // (its lock) a moment after its runtime, where a crashed process would at once; until
        // then this one is refused as a second server on the same file.
        let deadline = Instant::now() + WAIT;
        let history = loop {
            match chat_server::Broker::local(config.clone()) {
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
pub struct HeldPorts {
    /// Held for as long as they are not dropped; never used otherwise.
    _sockets: Vec<tokio::net::TcpSocket>,
}

impl HeldPorts {
    /// Holds `addrs` as soon as the stopped server has let go of them.
    pub async fn hold(addrs: &[SocketAddr]) -> Self {
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
pub fn count(screen: &str, needle: &str) -> usize {
    screen.matches(needle).count()
}

/// A TCP relay in front of the server whose client side can be cut while the server side stays
/// open: the half-dead connection of a laptop that changed networks, which the server cannot
/// tell from a quiet one until its ping times out.
pub struct Relay {
    pub addr: SocketAddr,
    cut: tokio::sync::watch::Sender<u32>,
}

impl Relay {
    pub async fn to(server: SocketAddr) -> Self {
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

    pub fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}
