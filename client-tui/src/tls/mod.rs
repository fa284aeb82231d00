//! TLS to the server (`--tls`): what the client trusts, made once at start-up
//! ([`TlsClient::load`]: the system's CAs, `--tls-ca`, `--tls-fingerprint`, `known_servers`),
//! and the handshake each connection starts with ([`TlsClient::connect`]).
//!
//! - `address.rs`: the host the certificate must be for, and the `host:port` key.
//! - `verify.rs`: the decision on a certificate and the rustls verifier that makes it.
//! - `known.rs`: `known_servers`, the fingerprints accepted on first use.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use protocol::fingerprint::Sha256Digest;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

mod address;
pub mod known;
pub mod verify;

pub use address::ServerAddr;
pub use known::KnownServers;
pub use verify::{Refusal, Trusted};

/// TLS as the person asked for it: `--tls-ca` files and a `--tls-fingerprint`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    pub ca_files: Vec<PathBuf>,
    pub pin: Option<Sha256Digest>,
}

/// Why TLS cannot be set up: said before the screen is taken over.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read the CA certificates {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("cannot use the CA certificates: {0}")]
    Roots(String),
}

/// How a handshake did not give a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// The certificate is not trusted (yet): the app says why, or asks.
    Refused(Refusal),
    /// Anything else, in words.
    Failed(String),
}

/// What the client trusts; cloned into each connection's task (the parts are shared).
#[derive(Debug, Clone)]
pub struct TlsClient {
    provider: Arc<CryptoProvider>,
    /// The system's CAs and `--tls-ca`; `None` when there is none at all.
    roots: Option<Arc<dyn ServerCertVerifier>>,
    /// `--tls-ca` was given: certificates must chain to a root.
    roots_required: bool,
    pin: Option<Sha256Digest>,
    known: Arc<KnownServers>,
}

impl TlsClient {
    /// The system's CAs plus `settings.ca_files`, fingerprints accepted before in `known`.
    pub fn load(settings: &TlsSettings, known: Option<PathBuf>) -> Result<Self, TlsSetupError> {
        let mut roots = RootCertStore::empty();
        // A missing or unreadable system store leaves fewer roots: --tls-ca, pins and first
        // use still work, and an unknown certificate says no authority vouches for it.
        let system = rustls_native_certs::load_native_certs();
        if !system.errors.is_empty() {
            tracing::debug!(errors = system.errors.len(), "some system CA certificates unread");
        }
        roots.add_parsable_certificates(system.certs);
        for path in &settings.ca_files {
            for cert in read_certificates(path)? {
                roots.add(cert).map_err(|e| TlsSetupError::CaFile {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            }
        }
        Self::with_roots(roots, settings, known)
    }

    /// The same with exactly `roots`, the system's left out (tests).
    pub fn with_roots(
        roots: RootCertStore,
        settings: &TlsSettings,
        known: Option<PathBuf>,
    ) -> Result<Self, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots: Option<Arc<dyn ServerCertVerifier>> = if roots.is_empty() {
            None
        } else {
            let verifier =
                WebPkiServerVerifier::builder_with_provider(roots.into(), provider.clone())
                    .build()
                    .map_err(|e| TlsSetupError::Roots(e.to_string()))?;
            Some(verifier)
        };
        Ok(Self {
            provider,
            roots,
            roots_required: !settings.ca_files.is_empty(),
            pin: settings.pin,
            known: Arc::new(KnownServers::new(known)),
        })
    }

    /// Where fingerprints accepted on first use are kept.
    pub fn known_servers(&self) -> Option<&Path> {
        self.known.path()
    }

    /// The TLS handshake with `server` over `tcp`; on success, why its certificate is trusted.
    pub async fn connect(
        &self,
        tcp: TcpStream,
        server: &ServerAddr,
    ) -> Result<(TlsStream<TcpStream>, Trusted), Handshake> {
        let key = server.key();
        let known = match self.pin {
            Some(_) => Vec::new(),
            None => self.known.lookup(&key).await.map_err(|e| Handshake::Failed(e.to_string()))?,
        };
        let policy = verify::Policy {
            server: key,
            pin: self.pin,
            known,
            known_file: self.known.path().map(Path::to_owned),
            roots_required: self.roots_required,
        };
        let verifier =
            Arc::new(verify::Verifier::new(self.roots.clone(), self.provider.clone(), policy));
        // A configuration per connection: no session resumed across connections, so every
        // connection's certificate goes through the verifier.
        let config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Handshake::Failed(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let result = connector.connect(server.name.clone(), tcp).await;
        match (result, verifier.verdict()) {
            (Ok(stream), Some(verify::Verdict::Trusted(trusted))) => Ok((stream, trusted)),
            (_, Some(verify::Verdict::Refused(refusal))) => Err(Handshake::Refused(refusal)),
            (Ok(_), None) => Err(Handshake::Failed("the server showed no certificate".into())),
            (Err(e), _) => Err(Handshake::Failed(explain(&e))),
        }
    }

    /// The person accepted `digest` for `server` (`host:port`): trusted from now on. Returns
    /// the file it is remembered in (`None`: no file, this run only), or why it could not be
    /// written (it is trusted in this run all the same).
    pub fn remember(&self, server: &str, digest: &Sha256Digest) -> Result<Option<PathBuf>, String> {
        match self.known.remember(server, digest) {
            Ok(path) => Ok(path.map(Path::to_owned)),
            Err((path, e)) => Err(format!("cannot write {}: {e}", path.display())),
        }
    }
}

/// A failed handshake in words: a plain-text server answering TLS gets a hint.
fn explain(error: &std::io::Error) -> String {
    let rustls = error.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
    match rustls {
        Some(rustls::Error::InvalidMessage(_)) => format!(
            "the server does not answer in TLS ({error}); if it serves plain text, leave out --tls"
        ),
        _ => error.to_string(),
    }
}

/// The certificates in a PEM file.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let failed = |reason: String| TlsSetupError::CaFile { path: path.to_owned(), reason };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| failed(pem_reason(e)))?
        .collect::<Result<_, _>>()
        .map_err(|e| failed(pem_reason(e)))?;
    if certs.is_empty() {
        return Err(failed("no certificate in it (a PEM CERTIFICATE block)".into()));
    }
    Ok(certs)
}

fn pem_reason(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(e) => e.to_string(),
        e => format!("not PEM as expected ({e})"),
    }
}
