//! Tests of the PROXY header: both versions, truncated, malformed and oversize headers,
//! random bytes (never a panic), and reading exactly a header off a real socket.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::time::Duration;

use proptest::prelude::*;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpListener;

use super::*;

/// A v2 header made byte by byte (not by `ppp`, which is what is tested).
fn v2(version_command: u8, family: u8, addresses: &[u8], tlvs: &[u8]) -> Vec<u8> {
    let mut header = V2_SIGNATURE.to_vec();
    header.extend([version_command, family]);
    let len = u16::try_from(addresses.len() + tlvs.len()).unwrap();
    header.extend(len.to_be_bytes());
    header.extend(addresses);
    header.extend(tlvs);
    header
}

fn v2_ipv4(source: [u8; 4], port: u16) -> Vec<u8> {
    let mut addresses = source.to_vec();
    addresses.extend([10, 0, 0, 1]);
    addresses.extend(port.to_be_bytes());
    addresses.extend(7878u16.to_be_bytes());
    v2(0x21, 0x11, &addresses, &[])
}

fn header(len: usize, client: &str) -> Parsed {
    Parsed::Header { len, client: Some(client.parse().unwrap()) }
}

/// Both versions, both families: the client's address, and the header's exact length
/// whatever follows it (a TLS record, a JSON line).
#[test]
fn headers_give_the_client_address_and_their_length() {
    let mut bytes = v2_ipv4([192, 0, 2, 7], 5555);
    assert_eq!(parse(&bytes), header(28, "192.0.2.7:5555"));
    bytes.extend([0x16, 0x03, 0x01, 0x00]);
    assert_eq!(parse(&bytes), header(28, "192.0.2.7:5555"));

    let mut addresses = vec![0x20, 0x01, 0x0d, 0xb8];
    addresses.extend([0; 11]);
    addresses.push(9);
    addresses.extend([0; 15]);
    addresses.push(1);
    addresses.extend([0x1f, 0x90, 0x1e, 0xc6]);
    assert_eq!(parse(&v2(0x21, 0x21, &addresses, &[])), header(52, "[2001:db8::9]:8080"));

    let v1 = b"PROXY TCP4 192.0.2.8 10.0.0.1 40000 7878\r\n{\"type\":\"hello\"}\n";
    assert_eq!(parse(v1), header(42, "192.0.2.8:40000"));
    let v1 = b"PROXY TCP6 2001:db8::7 ::1 1 2\r\n";
    assert_eq!(parse(v1), header(v1.len(), "[2001:db8::7]:1"));
}

/// The proxy's own connections (health checks) carry no client: the proxy's address
/// stays. TLVs are skipped: counted in the length, not looked at.
#[test]
fn local_unknown_and_tlvs() {
    let local = v2(0x20, 0x00, &[], &[]);
    assert_eq!(parse(&local), Parsed::Header { len: 16, client: None });
    let local_with_addresses = v2(0x20, 0x11, &[1; 12], &[]);
    assert_eq!(parse(&local_with_addresses), Parsed::Header { len: 28, client: None });
    let unspecified = v2(0x21, 0x00, &[], &[]);
    assert_eq!(parse(&unspecified), Parsed::Header { len: 16, client: None });
    let unknown = b"PROXY UNKNOWN\r\n";
    assert_eq!(parse(unknown), Parsed::Header { len: 15, client: None });
    let unknown = b"PROXY UNKNOWN ffff:: ffff:: 1 2\r\nrest";
    assert_eq!(parse(unknown), Parsed::Header { len: 33, client: None });

    let mut bytes = v2_ipv4([192, 0, 2, 7], 1);
    let tlvs = [0x05, 0x00, 0x04, 1, 2, 3, 4, 0x04, 0x00, 0x02, 0, 0];
    bytes.extend(tlvs);
    bytes[15] += u8::try_from(tlvs.len()).unwrap();
    assert_eq!(parse(&bytes), header(28 + tlvs.len(), "192.0.2.7:1"));
}

