//! `moat dkim keygen`: a new DKIM key pair, the private key as PEM for `[[dkim.key]]`
//! and the TXT record to publish at `SELECTOR._domainkey.DOMAIN`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};

/// The key types `moat dkim keygen` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA, 2048 bits: what every verifier accepts.
    Rsa2048,
    /// Ed25519 (RFC 8463): small, but not yet verified everywhere; publish it beside
    /// an RSA key.
    Ed25519,
}

/// A generated key pair.
pub struct GeneratedKey {
    /// The private key as PEM (PKCS#1 for RSA, PKCS#8 for Ed25519).
    pub private_pem: String,
    /// The TXT record's value, `v=DKIM1; k=…; p=…`.
    pub record: String,
}

/// Why a key could not be made.
#[derive(Debug, thiserror::Error)]
#[error("key generation failed: {0}")]
pub struct KeygenError(String);

/// Makes a new key of `kind`.
pub fn generate(kind: KeyKind) -> Result<GeneratedKey, KeygenError> {
    match kind {
        KeyKind::Rsa2048 => {
            // Key generation only: mail-auth's RustCrypto RSA (ring cannot generate RSA
            // keys); signing uses ring.
            let pair = mail_auth::dkim::generate::DkimKeyPair::generate_rsa(2048)
                .map_err(|e| KeygenError(e.to_string()))?;
            Ok(GeneratedKey {
                private_pem: pem("RSA PRIVATE KEY", pair.private_key()),
                record: format!(
                    "v=DKIM1; k=rsa; p={}",
                    STANDARD.encode(rsa_spki(pair.public_key()))
                ),
            })
        }
        KeyKind::Ed25519 => {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map_err(|e| KeygenError(e.to_string()))?;
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
                .map_err(|e| KeygenError(e.to_string()))?;
            Ok(GeneratedKey {
                private_pem: pem("PRIVATE KEY", pkcs8.as_ref()),
                record: format!(
                    "v=DKIM1; k=ed25519; p={}",
                    STANDARD.encode(pair.public_key().as_ref())
                ),
            })
        }
    }
}

/// `record` as a zone file's TXT line for `selector._domainkey.domain`, split into
/// strings of at most 255 characters (RFC 1035 §3.3).
pub fn zone_line(domain: &str, selector: &str, record: &str) -> String {
    let strings: Vec<String> = record
        .as_bytes()
        .chunks(255)
        .map(|chunk| format!("\"{}\"", String::from_utf8_lossy(chunk)))
        .collect();
    format!(
        "{selector}._domainkey.{}. IN TXT ( {} )",
        domain.trim_end_matches('.'),
        strings.join(" ")
    )
}

/// PEM text of `der` under `label`, in 64-character lines.
fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// An RSA public key (PKCS#1 `RSAPublicKey`) wrapped as a SubjectPublicKeyInfo, the
/// form DKIM key records are published in (`openssl rsa -pubout`).
fn rsa_spki(pkcs1: &[u8]) -> Vec<u8> {
    // AlgorithmIdentifier { rsaEncryption, NULL }
    const ALGORITHM: &[u8] = &[
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bit_string = vec![0x00];
    bit_string.extend_from_slice(pkcs1);
    let mut inner = ALGORITHM.to_vec();
    inner.extend(der_element(0x03, &bit_string));
    der_element(0x30, &inner)
}

fn der_element(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sender_auth::signing::DkimKey;

    #[test]
    fn generated_keys_load_as_signing_keys() {
        for kind in [KeyKind::Ed25519, KeyKind::Rsa2048] {
            let key = generate(kind).unwrap();
            assert!(
                DkimKey::from_pem(key.private_pem.as_bytes()).is_ok(),
                "{kind:?}"
            );
            assert!(key.record.starts_with("v=DKIM1; k="), "{}", key.record);
        }
    }

    #[test]
    fn an_rsa_record_holds_a_subject_public_key_info() {
        let key = generate(KeyKind::Rsa2048).unwrap();
        let p = key.record.split("p=").nth(1).unwrap();
        // Every 2048-bit SPKI starts with these bytes, base64 "MIIBIjANBgkqhkiG9w0BAQEFAAOC".
        assert!(p.starts_with("MIIBIjANBgkqhkiG9w0BAQEFAAOC"), "{p}");
    }

    #[test]
    fn long_records_are_split_into_255_character_strings() {
        let record = "x".repeat(300);
        let line = zone_line("example.org.", "s1", &record);
        assert!(line.starts_with("s1._domainkey.example.org. IN TXT ( \""));
        assert!(line.contains(&format!("\"{}\" \"{}\"", "x".repeat(255), "x".repeat(45))));
    }
}
