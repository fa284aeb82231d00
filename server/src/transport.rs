//! The byte stream under a session: plain TCP, or TLS over TCP.
//!
//! A session drives its socket by readiness (wait until readable, then take what is there
//! without waiting), so an idle connection holds no read buffer and a busy one is served
//! without a future per read. TLS keeps that shape: after the handshake the rustls connection
//! is driven here over the same non-blocking socket (`read_tls`/`write_tls` on `try_read` and
//! `try_write`), rather than through a stream adapter that would wait inside every call.
//!
//! Plaintext rustls has already decrypted counts as readiness: the handshake may have read
//! the client's first line with its last message (a fast TLS 1.3 client sends both in one
//! packet), and then no socket event would ever announce it. Written bytes have the opposite
//! problem: rustls may hold encrypted ones the socket did not take, which
//! [`Transport::try_flush`] reports, so the session waits for the socket before it calls a
//! batch written.

use std::io::{self, ErrorKind, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::BytesMut;
use rustls::ServerConnection;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub enum Transport {
    Tcp(TcpStream),
    /// Boxed: the connection state is a few hundred bytes, and most sessions' futures should
    /// not carry it.
    Tls(Box<Tls>),
}

/// A TLS connection whose handshake is done, over its socket.
pub struct Tls {
    tcp: TcpStream,
    conn: ServerConnection,
    /// Our `close_notify` is queued (the session is ending).
    closing: bool,
}

impl Tls {
    pub fn new(tcp: TcpStream, conn: ServerConnection) -> Self {
        Self { tcp, conn, closing: false }
    }

    /// Plaintext already decrypted, or news (an error, the peer's close) that a read would
    /// report, without touching the socket.
    fn has_news(&mut self) -> bool {
        match self.conn.process_new_packets() {
            Ok(state) => state.plaintext_bytes_to_read() > 0 || state.peer_has_closed(),
            Err(_) => true,
        }
    }

    /// Reads plaintext into `buf`; `Ok(0)` at the end of the stream, clean or not.
    fn try_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) if e.kind() != ErrorKind::WouldBlock => return Err(e),
                Err(_) => {}
            }
            // Nothing decrypted yet: take what the socket has.
            match self.conn.read_tls(&mut TryRead(&self.tcp)) {
                Ok(0) => return Ok(0),
                Ok(_) => {
                    let processed = self.conn.process_new_packets();
                    // Whatever rustls has to say (an alert, a key update) goes out as it can.
                    let _ = self.push();
                    processed.map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Encrypts what of `buf` the connection's buffer takes and sends what the socket takes.
    fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.push()?;
        let taken = self.conn.writer().write(buf)?;
        self.push()?;
        if taken == 0 && !buf.is_empty() {
            return Err(ErrorKind::WouldBlock.into());
        }
        Ok(taken)
    }

    /// Sends encrypted bytes until none are left (`true`) or the socket is full (`false`).
    fn push(&mut self) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut TryWrite(&self.tcp)) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

/// `io::Read` over a socket that never waits.
struct TryRead<'a>(&'a TcpStream);

impl Read for TryRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

/// `io::Write` over a socket that never waits.
struct TryWrite<'a>(&'a TcpStream);

impl Write for TryWrite<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }

    /// rustls hands over its records (up to 16 KiB each) together: one syscall for them all.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.0.try_write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Bytes taken from the socket at a time.
pub const READ_CHUNK: usize = 4096;

impl Transport {
    pub fn set_nodelay(&self) {
        let tcp = match self {
            Self::Tcp(tcp) => tcp,
            Self::Tls(tls) => &tls.tcp,
        };
        let _ = tcp.set_nodelay(true);
    }

