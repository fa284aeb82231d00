//! What each key does, and the lines typed: the client's own commands, and the rest turned
//! into requests for the server.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use protocol::command::{self, Command};
use protocol::{ClientMsg, Label};

use super::{App, LogKind};
use crate::entry::EntryKind;
use crate::event::Effect;
use crate::help::HelpLayout;
use crate::link::Connection;
use crate::login::secret_command;
use crate::password::wipe_string;
use crate::paste::Line;
use crate::window::Target;

impl App {
    pub(super) fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let ctrl_c = ctrl && key.code == KeyCode::Char('c');
        if self.link.certificate.is_some() && !ctrl_c {
            return self.on_certificate_key(&key);
        }
        if self.link.login.is_some() && !ctrl_c {
            return self.on_login_key(&key);
        }
        if self.composer.paste.is_some() && !ctrl_c {
            return self.on_paste_key(&key);
        }
        if self.view.show_help && self.on_help_key(&key) {
            return Vec::new();
        }
        if !matches!(key.code, KeyCode::Tab | KeyCode::BackTab) {
            self.composer.completion = None;
        }
        if self.composer.edit(&key) {
            return Vec::new();
        }
        match key.code {
            KeyCode::Tab => self.composer.complete(true, &self.windows, &self.link.nick),
            KeyCode::BackTab => self.composer.complete(false, &self.windows, &self.link.nick),
            KeyCode::Char('c') if ctrl => return self.quit(None),
            KeyCode::Char('n') if ctrl => self.windows.cycle(1),
            KeyCode::Char('p') if ctrl => self.windows.cycle(-1),
            KeyCode::Char(c @ '1'..='9') if alt => {
                self.windows.switch_to(c as usize - '1' as usize)
            }
            KeyCode::Char('a') if alt => self.windows.jump_to_activity(),
            KeyCode::Enter => return self.submit(),
            KeyCode::PageUp => {
                let at_top = self.scroll_by(self.page());
                return self.load_older_if_at_top(at_top);
            }
            KeyCode::PageDown => {
                self.scroll_by(-self.page());
            }
            KeyCode::F(1) => self.open_help(),
            KeyCode::F(2) => self.view.show_members = !self.view.show_members,
            _ => {}
        }
        Vec::new()
    }

    /// A key while the help is open: closing it, or moving through it when it is taller than
    /// the screen. Returns whether the key was the help's; the rest go on as usual (typing
    /// goes on under the help).
    fn on_help_key(&mut self, key: &KeyEvent) -> bool {
        let help = HelpLayout::new(self.view.size);
        let page = help.visible.saturating_sub(1).max(1);
        let at = self.view.help_scroll.min(help.max_scroll());
        let to = match key.code {
            KeyCode::Esc | KeyCode::F(1) | KeyCode::Char('q') => {
                self.view.show_help = false;
                return true;
            }
            KeyCode::PageDown => at.saturating_add(page),
            KeyCode::PageUp => at.saturating_sub(page),
            KeyCode::Down => at.saturating_add(1),
            KeyCode::Up => at.saturating_sub(1),
            KeyCode::Home => 0,
            KeyCode::End => help.max_scroll(),
            _ => return false,
        };
        self.view.help_scroll = to.min(help.max_scroll());
        true
    }

    /// Opens the help at its top (F1 again closes it: [`App::on_help_key`]).
    fn open_help(&mut self) {
        self.view.show_help = true;
        self.view.help_scroll = 0;
    }

    /// The mouse wheel over the help: `rows` up (positive) or down.
    pub(super) fn scroll_help(&mut self, rows: i32) {
        let help = HelpLayout::new(self.view.size);
        let at = self.view.help_scroll.min(help.max_scroll());
        let by = usize::try_from(rows.unsigned_abs()).unwrap_or(usize::MAX);
        let to = if rows > 0 { at.saturating_sub(by) } else { at.saturating_add(by) };
        self.view.help_scroll = to.min(help.max_scroll());
    }

    fn page(&self) -> i32 {
        i32::try_from(self.message_height().saturating_sub(1).max(1)).unwrap_or(1)
    }

    fn submit(&mut self) -> Vec<Effect> {
        let Some(line) = self.composer.submit() else { return Vec::new() };
        // Commands of the client alone, not of the protocol.
        match line.trim() {
            "/connect" | "/reconnect" => return self.connect_now(),
            "/members" => {
                self.view.show_members = !self.view.show_members;
                return Vec::new();
            }
            _ => {}
        }
        if let Some(effects) = self.ignore_command(&line) {
            return effects;
        }
        let parsed = command::parse(&line);
        // Kept to give back to the input line if it cannot go; never a line with a password.
        let typed = if secret_command(&line).is_some() {
            // Parsed into passwords, which wipe themselves; the typed line goes the same way.
            wipe_string(line);
            None
        } else {
            Some(line)
        };
        match parsed {
            Ok(command) => self.run(command, typed),
            Err(e) => {
                self.note(EntryKind::Error, &e.to_string());
                Vec::new()
            }
        }
    }

    /// The id of our last message in the current window that is not deleted: what `/delete`
    /// deletes. Ours by nick key, as the server judges it.
    fn last_own_message(&self) -> Option<uuid::Uuid> {
        let window = self.windows.current_window()?;
        window.entries().iter().rev().find_map(|e| {
            let ours = !e.deleted && e.from.as_ref().is_some_and(|from| self.link.is_me(from));
            e.id.filter(|_| ours)
        })
    }

    fn quit(&mut self, reason: Option<Label>) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.link.quit() {
            effects.push(Effect::Send(ClientMsg::Quit { reason }));
        }
        effects.push(Effect::Quit);
        effects
    }

    /// Carries out a typed command: locally where it concerns only this client, otherwise by
    /// a request to the server. `typed`: the line as typed, given back to the input line if
    /// the request cannot go.
    fn run(&mut self, command: Command, typed: Option<String>) -> Vec<Effect> {
        let target = self.windows.current_window().map(|w| w.target.clone());
        let request = match (command, target) {
            (Command::Help, _) => {
                self.open_help();
                return Vec::new();
            }
            (Command::Exit(reason), _) => return self.quit(reason),
            (Command::Goto(seq), _) => return self.goto(seq),
            (Command::SearchOlder, _) => match self.search_older() {
                Some(request) => request,
                None => return Vec::new(),
            },
            (Command::Join { room, .. }, _)
                if self.windows.find(&Target::Room(room.clone())).is_some() =>
            {
                let index = self.windows.open(Target::Room(room));
                self.windows.switch_to(index);
                return Vec::new();
            }
            (Command::Leave(None) | Command::Close, Some(Target::Private(_))) => {
                self.close_current();
                return Vec::new();
            }
            (Command::Close | Command::Clear, None) => {
                self.note(EntryKind::Error, "no window open");
                return Vec::new();
            }
            (Command::Query(nick), _) => {
                self.query(nick);
                return Vec::new();
            }
            (Command::Clear, _) => {
                self.clear_current();
                return Vec::new();
            }
            // What the client knows at once, then what the server says (`whois`: account,
            // away message, rooms, idle time).
            (Command::Who(None, None), Some(Target::Private(nick))) => {
                self.who_private(&nick);
                ClientMsg::Whois { nick }
            }
            (Command::Say(text), Some(Target::Private(to))) => ClientMsg::Msg { to, text },
            (Command::Me(text), Some(Target::Private(to))) => {
                match self.private_action(to, &text) {
                    Some(request) => request,
                    None => return Vec::new(),
                }
            }
            (Command::Delete, Some(Target::Room(room))) => match self.last_own_message() {
                Some(id) => ClientMsg::Delete { room, id },
                None => {
                    self.note(EntryKind::Error, &format!("nothing of yours to delete in #{room}"));
                    return Vec::new();
                }
            },
            (Command::Delete, None | Some(Target::Server)) => {
                self.note(EntryKind::Error, &command::CommandError::NoRoom.to_string());
                return Vec::new();
            }
            (Command::Delete, Some(Target::Private(_))) => {
                self.note(
                    EntryKind::Error,
                    "/delete works in rooms: private messages are not kept",
                );
                return Vec::new();
            }
            (Command::Nick(nick), _) if self.link.state != Connection::Registered => {
                self.link.nick = nick;
                // The person's own choice: its fallbacks, if it is taken, are of it.
                self.link.fallbacks = None;
                // Not connected (a login given up, a final goodbye): try now as the new nick.
                if self.link.connect_now() {
                    self.log(LogKind::Info, &format!("connecting as {}...", self.link.nick));
                    return vec![Effect::Connect];
                }
                self.link.hello()
            }
            (
                command @ (Command::Register(_) | Command::Passwd { .. } | Command::Unregister(_)),
                _,
            ) => return self.account_request(command),
            (command, _) => match command.into_request(self.windows.current_room()) {
                Ok(Some(request)) => request,
                Ok(None) => return Vec::new(),
                Err(e) => {
                    self.note(EntryKind::Error, &e.to_string());
                    return Vec::new();
                }
            },
        };
        if let Some(line) = Line::of(&request) {
            return self.send_line(line, typed);
        }
        if !self.link.is_open() {
            self.note(
                EntryKind::Error,
                "not connected to the server: not sent (it is back in the input line)",
            );
            if let Some(typed) = typed {
                self.composer.input.set(&typed);
            }
            return Vec::new();
        }
        if let ClientMsg::Join { room, key } = &request {
            self.windows.joining(room, key.as_ref());
        }
        if let Some(from) = self.windows.current_window().map(|w| w.target.clone()) {
            self.windows.replies.sent(&request, from);
        }
        vec![Effect::Send(request)]
    }
}