/// Every beginning of a header is incomplete, never invalid nor a header.
#[test]
fn truncated_headers_are_incomplete() {
    let headers: [&[u8]; 4] = [
        &v2_ipv4([192, 0, 2, 7], 5555),
        b"PROXY TCP4 192.0.2.8 10.0.0.1 40000 7878\r\n",
        b"PROXY TCP6 2001:db8::7 ::1 1 2\r\n",
        b"PROXY UNKNOWN\r\n",
    ];
    for whole in headers {
        for end in 0..whole.len() {
            assert_eq!(parse(&whole[..end]), Parsed::Incomplete, "{:?}", &whole[..end]);
        }
    }
}

/// Broken headers and other protocols are invalid at once.
#[test]
fn malformed_headers_are_invalid() {
    let invalid = |bytes: &[u8]| matches!(parse(bytes), Parsed::Invalid(_));
    assert!(invalid(&v2(0x11, 0x11, &[0; 12], &[])), "version 1 in a v2 header");
    assert!(invalid(&v2(0x2f, 0x11, &[0; 12], &[])), "unknown command");
    assert!(invalid(&v2(0x21, 0x41, &[0; 12], &[])), "unknown family");
    assert!(invalid(&v2(0x21, 0x11, &[0; 4], &[])), "too short for its addresses");
    assert!(invalid(b"PROXY TCP5 192.0.2.8 10.0.0.1 1 2\r\n"));
    assert!(invalid(b"PROXY TCP4 192.0.2 10.0.0.1 1 2\r\n"));
    assert!(invalid(b"PROXY TCP4 192.0.2.8 10.0.0.1 65536 2\r\n"));
    assert!(invalid(b"PROXY TCP4 2001:db8::1 ::1 1 2\r\n"));
    assert!(invalid(b"PROXY TCP4\r\n{\"type\":\"hello\"}\n"), "ends before its addresses");
    assert!(invalid(b"PROXY TCP4 192.0.2.8 10.0.0.1 1 2\rX"), "CR without LF");
    assert!(invalid(b"{\"type\":\"hello\"}\n"));
    assert!(invalid(&[0x16, 0x03, 0x01, 0x02, 0x00]), "a TLS ClientHello");
    assert!(invalid(b"Michael\r\n"));
}

/// v1 is at most 107 bytes; v2 at most PROXY_HEADER_MAX, known from its 16th byte.
#[test]
fn oversize_headers_are_refused_early() {
    let unknown = |len: usize| {
        let mut line = b"PROXY UNKNOWN ".to_vec();
        line.resize(len - 2, b'x');
        line.extend(b"\r\n");
        line
    };
    assert_eq!(parse(&unknown(107)), Parsed::Header { len: 107, client: None });
    assert_eq!(parse(&unknown(108)), Parsed::TooLong);
    assert_eq!(parse(&[b"PROXY ".as_slice(), &[b'A'; 200]].concat()), Parsed::TooLong);
    let huge = v2(0x21, 0x11, &[0; 12], &[]);
    let mut declared = huge[..16].to_vec();
    declared[14..16].copy_from_slice(&u16::MAX.to_be_bytes());
    assert_eq!(parse(&declared), Parsed::TooLong, "refused before it is read");
    let fits = PROXY_HEADER_MAX - 16;
    let mut largest = v2(0x21, 0x11, &[0; 12], &vec![0; fits - 12]);
    assert!(matches!(parse(&largest), Parsed::Header { len, .. } if len == PROXY_HEADER_MAX));
    largest.push(0);
    largest[14..16].copy_from_slice(&u16::try_from(fits + 1).unwrap().to_be_bytes());
    assert_eq!(parse(&largest), Parsed::TooLong);
}

/// What a forger's connection starts with, as much of it as has come.
#[test]
fn signatures_are_recognised() {
    assert!(looks_like_header(b"PROXY TCP4 1.2.3.4"));
    assert!(looks_like_header(b"PRO"));
    assert!(looks_like_header(&V2_SIGNATURE[..5]));
    assert!(looks_like_header(&v2_ipv4([1, 2, 3, 4], 1)));
    assert!(!looks_like_header(b""));
    assert!(!looks_like_header(b"PROXYX"));
    assert!(!looks_like_header(b"{\"type\":\"hello\"}\n"));
    assert!(!looks_like_header(&[0x16, 0x03, 0x01]));
    assert!(!looks_like_header(b"\r\n\r\nQ"));
}

