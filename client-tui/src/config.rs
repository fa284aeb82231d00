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
//! ```
//!
//! Every value is checked before the screen is taken over, with the file named in the error.

use std::path::{Path, PathBuf};

use chrono::format::{Item, StrftimeItems};
use protocol::{Nick, RoomName};
use serde::{Deserialize, Serialize};

use crate::settings::{DEFAULT_TIME_FORMAT, Settings};

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
    let name = flags.name.or(file.name).ok_or_else(|| {
        ConfigError::Invalid(
            "no name: give --name NAME, or set name in the config file (--print-config shows where)"
                .into(),
        )
    })?;
    let nick = Nick::parse(&name)
        .map_err(|e| ConfigError::Invalid(format!("cannot use {name:?} as your name: {e}")))?;
    let server = flags.server.or(file.server).unwrap_or_else(|| DEFAULT_SERVER.to_owned());
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
    Ok(Settings {
        rooms,
        time_format,
        bell: flags.bell.or(file.bell).unwrap_or(false),
        colors,
        ..Settings::new(nick, server)
    })
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
    }

    #[test]
    fn printed_settings_read_back_the_same() {
        let flags = FileConfig {
            name: Some("Michael".into()),
            rooms: Some(vec!["rust".into()]),
            ..FileConfig::default()
        };
        let s = resolve(flags, None, false).unwrap();
        let again = resolve(FileConfig::default(), Some(file(&to_toml(&s))), false).unwrap();
        assert_eq!(to_toml(&again), to_toml(&s));
    }
}
