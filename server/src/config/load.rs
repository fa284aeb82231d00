//! Where the settings come from: the defaults, then the `--config` file, then the command
//! line, each winning over the one before.
//!
//! The command line is read twice. First leniently, for the file's path and the flags it
//! names; then the file's flags (`file.rs`), less those the command line decides, go before
//! the command line's, and clap reads them all. A key the command line decides is one it
//! names, or one that conflicts with a flag it names: `--flood-rate 5` over a file's
//! `no-flood-control = true` means flood control at 5, not an error. So a list on the
//! command line (`--admin`) replaces the file's rather than adding to it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Command, CommandFactory as _, FromArgMatches as _};

use super::Config;
use super::effective::Effective;
use super::file::{ConfigFile, FileArgs};

/// A command line's settings, with the file it names.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    /// Every setting in force, as `--print-config` shows it and SIGHUP compares it.
    pub effective: Effective,
    /// Others than its owner may read the config file, and it gives the Redis URL.
    pub secret_open_to_others: bool,
    /// The command line, program name first: SIGHUP reads the file again under it.
    pub(super) args: Vec<OsString>,
}

impl Loaded {
    /// The settings of `args` (the program's name first) and of the file its `--config`
    /// names. `Err` is what clap would say of a wrong flag (or help, or the version), to show
    /// with [`clap::Error::exit`]; a fault in the file names the file.
    pub fn from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        load(args.into_iter().map(Into::into).collect())
    }

    /// The same command line, with the file read again.
    pub fn again(&self) -> Result<Self, clap::Error> {
        load(self.args.clone())
    }
}

fn load(args: Vec<OsString>) -> Result<Loaded, clap::Error> {
    let mut cmd = Config::command();
    cmd.build();
    let given = cmd.clone().ignore_errors(true).try_get_matches_from_mut(&args)?;
    let named: Vec<&Arg> =
        cmd.get_arguments().filter(|arg| from_command_line(&given, arg)).collect();
    let path = given.get_raw("config").and_then(|mut values| values.next_back()).map(PathBuf::from);
    let mut file_args = FileArgs::default();
    let mut secret_open_to_others = false;
    if let Some(path) = &path {
        let file =
            ConfigFile::read(path).map_err(|e| clap::Error::raw(e.kind(), format!("{e}\n")))?;
        file_args = file
            .args(&cmd, |arg| named.iter().any(|given| decides(&cmd, given, arg)))
            .map_err(|e| clap::Error::raw(e.kind(), format!("{e}\n")))?;
        secret_open_to_others =
            file.open_to_others() && file_args.keys.iter().any(|key| key == "redis");
    }
    let argv = args.iter().take(1).chain(&file_args.tokens).chain(args.iter().skip(1));
    let matches = cmd
        .try_get_matches_from_mut(argv.cloned())
        .map_err(|e| naming_the_file(e, &file_args, path.as_deref()))?;
    let config = Config::from_arg_matches(&matches)?;
    let effective = Effective::of(&cmd, &matches, path);
    Ok(Loaded { config, effective, secret_open_to_others, args })
}

fn from_command_line(matches: &ArgMatches, arg: &Arg) -> bool {
    matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine)
}

/// Whether `given` on the command line decides `arg`: it is the same flag, or either
/// conflicts with the other.
fn decides(cmd: &Command, given: &Arg, arg: &Arg) -> bool {
    given.get_id() == arg.get_id() || conflict(cmd, given, arg) || conflict(cmd, arg, given)
}

/// `a` names `b` among the flags it cannot go with.
pub(super) fn conflict(cmd: &Command, a: &Arg, b: &Arg) -> bool {
    cmd.get_arg_conflicts_with(a).iter().any(|c| c.get_id() == b.get_id())
}

/// clap's error about flags that came from the file, with the file's name in front: the
/// operator did not type them.
fn naming_the_file(e: clap::Error, file: &FileArgs, path: Option<&Path>) -> clap::Error {
    use clap::error::{ContextKind, ContextValue};
    let Some(path) = path else { return e };
    let mut flags = Vec::new();
    for kind in [ContextKind::InvalidArg, ContextKind::PriorArg] {
        match e.get(kind) {
            Some(ContextValue::String(flag)) => flags.push(flag.clone()),
            Some(ContextValue::Strings(more)) => flags.extend(more.iter().cloned()),
            _ => {}
        }
    }
    let from_file = flags.iter().any(|flag| {
        let long = flag.trim_start_matches('-').split([' ', '=']).next().unwrap_or_default();
        file.keys.iter().any(|key| key == long)
    });
    if !from_file {
        return e;
    }
    clap::Error::raw(e.kind(), format!("{}: {}\n", path.display(), reason(&e)))
}

/// clap's message, without its "error: " and the hints after it: for one line of a log.
pub fn reason(e: &clap::Error) -> String {
    let text = e.to_string();
    let text = text.trim().strip_prefix("error: ").unwrap_or(text.trim());
    text.split("\n\n").next().unwrap_or_default().replace('\n', " ")
}