/// Bytes from anywhere (and headers with anything after them): no panic, and a header
/// is the same header without what follows it, within the bounds.
fn check(bytes: &[u8]) {
    match parse(bytes) {
        Parsed::Header { len, client } => {
            assert!(len <= bytes.len() && len <= PROXY_HEADER_MAX);
            assert_eq!(parse(&bytes[..len]), Parsed::Header { len, client });
        }
        Parsed::Incomplete => assert!(bytes.len() < PROXY_HEADER_MAX),
        Parsed::Invalid(_) | Parsed::TooLong => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check(&bytes);
    }

    #[test]
    fn random_bytes_after_a_signature_never_panic(
        v2_start in any::<bool>(),
        rest in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let start: &[u8] = if v2_start { V2_SIGNATURE } else { b"PROXY TCP4 " };
        check(&[start, &rest].concat());
    }

    #[test]
    fn a_header_is_found_whatever_follows(
        source in any::<[u8; 4]>(),
        port in any::<u16>(),
        text in any::<bool>(),
        after in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let ip = std::net::Ipv4Addr::from(source);
        let whole = if text {
            format!("PROXY TCP4 {ip} 10.0.0.1 {port} 7878\r\n").into_bytes()
        } else {
            v2_ipv4(source, port)
        };
        let expected = Parsed::Header {
            len: whole.len(),
            client: Some(SocketAddr::from((ip, port))),
        };
        prop_assert_eq!(parse(&[whole.as_slice(), &after].concat()), expected);
        for end in 0..whole.len() {
            prop_assert_eq!(parse(&whole[..end]), Parsed::Incomplete);
        }
    }
}

/// A connected pair on loopback: the server's side, and the client's.
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    (listener.accept().await.unwrap().0, client)
}

/// Reads what followed the header, failing (not hanging) if it is gone.
async fn read_after(server: &mut TcpStream, after: &mut [u8]) {
    let read = tokio::time::timeout(Duration::from_secs(5), server.read_exact(after)).await;
    read.expect("what follows the header is still in the socket").unwrap();
}

/// Off a socket: exactly the header is read, in one piece or many; what follows stays
/// for the next reader.
#[tokio::test]
async fn reads_exactly_the_header() {
    for whole in
        [v2_ipv4([192, 0, 2, 7], 5555), b"PROXY TCP4 192.0.2.7 10.0.0.1 5555 7878\r\n".to_vec()]
    {
        let (mut server, mut client) = pair().await;
        client.write_all(&[whole.as_slice(), b"after"].concat()).await.unwrap();
        assert_eq!(read(&mut server).await.unwrap(), Some("192.0.2.7:5555".parse().unwrap()));
        let mut after = [0u8; 5];
        read_after(&mut server, &mut after).await;
        assert_eq!(&after, b"after");

        let (mut server, mut client) = pair().await;
        let writer = tokio::spawn(async move {
            for piece in whole.chunks(5).chain([b"after".as_slice()]) {
                client.write_all(piece).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            client
        });
        assert_eq!(read(&mut server).await.unwrap(), Some("192.0.2.7:5555".parse().unwrap()));
        let _client = writer.await.unwrap();
        read_after(&mut server, &mut after).await;
        assert_eq!(&after, b"after");
    }
}

/// Off a socket: a closed connection, something else, an oversize header.
#[tokio::test]
async fn read_refusals() {
    let (mut server, mut client) = pair().await;
    client.write_all(b"PROXY TCP4 192.0").await.unwrap();
    drop(client);
    assert!(matches!(read(&mut server).await, Err(HeaderError::Closed)));

    let (mut server, mut client) = pair().await;
    client.write_all(b"{\"type\":\"hello\"}\n").await.unwrap();
    assert!(matches!(read(&mut server).await, Err(HeaderError::Invalid(_))));

    let (mut server, mut client) = pair().await;
    let mut declared = v2(0x21, 0x11, &[0; 12], &[]);
    declared[14..16].copy_from_slice(&u16::MAX.to_be_bytes());
    client.write_all(&declared).await.unwrap();
    assert!(matches!(read(&mut server).await, Err(HeaderError::TooLong)));
}
