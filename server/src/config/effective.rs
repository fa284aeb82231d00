//! Every setting in force, by its key (the flag's long name), from wherever it came: what
//! `--print-config` prints, as a file `--config` reads back, and what SIGHUP compares to see
//! what a new file changes.
//!
//! Read from clap's matches rather than from [`super::Config`]'s fields, so every flag is
//! here the day it is added. Values are as given (`30d`, not seconds), typed for TOML by the
//! flag's parser. The Redis URL is the one secret: printed only if it holds none.

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

use super::file::NOT_IN_A_FILE;
use super::load::conflict;
use crate::broker::redis::RedisUrl;
use crate::broker::redis::address::SecretArg;

/// The settings in force, in the order `--help` lists them.
#[derive(Debug, Clone)]
pub struct Effective {
    settings: Vec<Setting>,
    /// The file they were read from, if any.
    file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
struct Setting {
    key: String,
    /// The flag's help, for the printed file's comments.
    help: String,
    value: Value,
    /// The flag is repeatable: unset, it is an empty list.
    list: bool,
}

#[derive(Debug, Clone)]
enum Value {
    /// Given, or a default.
    Set(toml::Value),
    /// Not given, and no default.
    Unset,
    /// A default that does not apply: the flag it conflicts with (named here) is given.
    Idle(toml::Value, String),
    /// The Redis URL: kept as given, shown without its password.
    Secret(SecretArg),
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Set(a), Self::Set(b)) => a == b,
            (Self::Unset, Self::Unset) => true,
            (Self::Idle(a, _), Self::Idle(b, _)) => a == b,
            (Self::Secret(a), Self::Secret(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl Value {
    /// As a log line or a comment shows it: never a password.
    fn shown(&self) -> String {
        match self {
            Self::Set(value) => value.to_string(),
            Self::Unset => "not set".into(),
            Self::Idle(value, _) => format!("{value} (not in force)"),
            Self::Secret(raw) => match RedisUrl::parse(raw.as_str()) {
                Ok(url) => format!("{:?}", url.to_string()),
                Err(_) => "(not shown: not a Redis URL, and it may hold a password)".into(),
            },
        }
    }
}

/// One setting that differs between two [`Effective`]s.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub key: String,
    /// Both as [`Value::shown`] shows them: no password.
    pub was: String,
    pub now: String,
}

impl Effective {
    pub fn of(cmd: &Command, matches: &ArgMatches, file: Option<PathBuf>) -> Self {
        let given: Vec<&Arg> = cmd
            .get_arguments()
            .filter(|arg| {
                matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine)
            })
            .collect();
        let settings = cmd
            .get_arguments()
            .filter_map(|arg| {
                let key = arg.get_long().filter(|long| !NOT_IN_A_FILE.contains(long))?;
                let raw: Option<Vec<String>> = matches
                    .get_raw(arg.get_id().as_str())
                    .map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect());
                let value = match raw {
                    None => Value::Unset,
                    Some(raw) if is::<SecretArg>(arg) => match raw.first() {
                        Some(url) => Value::Secret(SecretArg::from(url.clone())),
                        None => Value::Unset,
                    },
                    Some(raw) => typed(arg, &raw),
                };
                let by_default =
                    matches.value_source(arg.get_id().as_str()) == Some(ValueSource::DefaultValue);
                let value = match value {
                    Value::Set(value) if by_default && gives_flags(arg, &value) => {
                        match given.iter().find(|g| conflict(cmd, g, arg) || conflict(cmd, arg, g))
                        {
                            Some(g) => Value::Idle(value, long_of(g)),
                            None => Value::Set(value),
                        }
                    }
                    value => value,
                };
                let mut help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                // clap drops the summary's full stop; a comment is prose.
                if help.ends_with(|c: char| c.is_alphanumeric() || c == ')' || c == '`') {
                    help.push('.');
                }
                let list = matches!(arg.get_action(), ArgAction::Append);
                Some(Setting { key: key.to_owned(), help, value, list })
            })
            .collect();
        Self { settings, file }
    }

    /// The file this came from, if any.
    pub fn file(&self) -> Option<&std::path::Path> {
        self.file.as_deref()
    }

