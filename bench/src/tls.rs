//! `--tls`: what TLS costs chat-server. Each chat-server run is made twice, plainly and at once
//! over TLS, so that the machine's drift weighs on both alike; the bare server, the yardstick,
//! speaks no TLS. The bench makes its own certificate for the invocation (self-signed, for
//! 127.0.0.1 and localhost, in a temporary directory), gives it to every TLS server it starts
//! (both nodes of `redis2` alike) with `--tls-cert` and `--tls-key`, and its clients trust
//! that certificate and no other. Handshakes happen while the room fills, before the measured
//! window: what the window sees is the per-message cost, each member's copy encrypted on its
//! own stream.

use std::sync::Arc;

use anyhow::Context as _;
use tokio_rustls::TlsConnector;

/// How a run's clients talk to its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Plain,
    Tls,
}

impl Transport {
    /// The value of the rows' `tls` field.
    pub fn is_tls(self) -> bool {
        self == Transport::Tls
    }
}

/// The names the certificate is valid for: the bench only ever connects to loopback.
const NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

/// The bench's certificate: its files for the servers and a connector for the clients.
pub struct BenchCert {
    /// The files' paths, as chat-server's flags take them.
    cert: String,
    key: String,
    connector: TlsConnector,
    /// Holds the files until the end of the invocation, then removes them.
    _dir: tempfile::TempDir,
}

impl BenchCert {
    /// Makes a new certificate and key, writes them into a new temporary directory, and a
    /// client configuration that trusts that certificate alone (on the ring provider, as
    /// chat-server: aws-lc-rs would need a C toolchain).
    pub fn make() -> anyhow::Result<BenchCert> {
        let names = NAMES.map(str::to_owned).to_vec();
        let made = rcgen::generate_simple_self_signed(names)
            .context("--tls: cannot make the bench's certificate")?;
        let dir = tempfile::tempdir()?;
        let cert = write(&dir, "bench-cert.pem", &made.cert.pem())?;
        let key = write(&dir, "bench-key.pem", &made.signing_key.serialize_pem())?;
        let connector = connector(made.cert.der().clone())?;
        Ok(BenchCert { cert, key, connector, _dir: dir })
    }

    /// chat-server's flags that make it serve this certificate.
    pub fn flags(&self) -> [&str; 4] {
        ["--tls-cert", &self.cert, "--tls-key", &self.key]
    }

    /// Where the certificate is, for the heading.
    pub fn path(&self) -> &str {
        &self.cert
    }

    /// Connects clients that trust this certificate alone.
    pub fn connector(&self) -> &TlsConnector {
        &self.connector
    }
}

/// Writes `contents` into `name` in `dir`; returns its path, which the server's flags need as
/// text.
fn write(dir: &tempfile::TempDir, name: &str, contents: &str) -> anyhow::Result<String> {
    let path = dir.path().join(name);
    std::fs::write(&path, contents).with_context(|| format!("cannot write {}", path.display()))?;
    path.into_os_string()
        .into_string()
        .map_err(|p| anyhow::anyhow!("the temporary path {p:?} is not UTF-8"))
}

/// A TLS client configuration whose one trust anchor is `cert`.
fn connector(cert: rustls::pki_types::CertificateDer<'static>) -> anyhow::Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).context("the bench's certificate cannot be trusted")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}
