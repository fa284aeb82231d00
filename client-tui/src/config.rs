//! Settings from an optional TOML file, overridden by flags: the file keeps what a person
//! always wants (their name, their server, their rooms), flags change one run.
//!
//! ```toml
//! # ~/.config/chat-tui/config.toml
//! name = "Michael"
//! server = "chat.example.org:7878"
//! rooms = ["rust", "ops"]      # joined on start, besides lobby; the last is shown
//! time_format = "%H:%M:%S"     # strftime, as chrono reads it
//! bell = true                  # ring on mentions and private messages
//! colors = true                # nick colours (NO_COLOR in the environment turns them off)
//! mouse = false                # leave the mouse to the terminal: select text without Shift
//! tls = true                   # TLS, the certificate checked against the system's CAs ...
//! tls_ca = ["/etc/chat/ca.pem"]  # ... and these (then a CA must vouch for it)
//! tls_fingerprint = "AB:CD:..."  # or exactly this certificate (SHA-256), nothing else
//! password_command = "pass show chat/Michael"  # prints your account's password
//! highlights = ["rust", "deploy"]  # words marked like a mention of your nick
//! notify = "osc777"            # desktop notifications through the terminal: osc777, osc9, off
//! links = true                 # URLs clickable (OSC 8 hyperlinks)
//! logs = true                  # chat logs in $XDG_DATA_HOME/chat-tui/logs, a file per window and day
//! ```
//!
//! `tls_ca` or `tls_fingerprint` turn TLS on unless `tls = false` (or `--no-tls`) says not to.
//!
//! The account's password (for a nick registered with `/register`) comes from the first of:
//! `--password-file FILE` (its first line; the file must be readable by you alone, `chmod
//! 600`), the `CHAT_PASSWORD` environment variable, `password_command` (run with `sh -c` at
//! start-up, within a minute; the first line it prints). With none of them, chat-tui asks
//! for it when the server wants it. The password itself never goes in this file, and chat-tui
//! never writes it anywhere ([`crate::password`]).
//!
//! Every value is checked before the screen is taken over, with the file named in the error.

use std::path::{Path, PathBuf};

use chrono::format::{Item, StrftimeItems};
use protocol::fingerprint;
use protocol::{Nick, RoomName};
use serde::{Deserialize, Serialize};

use crate::highlight::Highlights;
use crate::notify::NotifyStyle;
use crate::settings::{DEFAULT_TIME_FORMAT, Settings};
use crate::tls::{ServerAddr, TlsSettings};

/// The server when neither flags nor file name one.
pub const DEFAULT_SERVER: &str = "127.0.0.1:7878";
/// Longest config file read, in bytes: a config is a few lines.
pub const MAX_CONFIG_BYTES: u64 = 64 * 1024;
/// Most rooms joined on start.
pub const MAX_START_ROOMS: usize = 32;

/// Settings as the file or the flags give them; every one optional (`None`: not given).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub name: Option<String>,
    pub server: Option<String>,
    pub rooms: Option<Vec<String>>,
    pub time_format: Option<String>,
    pub bell: Option<bool>,
    pub colors: Option<bool>,
    pub mouse: Option<bool>,
    pub tls: Option<bool>,
    pub tls_ca: Option<Vec<PathBuf>>,
    pub tls_fingerprint: Option<String>,
    pub password_command: Option<String>,
    pub highlights: Option<Vec<String>>,
    pub notify: Option<NotifyStyle>,
    pub links: Option<bool>,
    pub logs: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("the config file {path} is not valid: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("{0}")]
    Invalid(String),
}

/// The default file: `$XDG_CONFIG_HOME/chat-tui/config.toml`, else
/// `~/.config/chat-tui/config.toml`; `None` without either variable.
pub fn default_path() -> Option<PathBuf> {
    let dir = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(dir.join("chat-tui").join("config.toml"))
}

/// The client's data directory: `$XDG_DATA_HOME/chat-tui`, else `~/.local/share/chat-tui`;
/// `None` without either variable. What the client writes lives here: the certificates
/// trusted, the ignore list, the chat logs.
pub fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local/share"))
        })?;
    Some(dir.join("chat-tui"))
}