    /// The settings that differ in `new`, in order.
    pub fn changes(&self, new: &Effective) -> Vec<Change> {
        let mut changes = Vec::new();
        for setting in &new.settings {
            let was = self.settings.iter().find(|s| s.key == setting.key).map(|s| &s.value);
            if was != Some(&setting.value) {
                changes.push(Change {
                    key: setting.key.clone(),
                    was: was.map_or_else(|| "not set".into(), Value::shown),
                    now: setting.value.shown(),
                });
            }
        }
        changes
    }

    /// These settings, with those `take` picks from `new`: what is in force after a reload
    /// that changes only some.
    pub fn with(&self, new: &Effective, take: impl Fn(&str) -> bool) -> Effective {
        let settings = self
            .settings
            .iter()
            .map(|setting| match new.settings.iter().find(|s| s.key == setting.key) {
                Some(newer) if take(&setting.key) => newer.clone(),
                _ => setting.clone(),
            })
            .collect();
        Self { settings, file: new.file.clone() }
    }

    /// As a TOML file that `--config` reads back to the same settings, each with its flag's
    /// help as a comment.
    pub fn to_toml(&self) -> String {
        let mut out = String::from(
            "# chat-server's settings in force: its defaults, then the --config file, then the\n\
             # command line. `chat-server --config FILE` reads this file back.\n",
        );
        if let Some(file) = &self.file {
            out.push_str(&format!("# Read from: {}\n", file.display()));
        }
        for Setting { key, help, value, list } in &self.settings {
            out.push('\n');
            for line in wrap(help, 96) {
                out.push_str(&format!("# {line}\n"));
            }
            match value {
                Value::Set(value) => out.push_str(&format!("{key} = {value}\n")),
                Value::Unset if *list => out.push_str(&format!("{key} = []\n")),
                Value::Unset => out.push_str(&format!("# {key}: not set\n")),
                Value::Idle(value, by) => {
                    out.push_str(&format!("# {key} = {value}  (not in force: {by} is given)\n"))
                }
                Value::Secret(raw) => match RedisUrl::parse(raw.as_str()) {
                    Ok(url) if url.to_string() == raw.as_str().trim() => {
                        out.push_str(&format!("{key} = {}\n", toml::Value::from(url.to_string())))
                    }
                    _ => out.push_str(&format!(
                        "# {key} = {}  (not printed: it holds a password; \
                         give it with --redis-url-file or CHAT_REDIS_URL)\n",
                        value.shown()
                    )),
                },
            }
        }
        out
    }
}

/// The value of `arg` given as `raw`, typed as its parser reads it: a number for a number, a
/// list for a repeatable flag, `true` or `false` for a switch.
fn typed(arg: &Arg, raw: &[String]) -> Value {
    let first = raw.first().cloned().unwrap_or_default();
    Value::Set(match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => toml::Value::Boolean(first == "true"),
        ArgAction::Count => first.parse().map_or(toml::Value::String(first), toml::Value::Integer),
        ArgAction::Append => toml::Value::Array(raw.iter().map(|r| scalar(arg, r)).collect()),
        _ => scalar(arg, &first),
    })
}

fn scalar(arg: &Arg, raw: &str) -> toml::Value {
    let number = is::<u8>(arg)
        || is::<u16>(arg)
        || is::<u32>(arg)
        || is::<u64>(arg)
        || is::<usize>(arg)
        || is::<i64>(arg);
    let fraction = is::<f64>(arg) || is::<f32>(arg);
    match (number, fraction) {
        (true, _) => raw.parse().map_or_else(|_| raw.into(), toml::Value::Integer),
        (_, true) => raw.parse().map_or_else(|_| raw.into(), toml::Value::Float),
        _ => raw.into(),
    }
}

/// Whether `arg`'s parser makes a `T`.
fn is<T: 'static>(arg: &Arg) -> bool {
    arg.get_value_parser().type_id() == std::any::TypeId::of::<T>()
}

/// Whether `value` of `arg` in a file gives any flag: a switch off, a count of 0 and an
/// empty list give none.
fn gives_flags(arg: &Arg, value: &toml::Value) -> bool {
    match (arg.get_action(), value) {
        (ArgAction::SetTrue, toml::Value::Boolean(on)) => *on,
        (ArgAction::Count, toml::Value::Integer(n)) => *n != 0,
        (ArgAction::Append, toml::Value::Array(items)) => !items.is_empty(),
        _ => true,
    }
}

fn long_of(arg: &Arg) -> String {
    arg.get_long().map_or_else(|| arg.get_id().to_string(), |long| format!("--{long}"))
}

/// `text` in lines of at most `width` characters, broken between words.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}
