//! The password sources as the `chat-tui` binary meets them at start-up, before the screen is
//! taken over: a password file others can read is refused with the fix, a failing
//! `password_command` is an error, and `--print-config` says which source is used without
//! reading it. (Reading and precedence: the unit tests of `chat_tui::password`.)

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};

/// `chat-tui` with `args` in an environment of its own (a home with no config file), plus
/// `env`; stdin, stdout and stderr are not a terminal.
fn chat_tui(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chat-tui"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .args(args)
        .stdin(std::process::Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A closed port: chat-tui must not get as far as connecting.
const NOWHERE: &str = "127.0.0.1:9";

#[test]
fn a_password_file_others_can_read_is_refused_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chat-password");
    std::fs::write(&file, "hunter2hunter2\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let path = file.to_str().unwrap();
    let out = chat_tui(
        dir.path(),
        &["--name", "Michael", "--server", NOWHERE, "--password-file", path],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("the password file {path} is open to group or others")), "{err}");
    assert!(err.contains(&format!("chmod 600 {path}")), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert!(out.stdout.is_empty(), "the screen was never taken over");
}

#[test]
fn a_failing_password_command_is_an_error_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "name = \"Michael\"\npassword_command = \"exit 7\"\n").unwrap();
    let out =
        chat_tui(dir.path(), &["--config", config.to_str().unwrap(), "--server", NOWHERE], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("password_command failed"), "{err}");
}

#[test]
fn print_config_names_the_source_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    // A command that would fail: --print-config does not run it.
    std::fs::write(&config, "name = \"Michael\"\npassword_command = \"exit 7\"\n").unwrap();
    let config = config.to_str().unwrap();
    let out = chat_tui(dir.path(), &["--config", config, "--print-config"], &[]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("# password: printed by password_command"), "{text}");
    assert!(text.contains("password_command = \"exit 7\""), "{text}");
    let out = chat_tui(
        dir.path(),
        &["--config", config, "--print-config"],
        &[("CHAT_PASSWORD", "hunter2hunter2")],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("# password: from the CHAT_PASSWORD environment variable"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn help_describes_the_password_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = chat_tui(dir.path(), &["--help"], &[]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("--password-file <FILE>"), "{text}");
    assert!(text.contains("CHAT_PASSWORD"), "{text}");
    assert!(text.contains("chmod 600"), "{text}");
}
