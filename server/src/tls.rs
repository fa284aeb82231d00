//! TLS on the server's ports: the certificate and key (from PEM files, or made once for
//! `--tls-self-signed`), replaced on SIGHUP without touching connections already open, and
//! the handshake that starts each connection.
//!
//! The current configuration sits in an [`ArcSwap`]: each handshake takes the one in force
//! with one atomic load, and a reload swaps in a new one that only later handshakes see.

use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tracing::{info, warn};

use crate::limits::{TLS_FIRST_BYTE, TLS_HANDSHAKE};
use crate::transport::{self, Transport};

/// Where the certificate chain and its key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why TLS cannot be set up: one line naming the file and the reason.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate {path}: {reason}")]
    Cert { path: PathBuf, reason: String },
    #[error("cannot read the TLS key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("the TLS certificate {cert} and key {key} cannot be used together: {reason}")]
    Mismatch { cert: PathBuf, key: PathBuf, reason: String },
    #[error("cannot make a self-signed TLS certificate in {dir}: {reason}")]
    SelfSigned { dir: PathBuf, reason: String },
}

/// The ports' TLS: the configuration in force and where it comes from.
pub struct Tls {
    files: TlsFiles,
    config: ArcSwap<ServerConfig>,
    /// The SHA-256 of the certificate in force, as [`protocol::fingerprint`] shows it.
    fingerprint: ArcSwap<String>,
    /// A client that does not speak TLS came to a TLS port: said in the log once.
    told_not_tls: AtomicBool,
}

/// How a connection to a TLS port did not become a TLS session.
#[derive(Debug)]
pub enum NotTls {
    /// It spoke something else first (plain text, a JSON line): it can be told why.
    PlainText(TcpStream),
    /// It said nothing in time, failed the handshake, or went away.
    Failed(io::Error),
}

impl Tls {
    /// Reads the files and checks them (a chain, a key that matches its first certificate).
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let (config, fingerprint) = configure(&files)?;
        Ok(Self {
            files,
            config: ArcSwap::from_pointee(config),
            fingerprint: ArcSwap::from_pointee(fingerprint),
            told_not_tls: AtomicBool::new(false),
        })
    }

    /// Reads the files again; new connections get the new certificate, open ones carry on.
    /// On failure the one in force stays, and the reason is returned.
    pub fn reload(&self) -> Result<(), TlsError> {
        let (config, fingerprint) = configure(&self.files)?;
        self.config.store(Arc::new(config));
        info!(cert = %self.files.cert.display(), %fingerprint, "TLS certificate reloaded");
        self.fingerprint.store(Arc::new(fingerprint));
        Ok(())
    }

    /// The SHA-256 fingerprint of the certificate in force.
    pub fn fingerprint(&self) -> String {
        self.fingerprint.load().as_ref().clone()
    }

    /// The handshake. A TLS client speaks first, at once (its ClientHello); one that says
    /// nothing within [`TLS_FIRST_BYTE`] is not one, and a handshake has [`TLS_HANDSHAKE`] in
    /// all. A connection whose first byte is not a TLS record is handed back to be told why.
    pub async fn accept(&self, tcp: TcpStream) -> Result<Transport, NotTls> {
        match timeout(TLS_FIRST_BYTE, first_byte(&tcp)).await {
            Ok(Ok(Some(HANDSHAKE_RECORD))) => {}
            Ok(Ok(Some(_))) => {
                self.tell_not_tls("it spoke plain text");
                return Err(NotTls::PlainText(tcp));
            }
            Ok(Ok(None)) => return Err(NotTls::Failed(ErrorKind::UnexpectedEof.into())),
            Ok(Err(e)) => return Err(NotTls::Failed(e)),
            Err(_) => {
                self.tell_not_tls("it said nothing");
                return Err(NotTls::Failed(ErrorKind::TimedOut.into()));
            }
        }
        let acceptor = tokio_rustls::TlsAcceptor::from(self.config.load_full());
        match timeout(TLS_HANDSHAKE, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => {
                let (tcp, conn) = stream.into_inner();
                Ok(Transport::Tls(Box::new(transport::Tls::new(tcp, conn))))
            }
            Ok(Err(e)) => Err(NotTls::Failed(e)),
            Err(_) => Err(NotTls::Failed(ErrorKind::TimedOut.into())),
        }
    }

    fn tell_not_tls(&self, how: &str) {
        if !self.told_not_tls.swap(true, Ordering::Relaxed) {
            warn!(
                "a client that does not speak TLS came to a TLS port ({how}); such connections \
                 are closed (said once)"
            );
        }
    }
}

