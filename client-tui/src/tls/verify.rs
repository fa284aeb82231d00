//! Whether to trust the server's certificate: the rustls [`ServerCertVerifier`] that asks the
//! roots (the system's CAs and `--tls-ca`) first and then the fingerprints (pinned with
//! `--tls-fingerprint`, or accepted on first use), and the decision itself as a pure function,
//! [`decide`].
//!
//! The verifier cannot ask the person (rustls calls it in the middle of the handshake): a
//! certificate nobody vouches for is refused, and the refusal, with its fingerprint, is kept
//! for the network task to report; the app asks, and the next connection knows the answer.
//!
//! Whatever decides the certificate, the handshake's signatures are always checked against
//! it, so a server must hold the certificate's key, not merely show the certificate.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use protocol::fingerprint::{self, Sha256Digest};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};

/// Why a certificate is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trusted {
    /// A root (the system's CAs or `--tls-ca`) vouches for it, for this host.
    Authority,
    /// Its fingerprint is the one given with `--tls-fingerprint`.
    Pinned,
    /// Its fingerprint was accepted on first use (`known_servers`, or earlier in this run).
    Known,
}

/// Why a certificate is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No root vouches for it and the server has no known fingerprint: the person is asked.
    Unknown { server: String, fingerprint: Sha256Digest, reason: String },
    /// The server has known fingerprints and this is none of them.
    Changed {
        server: String,
        known: Vec<Sha256Digest>,
        fingerprint: Sha256Digest,
        file: Option<PathBuf>,
    },
    /// Not the fingerprint pinned with `--tls-fingerprint`.
    NotPinned { pinned: Sha256Digest, fingerprint: Sha256Digest },
    /// No root vouches for it, and with `--tls-ca` given one must: nothing is asked.
    Untrusted { server: String, reason: String },
}

/// The decision on one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Trusted(Trusted),
    Refused(Refusal),
}

/// What the client trusts for one server.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// `host:port`, as `known_servers` names it.
    pub server: String,
    /// `--tls-fingerprint`: this certificate and no other, whoever vouches for another.
    pub pin: Option<Sha256Digest>,
    /// The fingerprints accepted for this server before.
    pub known: Vec<Sha256Digest>,
    /// Where they are kept, for the warning when the certificate changed.
    pub known_file: Option<PathBuf>,
    /// `--tls-ca` was given: a certificate must chain to a root; none is trusted on first use.
    pub roots_required: bool,
}

/// The decision, given what the roots said (`Err`: why they do not vouch for it) and the
/// certificate's fingerprint. In order: a pin decides alone; then the roots; then the known
/// fingerprints; then, unless roots are required, the person is asked.
pub fn decide(policy: &Policy, by_roots: Result<(), String>, fingerprint: Sha256Digest) -> Verdict {
    if let Some(pinned) = policy.pin {
        return if pinned == fingerprint {
            Verdict::Trusted(Trusted::Pinned)
        } else {
            Verdict::Refused(Refusal::NotPinned { pinned, fingerprint })
        };
    }
    let reason = match by_roots {
        Ok(()) => return Verdict::Trusted(Trusted::Authority),
        Err(reason) => reason,
    };
    if policy.known.contains(&fingerprint) {
        return Verdict::Trusted(Trusted::Known);
    }
    let server = policy.server.clone();
    if !policy.known.is_empty() {
        return Verdict::Refused(Refusal::Changed {
            server,
            known: policy.known.clone(),
            fingerprint,
            file: policy.known_file.clone(),
        });
    }
    if policy.roots_required {
        return Verdict::Refused(Refusal::Untrusted { server, reason });
    }
    Verdict::Refused(Refusal::Unknown { server, fingerprint, reason })
}

/// Why the roots do not vouch for a certificate, in words.
pub fn roots_reason(error: &Error) -> String {
    match error {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "no certificate authority you trust vouches for it".to_owned()
        }
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => "it is not made out to this host".to_owned(),
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "it has expired".to_owned(),
        Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => "it is not valid yet".to_owned(),
        // Its own words, which may quote the certificate: shown sanitised, never logged.
        e => e.to_string(),
    }
}

/// The verifier of one connection: decides with [`decide`] and keeps the verdict.
#[derive(Debug)]
pub struct Verifier {
    /// The system's CAs and `--tls-ca`; `None` when there is none at all.
    roots: Option<Arc<dyn ServerCertVerifier>>,
    provider: Arc<CryptoProvider>,
    policy: Policy,
    /// std Mutex: set once by rustls during the handshake, read after it.
    verdict: Mutex<Option<Verdict>>,
}

