//! A server certificate the network task refused, as the person meets it: a certificate never
//! seen before is a question (trust it? y/n; yes is remembered, so it is asked once per
//! server), a changed one is a warning that names the file to edit, and neither is ever
//! accepted without the person. Nothing is retried while the question is open or after a
//! refusal, until `/connect`.

use crossterm::event::{KeyCode, KeyEvent};
use protocol::fingerprint::show;

use super::{App, LogKind};
use crate::event::Effect;
use crate::tls::Refusal;

/// Where accepted certificates are kept, for messages when there is no file.
const NO_FILE: &str = "known_servers (none here: neither XDG_DATA_HOME nor HOME is set)";

impl App {
    /// The net task refused the server's certificate; the connection has ended.
    pub(crate) fn on_certificate(&mut self, refusal: Refusal) {
        match &refusal {
            Refusal::Unknown { server, fingerprint, reason } => {
                self.log(
                    LogKind::Info,
                    &format!("the certificate of {server} is not trusted yet: {reason}"),
                );
                self.log(LogKind::Info, &format!("its SHA-256 fingerprint: {}", show(fingerprint)));
                self.log(LogKind::Good, "trust it and connect? y: yes, remember it  n: no");
                self.link.certificate = Some(refusal);
            }
            Refusal::Changed { server, fingerprint, file, .. } => {
                let file = file.as_ref().map_or(NO_FILE.to_owned(), |f| f.display().to_string());
                self.log(
                    LogKind::Error,
                    &format!(
                        "WARNING: the certificate of {server} has CHANGED since you trusted it: \
                         someone may be intercepting the connection"
                    ),
                );
                self.log(LogKind::Error, &format!("it is now {}", show(fingerprint)));
                self.link.refuse(format!(
                    "certificate changed; if you know why, delete the line for {server} in \
                     {file}, then /connect"
                ));
                self.link.certificate = Some(refusal);
            }
            Refusal::NotPinned { pinned, fingerprint } => {
                self.log(
                    LogKind::Error,
                    &format!(
                        "the server's certificate is {}, not the one pinned with \
                         --tls-fingerprint ({})",
                        show(fingerprint),
                        show(pinned)
                    ),
                );
                self.link.refuse("the certificate is not the pinned one".to_owned());
            }
            Refusal::Untrusted { server, reason } => {
                self.log(
                    LogKind::Error,
                    &format!(
                        "the certificate of {server} is refused: {reason} (with --tls-ca, a \
                         certificate authority must vouch for it)"
                    ),
                );
                self.link.refuse(format!("the certificate of {server} is not trusted"));
            }
        }
        self.connection_ended();
    }

    /// A key while a certificate question or warning is shown.
    pub(crate) fn on_certificate_key(&mut self, key: &KeyEvent) -> Vec<Effect> {
        match (&self.link.certificate, key.code) {
            (Some(Refusal::Unknown { .. }), KeyCode::Char('y' | 'Y')) => {
                let Some(Refusal::Unknown { server, fingerprint, .. }) =
                    self.link.certificate.take()
                else {
                    return Vec::new();
                };
                if !self.link.connect_now() {
                    return Vec::new();
                }
                vec![Effect::Trust { server, fingerprint }, Effect::Connect]
            }
            (Some(Refusal::Unknown { server, .. }), KeyCode::Char('n' | 'N') | KeyCode::Esc) => {
                let message = format!(
                    "certificate of {server} not trusted; not connecting (/connect asks again)"
                );
                self.link.certificate = None;
                self.log(LogKind::Error, &message);
                Vec::new()
            }
            (Some(Refusal::Changed { .. }), KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q')) => {
                self.link.certificate = None;
                Vec::new()
            }
            _ => Vec::new(),
        }
    }
}