/// The first byte of every TLS connection: a handshake record.
const HANDSHAKE_RECORD: u8 = 0x16;

/// The first byte the client sent, left in the socket; `None` if it closed first.
async fn first_byte(tcp: &TcpStream) -> io::Result<Option<u8>> {
    let mut byte = [0u8; 1];
    match tcp.peek(&mut byte).await? {
        0 => Ok(None),
        _ => Ok(Some(byte[0])),
    }
}

/// A server configuration from the files, and the certificate's fingerprint.
fn configure(files: &TlsFiles) -> Result<(ServerConfig, String), TlsError> {
    let cert_error = |reason: String| TlsError::Cert { path: files.cert.clone(), reason };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| cert_error(pem_reason(&e)))?
        .collect::<Result<_, _>>()
        .map_err(|e| cert_error(pem_reason(&e)))?;
    let Some(first) = chain.first() else {
        return Err(cert_error("no certificate in it (a PEM CERTIFICATE block)".to_owned()));
    };
    let fingerprint = protocol::fingerprint::fingerprint(first);
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::Key {
        path: files.key.clone(),
        reason: match e {
            rustls::pki_types::pem::Error::NoItemsFound => {
                "no private key in it (PKCS#8, RSA or EC, PEM)".to_owned()
            }
            e => pem_reason(&e),
        },
    })?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| TlsError::Mismatch {
            cert: files.cert.clone(),
            key: files.key.clone(),
            reason: e.to_string(),
        })?;
    // Our order, not the client's: see `provider`.
    config.ignore_client_order = true;
    Ok((config, fingerprint))
}

/// ring's cryptography with AES-128-GCM preferred. Every member's copy of a message is
/// encrypted on its own, so the cipher's cost per byte is paid once per delivery; AES-128 is
/// cheaper than AES-256 (ten rounds, not fourteen) and no weaker for this use. The other
/// suites stay, for clients without it.
fn provider() -> rustls::crypto::CryptoProvider {
    use rustls::crypto::ring::cipher_suite::{TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384};
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.sort_by_key(|suite| {
        let suite = suite.suite();
        if suite == TLS13_AES_128_GCM_SHA256.suite() {
            0
        } else if suite == TLS13_AES_256_GCM_SHA384.suite() {
            1
        } else {
            2
        }
    });
    provider
}

fn pem_reason(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(e) => e.to_string(),
        e => format!("not PEM as expected ({e})"),
    }
}

/// For `--tls-self-signed`: the certificate and key in `dir` (`tls-cert.pem`, `tls-key.pem`),
/// made the first time for `names` (host names and addresses) and kept, both readable by the
/// owner alone, so users who accepted its fingerprint keep trusting it across restarts.
pub fn self_signed(dir: &Path, names: &[String]) -> Result<TlsFiles, TlsError> {
    let files = TlsFiles { cert: dir.join("tls-cert.pem"), key: dir.join("tls-key.pem") };
    let failed = |reason: String| TlsError::SelfSigned { dir: dir.to_owned(), reason };
    match (files.cert.exists(), files.key.exists()) {
        (true, true) => return Ok(files),
        (false, false) => {}
        _ => {
            return Err(failed(format!(
                "only one of {} and {} is there; remove it to have a new pair made",
                files.cert.display(),
                files.key.display()
            )));
        }
    }
    let made =
        rcgen::generate_simple_self_signed(names.to_vec()).map_err(|e| failed(e.to_string()))?;
    crate::files::create_dir(dir).map_err(|e| failed(e.to_string()))?;
    crate::files::create_with(&files.key, made.signing_key.serialize_pem().as_bytes())
        .map_err(|e| failed(format!("{}: {e}", files.key.display())))?;
    crate::files::create_with(&files.cert, made.cert.pem().as_bytes())
        .map_err(|e| failed(format!("{}: {e}", files.cert.display())))?;
    info!(cert = %files.cert.display(), "made a self-signed TLS certificate");
    Ok(files)
}
