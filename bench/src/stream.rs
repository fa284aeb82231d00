//! A client's connection, plain or over TLS, as two halves: one read by a member's task, one
//! written by a sender. An enum, not a boxed trait object: the plain halves are tokio's own
//! (no lock, no extra copy), so that a plain run costs the bench what it did before `--tls`.
//! The TLS halves share the stream behind tokio's `split` (one session encrypts and decrypts).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use anyhow::Context as _;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Where a client connects, and how: with a connector, over TLS; from a source address of its
/// own, when the server is to count it as another machine.
#[derive(Clone, Copy)]
pub struct Dial<'a> {
    pub addr: &'a str,
    pub tls: Option<&'a TlsConnector>,
    pub source: Option<IpAddr>,
}

impl<'a> Dial<'a> {
    pub fn plain(addr: &'a str) -> Dial<'a> {
        Dial { addr, tls: None, source: None }
    }

    /// The same, from `ip` (any port).
    pub fn source(self, ip: IpAddr) -> Dial<'a> {
        Dial { source: Some(ip), ..self }
    }
}

/// What a client reads.
pub enum Reader {
    Plain(OwnedReadHalf),
    Tls(ReadHalf<TlsStream<TcpStream>>),
}

/// What a client writes with.
pub enum Writer {
    Plain(OwnedWriteHalf),
    Tls(WriteHalf<TlsStream<TcpStream>>),
}

/// Connects (no Nagle delay: timed messages go out at once) and, over TLS, shakes hands,
/// verifying the server's certificate for the address's IP.
pub async fn connect(dial: Dial<'_>) -> anyhow::Result<(Reader, Writer)> {
    let addr = dial.addr;
    let stream = match dial.source {
        None => TcpStream::connect(addr).await,
        Some(ip) => {
            match tokio::net::lookup_host(addr).await?.find(|a| a.is_ipv4() == ip.is_ipv4()) {
                Some(to) => tcp_from(ip, to).await,
                None => {
                    Err(io::Error::new(io::ErrorKind::InvalidInput, "no address of its family"))
                }
            }
        }
    };
    let stream = stream.with_context(|| match dial.source {
        Some(ip) => format!("connect to {addr} from {ip}"),
        None => format!("connect to {addr}"),
    })?;
    stream.set_nodelay(true)?;
    let Some(connector) = dial.tls else {
        let (r, w) = stream.into_split();
        return Ok((Reader::Plain(r), Writer::Plain(w)));
    };
    let name = ServerName::IpAddress(stream.peer_addr()?.ip().into());
    let stream = connector
        .connect(name, stream)
        .await
        .with_context(|| format!("TLS handshake with {addr}"))?;
    let (r, w) = tokio::io::split(stream);
    Ok((Reader::Tls(r), Writer::Tls(w)))
}

/// A TCP connection to `to` from `source` (a port the kernel picks): loopback has every
/// 127.x.y.z, so the bench's clients can come from as many addresses as the internet's would,
/// and a server's per-address limits treat them so. The address may be reused at once: a
/// client that reconnects in a loop leaves closed sockets behind on it.
pub async fn tcp_from(source: IpAddr, to: SocketAddr) -> io::Result<TcpStream> {
    let socket = if source.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(to).await
}

impl AsyncRead for Reader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Reader::Plain(r) => Pin::new(r).poll_read(cx, buf),
            Reader::Tls(r) => Pin::new(r).poll_read(cx, buf),
        }
    }
}

impl Writer {
    /// Writes all of `bytes` and sees them onto the socket. A TLS stream may keep encrypted
    /// bytes the socket did not take until it is flushed, and a sender that then waits for its
    /// own echo would wait for ever; a plain socket keeps nothing, so it is not flushed.
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Writer::Plain(w) => w.write_all(bytes).await,
            Writer::Tls(w) => {
                w.write_all(bytes).await?;
                w.flush().await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncBufReadExt, BufReader};

    use super::*;
    use crate::tls::BenchCert;

    /// A TLS server on the bench's certificate that echoes one line.
    async fn echo_server(cert: &BenchCert) -> std::net::SocketAddr {
        let [_, cert_path, _, key_path] = cert.flags();
        let chain = CertificateDer::pem_file_iter(cert_path).unwrap().map(Result::unwrap);
        let key = PrivateKeyDer::from_pem_file(key_path).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain.collect(), key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = BufReader::new(acceptor.accept(tcp).await.unwrap());
            let mut line = String::new();
            tls.read_line(&mut line).await.unwrap();
            tls.get_mut().write_all(line.as_bytes()).await.unwrap();
            tls.get_mut().flush().await.unwrap();
            // Held open until the client has read the echo.
            let _ = tls.read_line(&mut line).await;
        });
        addr
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_client_trusts_the_bench_certificate_and_talks_through_it() {
        let cert = BenchCert::make().unwrap();
        let addr = echo_server(&cert).await.to_string();
        let dial = Dial { addr: &addr, tls: Some(cert.connector()), source: None };
        let (r, mut w) = connect(dial).await.unwrap();
        assert!(matches!((&r, &w), (Reader::Tls(_), Writer::Tls(_))));
        w.send(b"hello over tls\n").await.unwrap();
        let mut line = String::new();
        BufReader::new(r).read_line(&mut line).await.unwrap();
        assert_eq!(line, "hello over tls\n");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn another_certificate_is_refused() {
        let (served, trusted) = (BenchCert::make().unwrap(), BenchCert::make().unwrap());
        let addr = echo_server(&served).await.to_string();
        let dial = Dial { addr: &addr, tls: Some(trusted.connector()), source: None };
        let error = connect(dial).await.err().unwrap();
        assert!(format!("{error:#}").contains("TLS handshake"), "{error:#}");
    }
}
