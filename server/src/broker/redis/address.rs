//! Where Redis is: the URL (`--redis`, `--redis-url-file` or `CHAT_REDIS_URL`), which may
//! hold a password. [`RedisUrl`] is shown everywhere (logs, errors, `Debug`) with its user name
//! and password replaced by `***`; only the redis crate is handed the URL as given.
//!
//! Also the files that go with it: the URL file (its first line is the URL) and the CA that
//! signs a `rediss://` server's certificate (`--redis-tls-ca`).

use std::fmt;
use std::fs::File;
use std::io::Read as _;
use std::path::Path;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use url::{Host, Url};

/// Largest URL file read: it holds one line, the URL.
pub const MAX_URL_FILE_BYTES: u64 = 64 * 1024;
/// Largest `--redis-tls-ca` file (PEM certificates).
pub const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;

/// What a shown URL has in place of a secret.
const REDACTED: &str = "***";
/// Query keys whose values are secrets (the redis crate reads `user` and `pass` from a
/// `unix://` URL's query).
const SECRET_KEYS: [&str; 4] = ["user", "pass", "username", "password"];
/// The URL schemes the redis crate connects with.
const SCHEMES: [&str; 4] = ["redis", "rediss", "unix", "redis+unix"];

/// A Redis URL, shown without its secrets: `rediss://:***@host:6379/0`.
#[derive(Clone)]
pub struct RedisUrl {
    /// As given: for the redis crate only, never shown.
    raw: String,
    /// What `Display` and `Debug` show.
    shown: String,
    /// `rediss://`.
    tls: bool,
    /// A user name or password in a `redis://` URL whose host is not this machine.
    clear: bool,
}

/// A flag's value that may hold a password (`--redis`): `Debug` shows `***`. Taken as given,
/// so that clap never quotes it in an error; [`RedisUrl::parse`] checks it after.
#[derive(Clone)]
pub struct SecretArg(String);

impl SecretArg {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretArg {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Why a URL is refused. Never quotes the URL: it may hold a password.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error(
        "not a Redis URL ({0}); the form is redis://[:PASSWORD@]HOST[:PORT][/DB] or rediss://..."
    )]
    Syntax(url::ParseError),
    #[error("a Redis URL starts with redis://, rediss:// (TLS) or unix://")]
    Scheme,
    #[error(
        "a #fragment is not allowed (rediss://...#insecure would skip the certificate check); \
         to trust a private CA, give it with --redis-tls-ca"
    )]
    Fragment,
    #[error("not a usable Redis URL: {0}")]
    Redis(redis::RedisError),
    #[error("the URL is empty")]
    Empty,
}

impl RedisUrl {
    /// Checks `text` (surrounding white space dropped) as the redis crate will read it.
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        let raw = text.trim();
        if raw.is_empty() {
            return Err(UrlError::Empty);
        }
        let url = Url::parse(raw).map_err(UrlError::Syntax)?;
        if !SCHEMES.contains(&url.scheme()) {
            return Err(UrlError::Scheme);
        }
        if url.fragment().is_some() {
            return Err(UrlError::Fragment);
        }
        // What the redis crate refuses (no host, a wildcard address, a bad database number) is
        // refused here, where the source of the URL is known; its errors quote no URL.
        redis::IntoConnectionInfo::into_connection_info(raw).map_err(UrlError::Redis)?;
        let secret = !url.username().is_empty()
            || url.password().is_some()
            || url.query_pairs().any(|(key, _)| SECRET_KEYS.contains(&key.as_ref()));
        // A redis:// host is not parsed as an address by `url` (the scheme is not one it
        // knows): an IPv4 address comes as a name.
        let loopback = match url.host() {
            Some(Host::Domain(name)) => {
                name.eq_ignore_ascii_case("localhost")
                    || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
            }
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        Ok(Self {
            raw: raw.to_owned(),
            shown: redacted(&url),
            tls: url.scheme() == "rediss",
            clear: secret && url.scheme() == "redis" && !loopback,
        })
    }

