//! Certificates made in the test: a CA of the test's own and server certificates it signs
//! (rcgen), self-signed ones as `chat-server --tls-self-signed` makes them, and a server's
//! TLS from either.

#![allow(dead_code)] // each test crate uses a different part

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chat_server::tls::{Tls, TlsFiles};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// A certificate authority of the test's own.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl TestCa {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { pem: cert.pem(), issuer: Issuer::new(params, key) }
    }

    /// Writes the CA's certificate into `dir`, for `--tls-ca`.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.pem).unwrap();
        path
    }

    /// A server certificate for `hosts` (names or addresses), written with its key into
    /// `dir` under `name`.
    pub fn issue(&self, dir: &Path, name: &str, hosts: &[&str]) -> TlsFiles {
        let hosts: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
        let params = CertificateParams::new(hosts).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let files = TlsFiles {
            cert: dir.join(format!("{name}-cert.pem")),
            key: dir.join(format!("{name}-key.pem")),
        };
        std::fs::write(&files.cert, cert.pem()).unwrap();
        std::fs::write(&files.key, key.serialize_pem()).unwrap();
        files
    }
}

/// A self-signed certificate for localhost and 127.0.0.1, made as `chat-server
/// --tls-self-signed` makes it, in `dir/name/`.
pub fn self_signed(dir: &Path, name: &str) -> TlsFiles {
    let names = ["localhost".to_owned(), "127.0.0.1".to_owned()];
    chat_server::tls::self_signed(&dir.join(name), &names).unwrap()
}

/// A server's TLS with the certificate in `files`.
pub fn tls(files: TlsFiles) -> Arc<Tls> {
    Arc::new(Tls::load(files).unwrap())
}