    /// Completes once a read may make progress. Holds no buffer while it waits.
    pub fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Self::Tcp(tcp) => tcp.poll_read_ready(cx),
            Self::Tls(tls) => {
                if tls.has_news() {
                    return Poll::Ready(Ok(()));
                }
                tls.tcp.poll_read_ready(cx)
            }
        }
    }

    /// Appends what is there to `buf` without waiting (up to a chunk): `Ok(0)` at the end of
    /// the stream, `WouldBlock` if nothing is there.
    pub fn try_read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            Self::Tcp(tcp) => {
                buf.reserve(READ_CHUNK);
                tcp.try_read_buf(buf)
            }
            Self::Tls(tls) => {
                // rustls fills initialised memory: the chunk is zeroed, then cut to what came.
                let start = buf.len();
                buf.resize(start + READ_CHUNK, 0);
                let read = tls.try_read(&mut buf[start..]);
                buf.truncate(start + *read.as_ref().unwrap_or(&0));
                read
            }
        }
    }

    /// Writes what the connection takes of `buf` without waiting; `WouldBlock` if nothing.
    pub fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(tcp) => tcp.try_write(buf),
            Self::Tls(tls) => tls.try_write(buf),
        }
    }

    /// Whether everything written has left (TLS keeps encrypted bytes the socket did not
    /// take yet); tries to send them.
    pub fn try_flush(&mut self) -> io::Result<bool> {
        match self {
            Self::Tcp(_) => Ok(true),
            Self::Tls(tls) => tls.push(),
        }
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let read = match this {
                Self::Tcp(tcp) => return Pin::new(tcp).poll_read(cx, buf),
                Self::Tls(tls) => tls.try_read(buf.initialize_unfilled()),
            };
            match read {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => ready!(this.poll_read_ready(cx))?,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            match this {
                Self::Tcp(tcp) => return Pin::new(tcp).poll_write(cx, buf),
                Self::Tls(tls) => match tls.try_write(buf) {
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        ready!(tls.tcp.poll_write_ready(cx))?;
                    }
                    written => return Poll::Ready(written),
                },
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match this {
                Self::Tcp(tcp) => return Pin::new(tcp).poll_flush(cx),
                Self::Tls(tls) => match tls.push() {
                    Ok(true) => return Poll::Ready(Ok(())),
                    Ok(false) => ready!(tls.tcp.poll_write_ready(cx))?,
                    Err(e) => return Poll::Ready(Err(e)),
                },
            }
        }
    }

    /// TLS: our `close_notify`, sent, then the socket's write side closed.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Self::Tls(tls) = this
            && !tls.closing
        {
            tls.conn.send_close_notify();
            tls.closing = true;
        }
        ready!(Pin::new(&mut *this).poll_flush(cx))?;
        match this {
            Self::Tcp(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Self::Tls(tls) => Pin::new(&mut tls.tcp).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;

    /// A TLS connection on loopback: the server side as a session drives it, the client as
    /// a tokio-rustls stream whose socket receives into a small buffer.
    async fn pair() -> (Transport, tokio_rustls::client::TlsStream<TcpStream>) {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let cert = made.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let (accepted, connected) =
            tokio::join!(listener.accept(), socket.connect(listener.local_addr().unwrap()));
        let ((tcp, _), tcp_client) = (accepted.unwrap(), connected.unwrap());
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let name = ServerName::try_from("localhost").unwrap();
        let (client, server) =
            tokio::join!(connector.connect(name, tcp_client), acceptor.accept(tcp));
        let (tcp, conn) = server.unwrap().into_inner();
        (Transport::Tls(Box::new(Tls::new(tcp, conn))), client.unwrap())
    }

    /// Bytes the socket could not take stay with rustls, and `try_flush` says so: a session
    /// that took `try_write`'s word for it would leave the end of a batch unsent. Once the
    /// client reads, a flush sends it, and the client has every byte, in order.
    #[tokio::test]
    async fn encrypted_bytes_the_socket_did_not_take_are_reported_and_sent() {
        let (mut server, mut client) = pair().await;
        let chunk = [7u8; 1000];
        let mut sent = 0usize;
        // Fill the socket until it takes nothing more.
        loop {
            match server.try_write(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
            assert!(sent < 64 * 1024 * 1024, "the socket never filled up");
        }
        // One more small write may be taken by rustls while the socket is full: then it is
        // not sent, and the session must hear it.
        let last = b"the end";
        let mut took_last = false;
        if let Ok(n) = server.try_write(last) {
            sent += n;
            took_last = n == last.len();
        }
        assert!(!server.try_flush().unwrap(), "encrypted bytes wait, and try_flush says so");
        let reading = async {
            let mut got = vec![0u8; sent];
            client.read_exact(&mut got).await.unwrap();
            got
        };
        let flushing = async { tokio::io::AsyncWriteExt::flush(&mut server).await.unwrap() };
        let (got, ()) = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            tokio::join!(reading, flushing)
        })
        .await
        .expect("everything arrives once the client reads");
        if took_last {
            assert!(got.ends_with(last));
        }
        assert!(server.try_flush().unwrap(), "nothing waits after the flush");
    }
}