    /// Reads the URL from the first line of `path`. Errors name what is wrong, never the
    /// file's contents.
    pub fn from_file(path: &Path) -> anyhow::Result<(Self, FileAccess)> {
        let file = File::open(path)?;
        let access = FileAccess::of(&file);
        let bytes = read_at_most(file, MAX_URL_FILE_BYTES)?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| anyhow::anyhow!("not UTF-8 text (its first line should be the URL)"))?;
        let line = text.lines().next().unwrap_or_default();
        if line.trim().is_empty() {
            anyhow::bail!("its first line is empty (it should be the Redis URL)");
        }
        Ok((Self::parse(line)?, access))
    }

    /// The URL as given, password and all: for the redis crate, never for showing.
    pub(super) fn expose(&self) -> &str {
        &self.raw
    }

    /// `rediss://`: the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// A user name or password would cross the network unencrypted: it is in a `redis://`
    /// URL whose host is not this machine.
    pub fn secret_in_clear(&self) -> bool {
        self.clear
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// The same as `Display`: a `Debug` of anything holding the URL shows no secret either.
impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// `url` with its user name, password and secret query values replaced by [`REDACTED`]; if
/// one of them cannot be replaced, only the scheme is left.
fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    let mut replaced = true;
    if !shown.username().is_empty() {
        replaced &= shown.set_username(REDACTED).is_ok();
    }
    if shown.password().is_some() {
        replaced &= shown.set_password(Some(REDACTED)).is_ok();
    }
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    if pairs.iter().any(|(key, _)| SECRET_KEYS.contains(&key.as_str())) {
        let pairs = pairs.iter().map(|(key, value)| {
            let value = if SECRET_KEYS.contains(&key.as_str()) { REDACTED } else { value };
            (key, value)
        });
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    let clean = shown.username().is_empty() || shown.username() == REDACTED;
    let clean = clean && shown.password().is_none_or(|p| p == REDACTED);
    if replaced && clean { shown.into() } else { format!("{}://{REDACTED}", url.scheme()) }
}

/// Who else than the owner may use a file (Unix permission bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileAccess {
    /// The file's permission bits, when known.
    pub mode: Option<u32>,
}

impl FileAccess {
    pub fn of(file: &File) -> Self {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            Self { mode: file.metadata().ok().map(|m| m.permissions().mode() & 0o7777) }
        }
        #[cfg(not(unix))]
        {
            let _ = file;
            Self { mode: None }
        }
    }

    /// Readable, writable or runnable by the group or others (as ssh judges a key file).
    pub fn open_to_others(&self) -> bool {
        self.mode.is_some_and(|mode| mode & 0o077 != 0)
    }
}

/// The certificates of `--redis-tls-ca`, as PEM: at least one, all readable.
pub fn read_ca_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    let pem = read_at_most(File::open(path)?, MAX_CA_FILE_BYTES)?;
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        cert.map_err(|e| anyhow::anyhow!("not a readable PEM certificate: {e}"))?;
        count += 1;
    }
    if count == 0 {
        anyhow::bail!("no certificate in it (PEM: -----BEGIN CERTIFICATE-----)");
    }
    Ok(pem)
}

