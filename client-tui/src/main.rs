//! `chat-tui --name Michael`: reads the config file and flags, sets up logging to a file if
//! asked, runs the client.

use std::net::ToSocketAddrs as _;
use std::path::PathBuf;

use chat_tui::config::{self, FileConfig};
use chat_tui::notify::NotifyStyle;
use chat_tui::password;
use chat_tui::tls::{TlsClient, known};
use clap::Parser;

/// A terminal chat client: windows for rooms, private chats and the server, and an input line.
/// Type /help or press F1 inside for the commands and keys.
#[derive(Debug, Parser)]
#[command(name = "chat-tui", version)]
struct Args {
    /// Your nick (or `name` in the config file).
    #[arg(long)]
    name: Option<String>,

    /// Server address, HOST:PORT [default: 127.0.0.1:7878].
    #[arg(long, value_name = "ADDR")]
    server: Option<String>,

    /// Connect over TLS; the certificate must be vouched for by the system's CAs (or
    /// --tls-ca) for the host of --server, or be trusted on first use (you are asked once).
    #[arg(long, overrides_with = "no_tls")]
    tls: bool,
    #[arg(long, hide = true)]
    no_tls: bool,

    /// CA certificates (PEM) for TLS, besides the system's; repeatable. Implies --tls, and
    /// then a CA must vouch for the certificate (nothing is trusted on first use).
    #[arg(long = "tls-ca", value_name = "FILE")]
    tls_ca: Vec<PathBuf>,

    /// Trust exactly the certificate with this SHA-256 fingerprint (as chat-server prints
    /// it) and no other. Implies --tls.
    #[arg(long, value_name = "SHA256")]
    tls_fingerprint: Option<String>,

    /// A room to join after connecting, besides lobby; repeat for several (the last is shown).
    #[arg(long = "room", value_name = "ROOM")]
    rooms: Vec<String>,

    /// How message times are shown, as strftime [default: %H:%M].
    #[arg(long, value_name = "FORMAT")]
    time_format: Option<String>,

    /// Ring the terminal bell on mentions and private messages.
    #[arg(long, overrides_with = "no_bell")]
    bell: bool,
    #[arg(long, hide = true)]
    no_bell: bool,

    /// No nick colours (also when NO_COLOR is set).
    #[arg(long)]
    no_colors: bool,

    /// Leave the mouse to the terminal: text is selected without Shift, and the wheel
    /// scrolls the terminal, not the conversation.
    #[arg(long)]
    no_mouse: bool,

    /// Log in to your nick's account with the password on the first line of FILE, which must
    /// be readable by you alone (chmod 600). Without it: the CHAT_PASSWORD environment
    /// variable, else the config file's password_command (its first line of output), else
    /// you are asked when the server wants the password.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,

    /// The config file [default: $XDG_CONFIG_HOME/chat-tui/config.toml or
    /// ~/.config/chat-tui/config.toml].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Print the effective settings (config file and flags) as TOML, and exit.
    #[arg(long)]
    print_config: bool,

    /// Desktop notifications for mentions and private messages, through the terminal:
    /// osc777 (foot, kitty, WezTerm, VTE terminals, urxvt), osc9 (iTerm2, Windows Terminal,
    /// kitty) or off [default: off].
    #[arg(long, value_name = "KIND")]
    notify: Option<NotifyStyle>,

    /// Write a debug log to FILE (the terminal itself is never logged to).
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat-tui: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let (path, required) = match &args.config {
        Some(path) => (Some(path.clone()), true),
        None => (config::default_path(), false),
    };
    let file = match &path {
        Some(path) => config::load(path, required)?,
        None => None,
    };
    let flags = FileConfig {
        name: args.name,
        server: args.server,
        rooms: (!args.rooms.is_empty()).then_some(args.rooms),
        time_format: args.time_format,
        bell: if args.bell {
            Some(true)
        } else if args.no_bell {
            Some(false)
        } else {
            None
        },
        colors: args.no_colors.then_some(false),
        mouse: args.no_mouse.then_some(false),
        tls: if args.no_tls {
            Some(false)
        } else if args.tls || !args.tls_ca.is_empty() || args.tls_fingerprint.is_some() {
            Some(true)
        } else {
            None
        },
        tls_ca: (!args.tls_ca.is_empty()).then_some(args.tls_ca),
        tls_fingerprint: args.tls_fingerprint,
        password_command: None,
        highlights: None,
        notify: args.notify,
        links: None,
        logs: None,
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let mut settings = config::resolve(flags, file, no_color)?;
    let sources = password::Sources {
        file: args.password_file.as_deref(),
        env: std::env::var_os(password::ENV),
        command: settings.password_command.as_deref(),
    };
    if args.print_config {
        match &path {
            Some(path) if path.exists() => println!("# read from {}", path.display()),
            Some(path) => println!("# no config file at {}", path.display()),
            None => println!("# no config file (neither XDG_CONFIG_HOME nor HOME is set)"),
        }
        if let Some(path) = known::default_path() {
            println!("# certificates trusted on first use: {}", path.display());
        }
        if let Some(path) = chat_tui::ignore::default_path() {
            println!("# ignore list: {}", path.display());
        }
        if let Some(dir) = chat_tui::chatlog::default_dir().filter(|_| settings.logs) {
            println!("# chat logs: {}", dir.display());
        }
        println!("# password: {}", sources.describe());
        print!("{}", config::to_toml(&settings));
        return Ok(());
    }
    // Before the screen is taken over: a refused file or a failed command is said here.
    settings.password = password::load(sources).map_err(|e| anyhow::anyhow!(e))?;
    if let Some(path) = &args.log {
        let file = std::fs::File::create(path)
            .map_err(|e| anyhow::anyhow!("cannot write the log file {}: {e}", path.display()))?;
        tracing_subscriber::fmt().with_writer(std::sync::Mutex::new(file)).with_ansi(false).init();
    }
    // A typo in the address is better reported before the screen is taken over.
    if let Err(e) = settings.server.to_socket_addrs() {
        anyhow::bail!("cannot use server address {:?}: {e}", settings.server);
    }
    let tls = match &settings.tls {
        Some(tls) => Some(TlsClient::load(tls, known::default_path())?),
        None => None,
    };
    settings.utc_offset = *chrono::Local::now().offset();
    chat_tui::terminal::run(settings, tls).await
}