/// Reads the config file at `path`. A missing file is no config when `required` is false (the
/// default path), an error when true (a path the person gave).
pub fn load(path: &Path, required: bool) -> Result<Option<FileConfig>, ConfigError> {
    let read_error = |reason: String| ConfigError::Read { path: path.to_owned(), reason };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(None),
        Err(e) => return Err(read_error(e.to_string())),
    };
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(read_error(format!(
            "it is {} bytes; a config file is at most {MAX_CONFIG_BYTES}",
            meta.len()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| ConfigError::Parse { path: path.to_owned(), reason: e.to_string() })
}

/// Checks a time format: chrono panics on printing a format with an unknown specifier, so
/// one is refused here instead.
pub fn check_time_format(format: &str) -> Result<(), ConfigError> {
    if StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
        return Err(ConfigError::Invalid(format!(
            "time format {format:?} is not valid (see `man strftime`; the default is {DEFAULT_TIME_FORMAT:?})"
        )));
    }
    Ok(())
}

/// Flags over the file over the defaults, every value checked. `no_color`: the `NO_COLOR`
/// convention's variable is set.
pub fn resolve(
    flags: FileConfig,
    file: Option<FileConfig>,
    no_color: bool,
) -> Result<Settings, ConfigError> {
    let file = file.unwrap_or_default();
    let tls = resolve_tls(&flags, &file)?;
    let name = flags.name.or(file.name).ok_or_else(|| {
        ConfigError::Invalid(
            "no name: give --name NAME, or set name in the config file (--print-config shows where)"
                .into(),
        )
    })?;
    let nick = Nick::parse(&name)
        .map_err(|e| ConfigError::Invalid(format!("cannot use {name:?} as your name: {e}")))?;
    let server = flags.server.or(file.server).unwrap_or_else(|| DEFAULT_SERVER.to_owned());
    if tls.is_some() {
        ServerAddr::parse(&server).map_err(ConfigError::Invalid)?;
    }
    let rooms = flags.rooms.or(file.rooms).unwrap_or_default();
    if rooms.len() > MAX_START_ROOMS {
        return Err(ConfigError::Invalid(format!(
            "{} rooms to join on start; at most {MAX_START_ROOMS}",
            rooms.len()
        )));
    }
    let rooms = rooms
        .iter()
        .map(|r| {
            RoomName::parse(r.trim_start_matches('#'))
                .map_err(|e| ConfigError::Invalid(format!("cannot join {r:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let time_format =
        flags.time_format.or(file.time_format).unwrap_or_else(|| DEFAULT_TIME_FORMAT.to_owned());
    check_time_format(&time_format)?;
    let colors = flags.colors.or(file.colors).unwrap_or(true) && !no_color;
    let highlights = flags.highlights.or(file.highlights).unwrap_or_default();
    let highlights = Highlights::parse(&highlights).map_err(ConfigError::Invalid)?;
    Ok(Settings {
        highlights,
        notify: flags.notify.or(file.notify).unwrap_or_default(),
        links: flags.links.or(file.links).unwrap_or(true),
        logs: flags.logs.or(file.logs).unwrap_or(false),
        tls,
        rooms,
        time_format,
        bell: flags.bell.or(file.bell).unwrap_or(false),
        colors,
        mouse: flags.mouse.or(file.mouse).unwrap_or(true),
        password_command: flags.password_command.or(file.password_command),
        ..Settings::new(nick, server)
    })
}

/// TLS from the flags over the file: on when asked for, or when a CA or a pin is given and
/// it is not turned off.
fn resolve_tls(flags: &FileConfig, file: &FileConfig) -> Result<Option<TlsSettings>, ConfigError> {
    let ca_files = flags.tls_ca.clone().or_else(|| file.tls_ca.clone()).unwrap_or_default();
    let pin = match flags.tls_fingerprint.as_ref().or(file.tls_fingerprint.as_ref()) {
        Some(text) => Some(fingerprint::parse(text).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "the TLS fingerprint {text:?} is not a SHA-256 fingerprint (64 hex digits, \
                 colons allowed, as chat-server prints it)"
            ))
        })?),
        None => None,
    };
    let on = flags.tls.or(file.tls).unwrap_or(!ca_files.is_empty() || pin.is_some());
    Ok(on.then_some(TlsSettings { ca_files, pin }))
}

/// The effective settings as a config file would say them.
pub fn to_toml(settings: &Settings) -> String {
    let file = FileConfig {
        name: Some(settings.nick.as_str().to_owned()),
        server: Some(settings.server.clone()),
        rooms: Some(settings.rooms.iter().map(|r| r.as_str().to_owned()).collect()),
        time_format: Some(settings.time_format.clone()),
        bell: Some(settings.bell),
        colors: Some(settings.colors),
        mouse: Some(settings.mouse),
        tls: Some(settings.tls.is_some()),
        tls_ca: settings.tls.as_ref().map(|t| t.ca_files.clone()).filter(|f| !f.is_empty()),
        tls_fingerprint: settings.tls.as_ref().and_then(|t| t.pin).map(|d| fingerprint::show(&d)),
        password_command: settings.password_command.clone(),
        highlights: Some(settings.highlights.words().to_vec()),
        notify: Some(settings.notify),
        links: Some(settings.links),
        logs: Some(settings.logs),
    };
    toml::to_string(&file).unwrap_or_else(|e| format!("# cannot show the settings: {e}\n"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn file(text: &str) -> FileConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn flags_override_the_file_which_overrides_the_defaults() {
        let f = file(
            "name = \"Michael\"\nserver = \"chat:1\"\nrooms = [\"rust\", \"#ops\"]\nbell = true\n",
        );
        let s = resolve(FileConfig::default(), Some(f.clone()), false).unwrap();
        assert_eq!(s.nick.as_str(), "Michael");
        assert_eq!(s.server, "chat:1");
        assert_eq!(s.rooms.iter().map(|r| r.as_str()).collect::<Vec<_>>(), ["rust", "ops"]);
        assert!(s.bell && s.colors);
        assert_eq!(s.time_format, DEFAULT_TIME_FORMAT);
        let flags = FileConfig {
            name: Some("Tracy".into()),
            rooms: Some(vec!["go".into()]),
            bell: Some(false),
            time_format: Some("%H:%M:%S".into()),
            ..FileConfig::default()
        };
        let s = resolve(flags, Some(f), true).unwrap();
        assert_eq!((s.nick.as_str(), s.server.as_str()), ("Tracy", "chat:1"));
        assert_eq!(s.rooms.len(), 1);
        assert!(!s.bell);
        assert!(!s.colors, "NO_COLOR wins");
        assert_eq!(s.time_format, "%H:%M:%S");
        let s =
            resolve(FileConfig { name: Some("Al".into()), ..FileConfig::default() }, None, false)
                .unwrap();
        assert_eq!(s.server, DEFAULT_SERVER);
    }

    /// The mouse is captured unless the file or the flag says not to; `--print-config` says
    /// which.
    #[test]
    fn mouse_capture_is_on_unless_turned_off() {
        let named = |text: &str| Some(file(&format!("name = \"Al\"\n{text}")));
        assert!(resolve(FileConfig::default(), named(""), false).unwrap().mouse);
        let off = resolve(FileConfig::default(), named("mouse = false"), false).unwrap();
        assert!(!off.mouse);
        assert!(to_toml(&off).contains("mouse = false"));
        let flag = FileConfig { mouse: Some(false), ..FileConfig::default() };
        assert!(!resolve(flag, named("mouse = true"), false).unwrap().mouse);
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        let err = |flags: FileConfig, f: Option<FileConfig>| {
            resolve(flags, f, false).unwrap_err().to_string()
        };
        assert!(err(FileConfig::default(), None).contains("no name"));
        let named = |n: &str| FileConfig { name: Some(n.into()), ..FileConfig::default() };
        assert!(err(named("a b"), None).contains("cannot use \"a b\" as your name"));
        let bad_time = FileConfig { time_format: Some("%Q".into()), ..named("Al") };
        assert!(err(bad_time, None).contains("time format \"%Q\" is not valid"));
        let bad_room = Some(file("rooms = [\"no spaces allowed\"]"));
        assert!(err(named("Al"), bad_room).contains("cannot join"));
        assert!(toml::from_str::<FileConfig>("nmae = \"x\"").is_err(), "unknown keys are refused");
    }

    #[test]
    fn tls_is_asked_for_or_implied_by_a_ca_or_a_pin() {
        let named = FileConfig { name: Some("Al".into()), ..FileConfig::default() };
        let tls = |flags: FileConfig, f: &str| resolve(flags, Some(file(f)), false).map(|s| s.tls);
        assert_eq!(tls(named.clone(), "").unwrap(), None);
        let on = tls(named.clone(), "tls = true").unwrap().unwrap();
        assert_eq!(on, TlsSettings::default());
        let pin = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let with =
            tls(named.clone(), &format!("tls_ca = [\"ca.pem\"]\ntls_fingerprint = \"{pin}\""))
                .unwrap()
                .unwrap();
        assert_eq!(with.ca_files, [PathBuf::from("ca.pem")]);
        assert_eq!(with.pin, Some(fingerprint::digest(b"abc")));
        let off = FileConfig { tls: Some(false), ..named.clone() };
        assert_eq!(tls(off, "tls_ca = [\"ca.pem\"]").unwrap(), None, "--no-tls wins");
        let flag_ca = FileConfig { tls_ca: Some(vec!["mine.pem".into()]), ..named.clone() };
        let ca = tls(flag_ca, "tls = true\ntls_ca = [\"ca.pem\"]").unwrap().unwrap();
        assert_eq!(ca.ca_files, [PathBuf::from("mine.pem")], "flags replace the file's list");
        let err = tls(named.clone(), "tls_fingerprint = \"AB:CD\"").unwrap_err().to_string();
        assert!(err.contains("not a SHA-256 fingerprint"), "{err}");
        let err = tls(named, "tls = true\nserver = \"no-port\"").unwrap_err().to_string();
        assert!(err.contains("no :PORT"), "{err}");
    }

    #[test]
    fn files_are_read_or_explained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        assert_eq!(load(&path, false).unwrap(), None, "no default file: no config");
        assert!(load(&path, true).unwrap_err().to_string().contains("cannot read the config file"));
        std::fs::write(&path, "name = [").unwrap();
        assert!(load(&path, false).unwrap_err().to_string().contains("is not valid"));
        std::fs::write(&path, "name = \"Michael\"\ncolors = false\n").unwrap();
        let f = load(&path, false).unwrap().unwrap();
        assert_eq!((f.name.as_deref(), f.colors), (Some("Michael"), Some(false)));
        std::fs::write(&path, "name = \"Michael\"\npassword_command = \"pass show chat\"\n")
            .unwrap();
        let f = load(&path, false).unwrap().unwrap();
        let s = resolve(FileConfig::default(), Some(f), false).unwrap();
        assert_eq!(s.password_command.as_deref(), Some("pass show chat"));
        assert!(to_toml(&s).contains("password_command = \"pass show chat\""), "{}", to_toml(&s));
        assert!(s.password.is_none(), "the command is run at start-up, not while reading");
    }

    /// Highlight words, notifications, links and logs: off or empty by default, read from
    /// the file, a flag over the file, bad values refused, and printed back the same.
    #[test]
    fn attention_settings_are_read_checked_and_printed() {
        let named = FileConfig { name: Some("Al".into()), ..FileConfig::default() };
        let s = resolve(named.clone(), None, false).unwrap();
        assert!(s.highlights.words().is_empty() && s.links && !s.logs);
        assert_eq!(s.notify, NotifyStyle::Off);
        let f = file(
            "highlights = [\"Rust\", \"deploy\"]\nnotify = \"osc777\"\nlinks = false\nlogs = true\n",
        );
        let s = resolve(named.clone(), Some(f.clone()), false).unwrap();
        assert_eq!(s.highlights.words(), ["rust", "deploy"]);
        assert_eq!((s.notify, s.links, s.logs), (NotifyStyle::Osc777, false, true));
        let flag = FileConfig { notify: Some(NotifyStyle::Osc9), ..named.clone() };
        assert_eq!(resolve(flag, Some(f), false).unwrap().notify, NotifyStyle::Osc9);
        let again = resolve(FileConfig::default(), Some(file(&to_toml(&s))), false).unwrap();
        assert_eq!(to_toml(&again), to_toml(&s));
        assert!(toml::from_str::<FileConfig>("notify = \"bell\"").is_err());
        let err = resolve(named, Some(file("highlights = [\"\"]")), false).unwrap_err();
        assert!(err.to_string().contains("highlight word is empty"), "{err}");
    }

    #[test]
    fn printed_settings_read_back_the_same() {
        let flags = FileConfig {
            name: Some("Michael".into()),
            rooms: Some(vec!["rust".into()]),
            ..FileConfig::default()
        };
        let s = resolve(flags.clone(), None, false).unwrap();
        let again = resolve(FileConfig::default(), Some(file(&to_toml(&s))), false).unwrap();
        assert_eq!(to_toml(&again), to_toml(&s));
        let pin = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let tls = FileConfig {
            tls_ca: Some(vec!["ca.pem".into()]),
            tls_fingerprint: Some(pin.into()),
            ..flags
        };
        let s = resolve(tls, None, false).unwrap();
        assert!(to_toml(&s).contains("tls = true"), "{}", to_toml(&s));
        let again = resolve(FileConfig::default(), Some(file(&to_toml(&s))), false).unwrap();
        assert_eq!(to_toml(&again), to_toml(&s));
    }
}
