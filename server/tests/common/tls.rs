//! Certificates made in the test (rcgen): a CA, and server certificates it signs; and TLS
//! clients that trust that CA.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use chat_server::tls::TlsFiles;

/// A certificate authority of the test's own.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pub cert: CertificateDer<'static>,
    pub pem: String,
}

impl TestCa {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let pem = cert.pem();
        Self { issuer: Issuer::new(params, key), cert: cert.der().clone(), pem }
    }

    /// A server certificate for `localhost` and 127.0.0.1, written with its key into `dir`
    /// under `name`; returns the files and the certificate.
    pub fn issue(&self, dir: &Path, name: &str) -> (TlsFiles, CertificateDer<'static>) {
        let params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let files = TlsFiles {
            cert: dir.join(format!("{name}-cert.pem")),
            key: dir.join(format!("{name}-key.pem")),
        };
        std::fs::write(&files.cert, cert.pem()).unwrap();
        std::fs::write(&files.key, key.serialize_pem()).unwrap();
        (files, cert.der().clone())
    }

    /// Writes the CA's certificate into `dir`, for clients given a CA file.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.pem).unwrap();
        path
    }

    /// A client that trusts this CA alone.
    pub fn connector(&self) -> tokio_rustls::TlsConnector {
        Trust::of(self.cert.clone()).connector()
    }

    /// A TLS connection to `addr` as `localhost`, verified against this CA.
    pub async fn connect(&self, addr: SocketAddr) -> TlsStream<TcpStream> {
        Trust::of(self.cert.clone()).connect(addr).await
    }

    /// The same over a socket the test set up itself (a small receive buffer, say).
    pub async fn connect_on(&self, tcp: TcpStream) -> TlsStream<TcpStream> {
        Trust::of(self.cert.clone()).connect_on(tcp).await
    }
}

/// TLS clients that trust one certificate: a CA's, or a self-signed server's own.
pub struct Trust(rustls::RootCertStore);

impl Trust {
    pub fn of(cert: CertificateDer<'static>) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        Self(roots)
    }

    pub fn connector(&self) -> tokio_rustls::TlsConnector {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(self.0.clone())
            .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }

    /// A TLS connection to `addr` as `localhost`, verified.
    pub async fn connect(&self, addr: SocketAddr) -> TlsStream<TcpStream> {
        self.connect_on(TcpStream::connect(addr).await.unwrap()).await
    }

    pub async fn connect_on(&self, tcp: TcpStream) -> TlsStream<TcpStream> {
        let name = ServerName::try_from("localhost").unwrap();
        self.connector().connect(name, tcp).await.unwrap()
    }
}

/// The certificate the server showed on `stream`.
pub fn peer_certificate(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0].clone()
}
