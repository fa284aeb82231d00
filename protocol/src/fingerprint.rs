//! Certificate fingerprints as people compare them: the SHA-256 of the certificate (DER),
//! in uppercase hex pairs joined by colons, as `openssl x509 -noout -fingerprint -sha256`
//! prints it. The server prints it for a certificate it made itself; the client shows it,
//! stores it and takes it pinned in the same form.

use sha2::{Digest, Sha256};

/// A certificate's SHA-256, the bytes a fingerprint shows.
pub type Sha256Digest = [u8; 32];

pub fn digest(der: &[u8]) -> Sha256Digest {
    Sha256::digest(der).into()
}

/// `AB:CD:...`: the fingerprint of a certificate (DER).
pub fn fingerprint(der: &[u8]) -> String {
    show(&digest(der))
}

/// `AB:CD:...` for a digest.
pub fn show(digest: &Sha256Digest) -> String {
    let pairs: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    pairs.join(":")
}

/// Reads a fingerprint the way people paste it: with or without colons (or spaces), in any
/// case, with or without a `SHA256:`/`sha256=` prefix. `None` unless it is 32 bytes of hex.
pub fn parse(text: &str) -> Option<Sha256Digest> {
    let text = text.trim();
    let text = ["SHA256:", "SHA256=", "SHA-256:", "SHA-256="]
        .iter()
        .find_map(|prefix| {
            text.get(..prefix.len())
                .filter(|head| head.eq_ignore_ascii_case(prefix))
                .map(|_| &text[prefix.len()..])
        })
        .unwrap_or(text);
    let hex: Vec<u8> = text.bytes().filter(|b| !matches!(b, b':' | b' ')).collect();
    if hex.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(hex.chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_is_sha256_in_colon_separated_pairs() {
        // echo -n abc | sha256sum
        let shown = fingerprint(b"abc");
        assert_eq!(
            shown,
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
        assert_eq!(parse(&shown), Some(digest(b"abc")));
    }

    #[test]
    fn fingerprints_are_read_as_people_paste_them() {
        let want = Some(digest(b"abc"));
        let bare = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(parse(bare), want);
        assert_eq!(parse(&format!("SHA256:{bare}")), want);
        assert_eq!(parse(&format!(" sha256={} ", bare.to_uppercase())), want);
        assert_eq!(parse(&bare[..62]), None, "too short");
        assert_eq!(parse(&format!("{}zz", &bare[..62])), None, "not hex");
        assert_eq!(parse("é".repeat(32).as_str()), None);
    }
}
