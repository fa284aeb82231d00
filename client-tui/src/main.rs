//! `chat-tui --name Michael`: parses flags, sets up logging to a file if asked, runs the client.

use std::net::ToSocketAddrs as _;

use chat_tui::app::Settings;
use clap::Parser;
use protocol::{Nick, RoomName};

/// A terminal chat client: a connection log, the conversation and an input line.
/// Type /help inside for the commands.
#[derive(Debug, Parser)]
#[command(name = "chat-tui", version)]
struct Args {
    /// Your nick.
    #[arg(long, value_parser = |s: &str| Nick::parse(s).map_err(|e| e.to_string()))]
    name: Nick,

    /// Server address (HOST:PORT).
    #[arg(long, default_value = "127.0.0.1:7878", value_name = "ADDR")]
    server: String,

    /// Room to be in after connecting, besides lobby.
    #[arg(long, default_value = "lobby", value_parser = |s: &str| RoomName::parse(s).map_err(|e| e.to_string()))]
    room: RoomName,

    /// Write a debug log to FILE (the terminal itself is never logged to).
    #[arg(long, value_name = "FILE")]
    log: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(path) = &args.log {
        let file = std::fs::File::create(path)
            .map_err(|e| anyhow::anyhow!("cannot write the log file {}: {e}", path.display()))?;
        tracing_subscriber::fmt().with_writer(std::sync::Mutex::new(file)).with_ansi(false).init();
    }
    // A typo in the address is better reported before the screen is taken over.
    if let Err(e) = args.server.to_socket_addrs() {
        anyhow::bail!("cannot use server address {:?}: {e}", args.server);
    }
    let utc_offset = *chrono::Local::now().offset();
    let settings =
        Settings { rooms: vec![args.room], utc_offset, ..Settings::new(args.name, args.server) };
    chat_tui::terminal::run(settings).await
}
