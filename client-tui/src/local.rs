//! The effects the event loop carries out on this machine, besides the screen and the
//! socket: a notification written to the terminal, a chat log line handed to its writer
//! thread, the ignore list read at start and saved when it changes. Failures are told in the
//! server window, once, and never end the client.

use std::io::Write as _;
use std::path::PathBuf;

use crate::app::{App, LogKind};
use crate::chatlog::{self, Writer};
use crate::event::Effect;
use crate::ignore::{self, IgnoreList};
use crate::notify::{self, NotifyStyle};

/// What the local effects act on.
pub struct Local {
    notify: NotifyStyle,
    /// The chat logs' writer, with logs on and a data directory to put them in.
    chatlog: Option<Writer>,
    /// The ignore list's file; `None` without a data directory, or when the file could not
    /// be read (then it is not overwritten: the list lasts for this session).
    ignore_file: Option<PathBuf>,
}

impl Local {
    /// Reads the ignore list into `app` and starts the chat log writer if asked for, each
    /// saying in the log what went wrong.
    pub fn start(app: &mut App) -> Self {
        let ignore_file = load_ignored(app, ignore::default_path());
        let chatlog = if app.settings.logs { start_chatlog(app) } else { None };
        Self { notify: app.settings.notify, chatlog, ignore_file }
    }

    /// Carries out `effect` if it is one of ours; gives it back otherwise.
    pub fn carry_out(&mut self, app: &mut App, effect: Effect) -> Option<Effect> {
        match effect {
            Effect::Notify(notice) => {
                let bytes = notify::sequence(self.notify, &notice);
                let mut out = std::io::stdout();
                let _ = out.write_all(&bytes).and_then(|()| out.flush());
            }
            Effect::Record(record) => {
                if let Some(told) = self.chatlog.as_mut().and_then(|w| w.send(record)) {
                    app.log(LogKind::Error, &told);
                }
            }
            Effect::SaveIgnored(nicks) => match &self.ignore_file {
                Some(path) => {
                    if let Err(e) = ignore::save(path, &nicks) {
                        let text =
                            format!("cannot save the ignore list in {}: {e}", path.display());
                        app.log(LogKind::Error, &text);
                    }
                }
                None => app.log(LogKind::Info, "the ignore list is kept for this session only"),
            },
            other => return Some(other),
        }
        None
    }

    /// Tells what the chat log writer failed at since last asked (once: it then stops
    /// reporting).
    pub fn check(&mut self, app: &mut App) {
        if let Some(failure) = self.chatlog.as_ref().and_then(Writer::failure) {
            app.log(LogKind::Error, &failure);
        }
    }

    /// Lets the chat log writer finish what is queued.
    pub fn finish(self) {
        if let Some(writer) = self.chatlog {
            writer.finish();
        }
    }
}

/// Reads the ignore list at `path` into `app`; the file to save it in, if it may be.
fn load_ignored(app: &mut App, path: Option<PathBuf>) -> Option<PathBuf> {
    let path = path?;
    match ignore::load(&path) {
        Ok((nicks, bad)) => {
            if !bad.is_empty() {
                let lines: Vec<String> = bad.iter().map(usize::to_string).collect();
                app.log(
                    LogKind::Error,
                    &format!(
                        "{}: line {} not a nick (or past {} nicks); left out",
                        path.display(),
                        lines.join(", "),
                        ignore::MAX_IGNORED
                    ),
                );
            }
            app.ignored = IgnoreList::new(nicks);
            Some(path)
        }
        Err(e) => {
            app.log(
                LogKind::Error,
                &format!(
                    "cannot read the ignore list {}: {e}; not saved this session",
                    path.display()
                ),
            );
            None
        }
    }
}

/// Starts the chat log writer, or says why not.
fn start_chatlog(app: &mut App) -> Option<Writer> {
    let Some(root) = chatlog::default_dir() else {
        app.log(LogKind::Error, "no chat logs: neither XDG_DATA_HOME nor HOME is set");
        return None;
    };
    match Writer::start(root.clone(), app.settings.server.clone()) {
        Ok(writer) => {
            app.log(LogKind::Info, &format!("chat logs in {}", root.display()));
            Some(writer)
        }
        Err(e) => {
            app.log(LogKind::Error, &format!("no chat logs: {e}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use protocol::Nick;
    use ratatui::layout::Rect;

    use super::*;
    use crate::settings::Settings;

    fn app() -> App {
        let settings = Settings::new(Nick::parse("Michael").unwrap(), "127.0.0.1:7878".into());
        App::new(settings, Rect::new(0, 0, 80, 24))
    }

    fn local(ignore_file: Option<PathBuf>) -> Local {
        Local { notify: NotifyStyle::Off, chatlog: None, ignore_file }
    }

    /// The list is read at start; a file that cannot be read is said so and never
    /// overwritten (the list then lasts for the session); one that can is saved to.
    #[test]
    fn an_unreadable_ignore_file_is_said_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ignore::FILE_NAME);
        let tracy = Nick::parse("Tracy").unwrap();
        ignore::save(&path, std::slice::from_ref(&tracy)).unwrap();
        let mut ok = app();
        let file = load_ignored(&mut ok, Some(path.clone()));
        assert!(ok.ignored.contains(&tracy));
        let mut saving = local(file);
        saving.carry_out(&mut ok, Effect::SaveIgnored(vec![]));
        assert_eq!(ignore::load(&path).unwrap().0, []);

        let big = "x".repeat(usize::try_from(ignore::MAX_FILE_BYTES).unwrap() + 1);
        std::fs::write(&path, &big).unwrap();
        let mut refused = app();
        let file = load_ignored(&mut refused, Some(path.clone()));
        assert_eq!(file, None);
        let said = refused.server_log().back().unwrap().text.clone();
        assert!(said.starts_with("cannot read the ignore list"), "{said}");
        local(file).carry_out(&mut refused, Effect::SaveIgnored(vec![tracy]));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), big, "not overwritten");
        let said = refused.server_log().back().unwrap().text.clone();
        assert!(said.contains("for this session only"), "{said}");
    }
}
