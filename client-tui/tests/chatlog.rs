//! The chat log writer on a real disk, in a temporary directory: where lines land, what the
//! files and directories allow, that no name reaches outside the logs' directory, and that a
//! failure is told once and is not fatal.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chat_tui::chatlog::{Record, Writer};
use chrono::NaiveDate;

fn record(window: &str, day: u32, line: &str) -> Record {
    Record {
        window: window.into(),
        day: NaiveDate::from_ymd_opt(2026, 12, day).unwrap(),
        line: line.into(),
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Lines go to their window's file for their day, in order, whole; files are 0600 and every
/// directory made is 0700; names that try to climb out (`..`, `/`, NUL) stay inside.
#[test]
fn lines_land_in_a_file_per_window_and_day_inside_the_logs() {
    let top = tempfile::tempdir().unwrap();
    let root = top.path().join("logs");
    let mut writer = Writer::start(root.clone(), "127.0.0.1:7878".into()).unwrap();
    for (window, day, line) in [
        ("#rust", 3, "14:05:09 <Tracy> hi"),
        ("#rust", 3, "14:05:10 * Michael waves"),
        ("#rust", 4, "00:00:01 <Tracy> a new day"),
        ("@Tracy", 3, "14:06:00 <Tracy> psst"),
        ("../../escaped", 3, "14:07:00 <Eve> out"),
        ("..", 3, "14:07:01 <Eve> up"),
        ("#a/b\0c", 3, "14:07:02 <Eve> nul"),
    ] {
        assert_eq!(writer.send(record(window, day, line)), None);
    }
    writer.finish();
    let server = root.join("127.0.0.1%3A7878");
    let read = |window: &str, day: &str| {
        std::fs::read_to_string(server.join(window).join(format!("2026-12-{day}.log"))).unwrap()
    };
    assert_eq!(read("#rust", "03"), "14:05:09 <Tracy> hi\n14:05:10 * Michael waves\n");
    assert_eq!(read("#rust", "04"), "00:00:01 <Tracy> a new day\n");
    assert_eq!(read("@Tracy", "03"), "14:06:00 <Tracy> psst\n");
    let all = files(top.path());
    assert_eq!(all.len(), 6, "{all:?}");
    for file in &all {
        assert!(file.starts_with(&server), "{file:?} is outside {server:?}");
        assert_eq!(file.parent().unwrap().parent().unwrap(), server, "{file:?}");
        assert_eq!(mode(file), 0o600, "{file:?}");
    }
    for dir in [root.clone(), server.clone(), server.join("#rust")] {
        assert_eq!(mode(&dir), 0o700, "{dir:?}");
    }
}

/// A logs directory that cannot be made is told once, and the writer goes on taking lines
/// (the client is not stopped).
#[test]
fn a_failure_is_told_once_and_is_not_fatal() {
    let top = tempfile::tempdir().unwrap();
    let root = top.path().join("logs");
    std::fs::write(&root, "a file where the directory should be").unwrap();
    let mut writer = Writer::start(root, "server".into()).unwrap();
    for i in 0..10 {
        assert_eq!(writer.send(record("#rust", 3, &format!("line {i}"))), None);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let failure = loop {
        if let Some(failure) = writer.failure() {
            break failure;
        }
        assert!(Instant::now() < deadline, "no failure told");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(failure.starts_with("chat log: cannot write"), "{failure}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(writer.failure(), None, "told once");
    writer.finish();
}
