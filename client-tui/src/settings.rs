//! What the client starts with (nick, server, TLS, rooms, how times look, bell, colours,
//! highlight words, notifications, links, chat logs), and the local times and days of server
//! timestamps that follow from it.

use chrono::{DateTime, FixedOffset, NaiveDate, Offset as _};
use protocol::{Nick, Password, RoomName};

use crate::highlight::Highlights;
use crate::notify::NotifyStyle;
use crate::password::Origin;

use crate::tls::TlsSettings;

/// What the client starts with: flags over the config file over these defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    pub nick: Nick,
    pub server: String,
    /// Connect over TLS, trusting what this says besides the system's CAs; `None`: plain TCP.
    pub tls: Option<TlsSettings>,
    /// Rooms to join after connecting (everyone starts in lobby too); the last is shown.
    pub rooms: Vec<RoomName>,
    /// Offset of local time from UTC, for timestamps.
    pub utc_offset: FixedOffset,
    /// How message times are shown (chrono's strftime, checked before use).
    pub time_format: String,
    /// Ring the terminal bell on a mention or a private message.
    pub bell: bool,
    /// Colour nicks (off: every nick in the default colour, for terminals or people that
    /// prefer it; `NO_COLOR` turns it off too).
    pub colors: bool,
    /// Capture the mouse: the wheel scrolls the conversation (off: the terminal keeps the
    /// mouse, and selecting text needs no Shift).
    pub mouse: bool,
    /// The config file's command that prints the password (run at start-up, see
    /// [`crate::password`]).
    pub password_command: Option<String>,
    /// The account's password, from the first source configured; the app takes it over
    /// (`App::new`), so it is held in one place.
    pub password: Option<(Password, Origin)>,
    /// Words that mark a message as for us, like our nick.
    pub highlights: Highlights,
    /// Desktop notifications for mentions and private messages, through the terminal.
    pub notify: NotifyStyle,
    /// URLs drawn as OSC 8 hyperlinks.
    pub links: bool,
    /// Chat logs on disk, a file per window and day ([`crate::chatlog`]).
    pub logs: bool,
}

/// The default time format: hours and minutes.
pub const DEFAULT_TIME_FORMAT: &str = "%H:%M";

impl Settings {
    /// The defaults for `nick` on `server`.
    pub fn new(nick: Nick, server: String) -> Self {
        Self {
            nick,
            server,
            tls: None,
            rooms: Vec::new(),
            utc_offset: chrono::Utc.fix(),
            time_format: DEFAULT_TIME_FORMAT.to_owned(),
            bell: false,
            colors: true,
            mouse: true,
            password_command: None,
            password: None,
            highlights: Highlights::default(),
            notify: NotifyStyle::Off,
            links: true,
            logs: false,
        }
    }

    /// Local time of a server timestamp (milliseconds since the epoch), as the person asked
    /// for it.
    pub fn time_of(&self, ts: u64) -> String {
        self.local(ts)
            .map(|t| t.format(&self.time_format).to_string())
            .unwrap_or_else(|| "--:--".into())
    }

    /// The local day and `HH:MM:SS` of a server timestamp, as chat logs write them.
    pub fn log_time_of(&self, ts: u64) -> Option<(NaiveDate, String)> {
        self.local(ts).map(|t| (t.date_naive(), t.format("%H:%M:%S").to_string()))
    }

    /// The local day of a server timestamp.
    pub fn day_of(&self, ts: u64) -> Option<NaiveDate> {
        self.local(ts).map(|t| t.date_naive())
    }

    fn local(&self, ts: u64) -> Option<DateTime<FixedOffset>> {
        let ms = i64::try_from(ts).ok()?;
        DateTime::from_timestamp_millis(ms).map(|t| t.with_timezone(&self.utc_offset))
    }
}
