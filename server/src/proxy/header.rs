//! The PROXY protocol header (HAProxy's; v1 text, v2 binary) a trusted proxy puts in front of
//! each connection: parsed by the `ppp` crate, read off the socket to its last byte and not
//! one more.
//!
//! What follows the header is the client's own stream (a TLS handshake, JSON lines, plain
//! text) and must stay in the socket for whoever reads next, so the header is never read
//! through a buffer. The socket is peeked, the peeked bytes parsed; a complete header is then
//! read for exactly its length, and an incomplete one (every peeked byte is then part of it)
//! is read as far as it goes before peeking again, so each wait is for new bytes.

use std::io;
use std::net::{IpAddr, SocketAddr};

use ppp::{PartialResult as _, v1, v2};
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpStream;

use crate::limits::{PROXY_HEADER_MAX, PROXY_HEADER_TIMEOUT};

/// The 12 bytes a v2 header starts with.
pub const V2_SIGNATURE: &[u8] = v2::PROTOCOL_PREFIX;
/// What a v1 header starts with.
pub const V1_SIGNATURE: &[u8] = b"PROXY ";

/// What the bytes received so far say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A whole header of `len` bytes. `client`: the address it carries; `None` for the proxy's
    /// own connections (v2 `LOCAL`: a health check; v1 `UNKNOWN`; v2 with no IP address),
    /// which keep the proxy's address.
    Header { len: usize, client: Option<SocketAddr> },
    /// A header's beginning: every byte given is part of it.
    Incomplete,
    /// Not a header, or a broken one.
    Invalid(&'static str),
    /// A header longer than [`PROXY_HEADER_MAX`].
    TooLong,
}

/// Why a connection from a trusted proxy has no usable header.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("no PROXY header: {0}")]
    Invalid(&'static str),
    #[error("a PROXY header longer than {PROXY_HEADER_MAX} bytes")]
    TooLong,
    #[error("no PROXY header within {PROXY_HEADER_TIMEOUT:?}")]
    TimedOut,
    #[error("closed before its PROXY header was complete")]
    Closed,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Parses the start of a connection.
pub fn parse(bytes: &[u8]) -> Parsed {
    let parsed = if bytes.starts_with(V2_SIGNATURE) || V2_SIGNATURE.starts_with(bytes) {
        parse_v2(bytes)
    } else {
        parse_v1(bytes)
    };
    match parsed {
        Parsed::Header { len, .. } if len > PROXY_HEADER_MAX => Parsed::TooLong,
        parsed => parsed,
    }
}

fn parse_v2(bytes: &[u8]) -> Parsed {
    let result = v2::Header::try_from(bytes);
    if result.is_incomplete() {
        return match result {
            // The length is known from the 16th byte on: a header that will not fit is
            // refused before it is read.
            Err(v2::ParseError::Partial(_, length))
                if V2_SIGNATURE.len() + 4 + length > PROXY_HEADER_MAX =>
            {
                Parsed::TooLong
            }
            _ => Parsed::Incomplete,
        };
    }
    let Ok(header) = result else { return Parsed::Invalid("a malformed v2 header") };
    let client = match (header.command, header.addresses) {
        (v2::Command::Local, _) => None,
        (v2::Command::Proxy, v2::Addresses::IPv4(a)) => {
            Some(SocketAddr::new(IpAddr::V4(a.source_address), a.source_port))
        }
        (v2::Command::Proxy, v2::Addresses::IPv6(a)) => {
            Some(SocketAddr::new(IpAddr::V6(a.source_address), a.source_port))
        }
        (v2::Command::Proxy, v2::Addresses::Unspecified | v2::Addresses::Unix(_)) => None,
    };
    Parsed::Header { len: header.len(), client }
}

/// The longest v1 header, CR LF included (the protocol's own bound).
const V1_MAX: usize = 107;

/// A v1 header is a line: until its CR LF has come it is incomplete, and only the whole
/// line is given to `ppp` (whose guesses about a line cut short are not all right: it
/// refuses "PROXY TCP4 192.0.2.7 10.0.0.1 5555 ", the beginning of a good header).
fn parse_v1(bytes: &[u8]) -> Parsed {
    let n = bytes.len().min(V1_SIGNATURE.len());
    if bytes[..n] != V1_SIGNATURE[..n] {
        return Parsed::Invalid("the connection starts with something else");
    }
    let Some(cr) = bytes.iter().position(|&b| b == b'\r') else {
        return if bytes.len() >= V1_MAX { Parsed::TooLong } else { Parsed::Incomplete };
    };
    let len = cr + 2;
    if len > V1_MAX {
        return Parsed::TooLong;
    }
    let Some(line) = bytes.get(..len) else { return Parsed::Incomplete };
    let Ok(header) = v1::Header::try_from(line) else {
        return Parsed::Invalid("a malformed v1 header");
    };
    let client = match header.addresses {
        v1::Addresses::Tcp4(a) => {
            Some(SocketAddr::new(IpAddr::V4(a.source_address), a.source_port))
        }
        v1::Addresses::Tcp6(a) => {
            Some(SocketAddr::new(IpAddr::V6(a.source_address), a.source_port))
        }
        v1::Addresses::Unknown => None,
    };
    Parsed::Header { len, client }
}

/// Whether a connection's first bytes (as many as have come) are the beginning of a PROXY
/// header: that of a client claiming an address it cannot be trusted to give.
pub fn looks_like_header(first: &[u8]) -> bool {
    let starts = |signature: &[u8]| {
        let n = first.len().min(signature.len());
        n > 0 && first[..n] == signature[..n]
    };
    starts(V1_SIGNATURE) || starts(V2_SIGNATURE)
}

/// Reads a connection's PROXY header, exactly its bytes, within [`PROXY_HEADER_TIMEOUT`].
/// Returns the client's address it carries (`None`: the proxy's own connection).
pub async fn read(tcp: &mut TcpStream) -> Result<Option<SocketAddr>, HeaderError> {
    tokio::time::timeout(PROXY_HEADER_TIMEOUT, read_untimed(tcp))
        .await
        .unwrap_or(Err(HeaderError::TimedOut))
}

async fn read_untimed(tcp: &mut TcpStream) -> Result<Option<SocketAddr>, HeaderError> {
    let mut buf = vec![0u8; PROXY_HEADER_MAX];
    // The first `taken` bytes of `buf` are read off the socket: all of them header.
    let mut taken = 0;
    loop {
        let fresh = buf.get_mut(taken..).ok_or(HeaderError::TooLong)?;
        let peeked = tcp.peek(fresh).await?;
        if peeked == 0 {
            return Err(HeaderError::Closed);
        }
        let seen = taken + peeked;
        match parse(buf.get(..seen).ok_or(HeaderError::TooLong)?) {
            Parsed::Header { len, client } => {
                // Bytes already taken were an incomplete header, so this one is longer.
                let rest = buf.get_mut(taken..len).ok_or(HeaderError::Invalid("inconsistent"))?;
                tcp.read_exact(rest).await?;
                return Ok(client);
            }
            Parsed::Incomplete if seen >= PROXY_HEADER_MAX => return Err(HeaderError::TooLong),
            Parsed::Incomplete => {
                let part = buf.get_mut(taken..seen).ok_or(HeaderError::TooLong)?;
                tcp.read_exact(part).await?;
                taken = seen;
            }
            Parsed::Invalid(why) => return Err(HeaderError::Invalid(why)),
            Parsed::TooLong => return Err(HeaderError::TooLong),
        }
    }
}

#[cfg(test)]
mod tests;