/// The whole of `file`, refused if it is bigger than `limit` bytes.
fn read_at_most(file: File, limit: u64) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        anyhow::bail!("bigger than {limit} bytes");
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "Pangolin-Secret-42";

    /// The user name and password are replaced, whatever the form; the rest is kept.
    #[test]
    fn secrets_are_redacted() {
        let cases = [
            ("rediss://:Pangolin-Secret-42@host:6379/0", "rediss://:***@host:6379/0"),
            ("redis://chat:Pangolin-Secret-42@10.0.0.5/2", "redis://***:***@10.0.0.5/2"),
            ("redis://Pangolin-Secret-42@host", "redis://***@host"),
            ("redis://:Pangolin%2DSecret%2D42%40x@[::1]:7000", "redis://:***@[::1]:7000"),
            (
                "unix:///run/redis.sock?db=1&user=u&pass=Pangolin-Secret-42",
                "unix:///run/redis.sock?db=1&user=***&pass=***",
            ),
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("  rediss://host:6380/?protocol=resp3 \n", "rediss://host:6380/?protocol=resp3"),
        ];
        for (given, want) in cases {
            let url = RedisUrl::parse(given).unwrap();
            assert_eq!(url.to_string(), want, "Display of {given}");
            assert_eq!(format!("{url:?}"), want, "Debug of {given}");
            assert_eq!(format!("{:?}", Some(url.clone())), format!("Some({want})"));
        }
    }

    /// The redis crate is given the URL as it was written.
    #[test]
    fn the_crate_gets_the_password() {
        let url = RedisUrl::parse("rediss://:Pangolin-Secret-42@host:6379/0").unwrap();
        assert_eq!(url.expose(), "rediss://:Pangolin-Secret-42@host:6379/0");
        assert!(url.is_tls());
        assert!(!RedisUrl::parse("redis://host").unwrap().is_tls());
    }

    /// Refusals say what is wrong and never quote the URL.
    #[test]
    fn refusals_quote_no_secret() {
        let bad = [
            "redis://:Pangolin-Secret-42@host:notaport",
            "http://:Pangolin-Secret-42@host",
            "rediss://:Pangolin-Secret-42@host#insecure",
            "redis://:Pangolin-Secret-42@host/notadb",
            "redis://:Pangolin-Secret-42@0.0.0.0",
            "Pangolin-Secret-42",
            "  ",
        ];
        for text in bad {
            let e = RedisUrl::parse(text).expect_err(text);
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains(PASSWORD), "{text}: {shown}");
        }
        let e = RedisUrl::parse("rediss://:x@host#insecure").unwrap_err();
        assert!(e.to_string().contains("--redis-tls-ca"), "{e}");
    }

    /// Only a password or user name going unencrypted to another machine is flagged.
    #[test]
    fn secret_in_clear() {
        let flagged = |text: &str| RedisUrl::parse(text).unwrap().secret_in_clear();
        assert!(flagged("redis://:pw@redis.example:6379"));
        assert!(flagged("redis://user@10.1.2.3"));
        assert!(!flagged("rediss://:pw@redis.example:6379"));
        assert!(!flagged("redis://:pw@127.0.0.1:6379"));
        assert!(!flagged("redis://:pw@localhost"));
        assert!(!flagged("redis://:pw@[::1]:6379"));
        assert!(!flagged("redis://redis.example:6379"));
        assert!(!flagged("unix:///run/redis.sock?pass=pw"));
    }

    /// The first line of the file is the URL; a file open to others is reported.
    #[test]
    fn url_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("redis-url");
        std::fs::write(&path, "redis://:Pangolin-Secret-42@127.0.0.1:6379\nignored\n").unwrap();
        let (url, _) = RedisUrl::from_file(&path).unwrap();
        assert_eq!(url.expose(), "redis://:Pangolin-Secret-42@127.0.0.1:6379");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            for (mode, open) in [(0o600, false), (0o400, false), (0o640, true), (0o604, true)] {
                let permissions = std::fs::Permissions::from_mode(mode);
                std::fs::set_permissions(&path, permissions).unwrap();
                let (_, access) = RedisUrl::from_file(&path).unwrap();
                assert_eq!(access.open_to_others(), open, "mode {mode:o}");
            }
        }
        for contents in [&b"\nredis://h"[..], b"", b"\xff\xfe", b"not a url Pangolin-Secret-42"] {
            std::fs::write(&path, contents).unwrap();
            let e = RedisUrl::from_file(&path).unwrap_err();
            assert!(!format!("{e:#}").contains(PASSWORD), "{e:#}");
        }
        let big = vec![b'x'; MAX_URL_FILE_BYTES as usize + 1];
        std::fs::write(&path, big).unwrap();
        assert!(RedisUrl::from_file(&path).unwrap_err().to_string().contains("bigger than"));
    }

    /// A CA file must hold at least one certificate.
    #[test]
    fn ca_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "nothing here\n").unwrap();
        assert!(read_ca_file(&path).unwrap_err().to_string().contains("no certificate"));
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(&path, cert.cert.pem()).unwrap();
        assert!(read_ca_file(&path).is_ok());
    }
}
