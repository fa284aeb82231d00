//! Accounts as the person meets them: the password prompt when the server wants a password
//! (typing, Enter, Esc), the server's refusals of a login (a throttle is waited out, not
//! hammered), and `/register`, `/passwd`, `/unregister` and their answers.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use protocol::command::Command;
use protocol::{AccountEvent, ClientMsg, ErrorCode, Nick, describe};

use super::{App, LogKind};
use crate::entry::EntryKind;
use crate::event::Effect;
use crate::link::Connection;
use crate::login::{Credential, MASK, PasswordPrompt};
use crate::password::Origin;

/// What the server window says when the person closes the prompt without a password.
pub const LOGIN_CANCELLED: &str =
    "no password given; /connect to be asked again, or /nick NAME to use another nick";

/// Words that say which request an account error refused, before the server's message.
fn lead(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::WeakPassword => "password not accepted: ",
        ErrorCode::AccountExists => "cannot register: ",
        ErrorCode::MailboxFull => "not delivered: ",
        ErrorCode::LoginThrottled => "not now: ",
        _ => "",
    }
}

/// How a refusal of the server reads: the words for its code, then its message.
pub(crate) fn explain(code: ErrorCode, message: &str) -> String {
    format!("{}{message}", lead(code))
}

impl App {
    /// The server wants a password for our nick (`password_required`), or refused the one
    /// sent (`wrong_password`): the input line asks for it.
    fn ask_password(&mut self) {
        if self.link.login.is_none() {
            self.link.login = Some(PasswordPrompt::new(self.link.nick.clone()));
        }
        self.log(LogKind::Good, "type the password and press Enter (Esc: do not log in)");
    }

    /// A key while the password prompt is open: editing it, Enter, Esc. Nothing else acts,
    /// so nothing typed can land in the input line or its history.
    pub(crate) fn on_login_key(&mut self, key: &KeyEvent) -> Vec<Effect> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let Some(prompt) = self.link.login.as_mut() else { return Vec::new() };
        match key.code {
            KeyCode::Enter => return self.submit_password(),
            KeyCode::Esc => return self.cancel_login(),
            KeyCode::Char('u' | 'w') if ctrl => prompt.clear(),
            KeyCode::Char(c) if !ctrl && !alt => prompt.insert(c),
            KeyCode::Backspace => prompt.backspace(),
            _ => {}
        }
        Vec::new()
    }

    /// A paste while the prompt is open: its first line is typed into it.
    pub(crate) fn on_login_paste(&mut self, text: &str) {
        if let Some(prompt) = self.link.login.as_mut() {
            prompt.insert_str(text);
        }
    }

    /// Enter at the prompt: `hello` again with the password, on this connection if it is
    /// still open, else on a new one. The password is kept for this run's reconnects.
    fn submit_password(&mut self) -> Vec<Effect> {
        let Some(password) = self.link.login.as_mut().and_then(PasswordPrompt::take) else {
            return Vec::new();
        };
        let nick =
            self.link.login.take().map_or_else(|| self.link.nick.clone(), |p| p.nick.clone());
        self.link.credential = Some(Credential::new(&nick, password, Origin::Typed));
        self.log(LogKind::Info, &format!("logging in as {nick}..."));
        if self.link.is_open() {
            return vec![Effect::Send(self.link.hello())];
        }
        if self.link.connect_now() {
            return vec![Effect::Connect];
        }
        // Connecting already: that attempt's hello has no password; the next one will.
        Vec::new()
    }

    /// Esc at the prompt: no login; the connection is closed and not retried until the
    /// person says how to go on.
    fn cancel_login(&mut self) -> Vec<Effect> {
        self.link.login = None;
        self.link.refuse(LOGIN_CANCELLED.to_owned());
        if self.link.is_open() {
            return self.drop_connection();
        }
        self.log(LogKind::Error, LOGIN_CANCELLED);
        Vec::new()
    }

    /// An error answering `hello` that concerns logging in; returns the effects if it was
    /// one, `None` to show it as any other.
    pub(crate) fn login_refused(
        &mut self,
        code: ErrorCode,
        message: &str,
        retry_after_ms: Option<u64>,
    ) -> Option<Vec<Effect>> {
        if self.link.state == Connection::Registered {
            return None;
        }
        match code {
            ErrorCode::PasswordRequired => {
                self.log(LogKind::Error, message);
                self.ask_password();
            }
            ErrorCode::WrongPassword => {
                let from = self.link.forget_password();
                let from = from.map_or_else(String::new, |o| format!(" ({})", o.describe()));
                self.log(LogKind::Error, &format!("{message}{from}"));
                self.ask_password();
            }
            ErrorCode::LoginThrottled => {
                // Trying before the wait is over would only be refused again, and lengthen
                // it: the next attempt waits for the server's word (or the backoff, if longer).
                self.log(LogKind::Error, message);
                let wait = Duration::from_millis(retry_after_ms.unwrap_or(1000));
                self.link.hold_until(self.now + wait);
                return Some(self.drop_connection());
            }
            _ => return None,
        }
        Some(Vec::new())
    }

    /// `/register`, `/passwd`, `/unregister`: the request, echoed with its passwords masked.
    /// The new password is kept once the server says the account has it.
    pub(crate) fn account_request(&mut self, command: Command) -> Vec<Effect> {
        let (request, echo) = match command {
            Command::Register(password) => {
                self.link.pending = Some(password.clone());
                (ClientMsg::Register { password }, format!("/register {MASK}"))
            }
            Command::Passwd { old, new } => {
                self.link.pending = Some(new.clone());
                (ClientMsg::Passwd { old, new }, format!("/passwd {MASK} {MASK}"))
            }
            Command::Unregister(password) => {
                (ClientMsg::Unregister { password }, format!("/unregister {MASK}"))
            }
            _ => return Vec::new(),
        };
        if self.link.state != Connection::Registered {
            self.link.pending = None;
            self.note(EntryKind::Error, "not connected to the server");
            return Vec::new();
        }
        self.note(EntryKind::Info, &echo);
        vec![Effect::Send(request)]
    }

    /// The server's answer to an account request: what the account now is.
    pub(crate) fn on_account(&mut self, nick: Nick, event: AccountEvent) {
        match event {
            AccountEvent::Registered | AccountEvent::PasswordChanged => {
                if event == AccountEvent::Registered {
                    self.link.account = true;
                }
                if let Some(password) = self.link.pending.take() {
                    self.link.credential =
                        Some(Credential::new(&nick, password, Origin::Registered));
                }
            }
            AccountEvent::Unregistered => {
                self.link.account = false;
                self.link.pending = None;
                self.link.credential = None;
            }
        }
        self.note(EntryKind::Info, &describe::account(&nick, event));
    }

    /// An error answering an account request: the password it carried is not kept.
    pub(crate) fn account_refused(&mut self, request: Option<&str>) {
        if matches!(request, Some("register" | "passwd")) {
            self.link.pending = None;
        }
    }
}