impl Verifier {
    pub fn new(
        roots: Option<Arc<dyn ServerCertVerifier>>,
        provider: Arc<CryptoProvider>,
        policy: Policy,
    ) -> Self {
        Self { roots, provider, policy, verdict: Mutex::new(None) }
    }

    /// The decision on the certificate the server showed, once it has shown one.
    pub fn verdict(&self) -> Option<Verdict> {
        self.verdict.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let by_roots = match &self.roots {
            Some(roots) => roots
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .map(|_| ())
                .map_err(|e| roots_reason(&e)),
            None => Err(roots_reason(&CertificateError::UnknownIssuer.into())),
        };
        let verdict = decide(&self.policy, by_roots, fingerprint::digest(end_entity));
        let result = match &verdict {
            Verdict::Trusted(_) => Ok(ServerCertVerified::assertion()),
            Verdict::Refused(Refusal::Unknown { .. } | Refusal::Untrusted { .. }) => {
                Err(CertificateError::UnknownIssuer.into())
            }
            Verdict::Refused(_) => Err(CertificateError::ApplicationVerificationFailure.into()),
        };
        *self.verdict.lock().unwrap_or_else(PoisonError::into_inner) = Some(verdict);
        result
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOTS_SAY_NO: fn() -> Result<(), String> = || Err("no authority".to_owned());

    fn policy() -> Policy {
        Policy { server: "localhost:7878".into(), ..Policy::default() }
    }

    fn cert(name: &str) -> Sha256Digest {
        fingerprint::digest(name.as_bytes())
    }

    #[test]
    fn a_certificate_a_root_vouches_for_is_trusted_whatever_else_is_known() {
        assert_eq!(decide(&policy(), Ok(()), cert("a")), Verdict::Trusted(Trusted::Authority));
        // A CA-signed certificate renewed since a self-signed one was trusted: the CA decides.
        let known = Policy { known: vec![cert("old")], ..policy() };
        assert_eq!(decide(&known, Ok(()), cert("a")), Verdict::Trusted(Trusted::Authority));
    }

    #[test]
    fn a_pin_decides_alone() {
        let pinned = Policy { pin: Some(cert("a")), known: vec![cert("b")], ..policy() };
        assert_eq!(decide(&pinned, ROOTS_SAY_NO(), cert("a")), Verdict::Trusted(Trusted::Pinned));
        for (roots, other) in [(Ok(()), "ca-signed"), (ROOTS_SAY_NO(), "b")] {
            assert_eq!(
                decide(&pinned, roots, cert(other)),
                Verdict::Refused(Refusal::NotPinned {
                    pinned: cert("a"),
                    fingerprint: cert(other)
                }),
                "{other}: nothing but the pinned certificate"
            );
        }
    }

    #[test]
    fn a_known_fingerprint_is_trusted_and_any_other_refused_as_changed() {
        let known = Policy {
            known: vec![cert("a"), cert("b")],
            known_file: Some("/home/m/.local/share/chat-tui/known_servers".into()),
            ..policy()
        };
        assert_eq!(decide(&known, ROOTS_SAY_NO(), cert("b")), Verdict::Trusted(Trusted::Known));
        assert_eq!(
            decide(&known, ROOTS_SAY_NO(), cert("c")),
            Verdict::Refused(Refusal::Changed {
                server: "localhost:7878".into(),
                known: vec![cert("a"), cert("b")],
                fingerprint: cert("c"),
                file: known.known_file.clone(),
            })
        );
        // Changed even when --tls-ca asks for roots: the warning is the louder one.
        let strict = Policy { roots_required: true, ..known };
        assert!(matches!(
            decide(&strict, ROOTS_SAY_NO(), cert("c")),
            Verdict::Refused(Refusal::Changed { .. })
        ));
    }

    #[test]
    fn an_unknown_certificate_is_asked_about_unless_roots_are_required() {
        assert_eq!(
            decide(&policy(), ROOTS_SAY_NO(), cert("a")),
            Verdict::Refused(Refusal::Unknown {
                server: "localhost:7878".into(),
                fingerprint: cert("a"),
                reason: "no authority".into(),
            })
        );
        let strict = Policy { roots_required: true, ..policy() };
        assert_eq!(
            decide(&strict, ROOTS_SAY_NO(), cert("a")),
            Verdict::Refused(Refusal::Untrusted {
                server: "localhost:7878".into(),
                reason: "no authority".into(),
            })
        );
    }

    #[test]
    fn the_roots_reasons_are_told_in_words() {
        let reason = |e: CertificateError| roots_reason(&Error::InvalidCertificate(e));
        assert!(reason(CertificateError::UnknownIssuer).contains("no certificate authority"));
        assert!(reason(CertificateError::NotValidForName).contains("not made out to this host"));
        assert!(reason(CertificateError::Expired).contains("expired"));
    }
}
