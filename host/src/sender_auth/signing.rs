//! DKIM signing of submitted mail (RFC 6376, RFC 8463): `[[dkim.key]]` entries, one key
//! per domain and selector, loaded once; a message whose From domain has a key is signed
//! once, before it is queued, so every delivery attempt sends the same bytes. ring does
//! the private-key work (mail-auth's RustCrypto RSA has a timing side channel,
//! RUSTSEC-2023-0071).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use mail_auth::crypto::{Algorithm, CryptoError, HashImpl, Sha256, SigningKey};
use mail_auth::dkim::{Canonicalization, DkimSigner};
use mail_auth::headers::{HeaderWriter as _, Writable};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject as _;

/// The header fields signed when present: those RFC 6376 §5.4.1 recommends, and the
/// ones a mail client shows or acts on. Those a reader sees as who wrote the message and
/// to whom are listed twice: mail-auth then also signs one more (absent) instance, so a
/// field of that name added on the way breaks the signature (oversigning, §8.15).
pub const SIGNED_FIELDS: &[&str] = &[
    "From",
    "From",
    "Reply-To",
    "Reply-To",
    "Subject",
    "Subject",
    "Date",
    "To",
    "To",
    "Cc",
    "Cc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// Why a DKIM key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The key file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// No private key in PEM form in the file.
    #[error(
        "{path} holds no PEM private key (PKCS#8 \"PRIVATE KEY\" or PKCS#1 \"RSA PRIVATE KEY\")"
    )]
    NotPem {
        /// The key file.
        path: String,
    },
    /// A private key, but neither RSA nor Ed25519, or an RSA key ring refuses (shorter
    /// than 2048 bits, say).
    #[error("{path}: not a usable RSA (2048 bits or more) or Ed25519 key: {reason}")]
    Unusable {
        /// The key file.
        path: String,
        /// What ring said.
        reason: String,
    },
}

/// A private key, shared by every signature made with it.
#[derive(Clone)]
pub enum DkimKey {
    /// RSA with SHA-256.
    Rsa(Arc<RsaKeyPair>),
    /// Ed25519 with SHA-256 (RFC 8463).
    Ed25519(Arc<Ed25519KeyPair>),
}

impl DkimKey {
    /// Reads a PEM key file (RSA in PKCS#8 or PKCS#1, Ed25519 in PKCS#8).
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let shown = path.display().to_string();
        let pem = std::fs::read(path).map_err(|source| KeyError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::from_pem(&pem).map_err(|e| match e {
            KeyError::NotPem { .. } => KeyError::NotPem { path: shown },
            KeyError::Unusable { reason, .. } => KeyError::Unusable {
                path: shown,
                reason,
            },
            other => other,
        })
    }

    /// A key from PEM text.
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let der = PrivateKeyDer::from_pem_slice(pem).map_err(|_| KeyError::NotPem {
            path: String::new(),
        })?;
        let unusable = |reason: String| KeyError::Unusable {
            path: String::new(),
            reason,
        };
        match der {
            PrivateKeyDer::Pkcs8(pkcs8) => {
                let der = pkcs8.secret_pkcs8_der();
                if let Ok(pair) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
                    return Ok(Self::Ed25519(Arc::new(pair)));
                }
                RsaKeyPair::from_pkcs8(der)
                    .map(|pair| Self::Rsa(Arc::new(pair)))
                    .map_err(|e| unusable(e.to_string()))
            }
            PrivateKeyDer::Pkcs1(pkcs1) => RsaKeyPair::from_der(pkcs1.secret_pkcs1_der())
                .map(|pair| Self::Rsa(Arc::new(pair)))
                .map_err(|e| unusable(e.to_string())),
            _ => Err(unusable(
                "an elliptic-curve key (DKIM uses RSA or Ed25519)".into(),
            )),
        }
    }
}

impl SigningKey for DkimKey {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        let failed = |e: ring::error::Unspecified| {
            mail_auth::Error::Crypto(CryptoError::Library(e.to_string()))
        };
        match self {
            Self::Rsa(pair) => {
                let mut data = Vec::new();
                input.write(&mut data);
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    &data,
                    &mut signature,
                )
                .map_err(failed)?;
                Ok(signature)
            }
            // RFC 8463 §3: Ed25519 signs the SHA-256 hash of the canonicalized input.
            Self::Ed25519(pair) => {
                let digest = <Sha256 as HashImpl>::digest(input);
                Ok(pair.sign(digest.as_ref()).as_ref().to_vec())
            }
        }
    }

    fn algorithm(&self) -> Algorithm {
        match self {
            Self::Rsa(_) => Algorithm::RsaSha256,
            Self::Ed25519(_) => Algorithm::Ed25519Sha256,
        }
    }
}

/// One configured signing identity.
#[derive(Clone)]
pub struct SigningIdentity {
    /// `d=`.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// The key.
    pub key: DkimKey,
}

/// The signing identities by domain.
#[derive(Clone, Default)]
pub struct DkimSigning {
    by_domain: HashMap<String, Vec<SigningIdentity>>,
}

impl DkimSigning {
    /// Signing with `identities` (several per domain: each signs, as when rolling keys).
    pub fn new(identities: Vec<SigningIdentity>) -> Self {
        let mut by_domain: HashMap<String, Vec<SigningIdentity>> = HashMap::new();
        for identity in identities {
            by_domain
                .entry(identity.domain.to_ascii_lowercase())
                .or_default()
                .push(identity);
        }
        Self { by_domain }
    }

    /// Whether any key is configured.
    pub fn is_empty(&self) -> bool {
        self.by_domain.is_empty()
    }

    /// The `DKIM-Signature` fields (each ending in CRLF) for the message `chunks` (in
    /// order, together the whole message) whose From domain is `from_domain`: one per key
    /// of exactly that domain (a subdomain, which may be another tenant's, needs keys of
    /// its own). Empty when it has none; a signing failure is logged and leaves the
    /// message unsigned by that key.
    pub fn sign(&self, from_domain: &str, chunks: &[&[u8]]) -> String {
        let from_domain = from_domain.trim_end_matches('.').to_ascii_lowercase();
        let Some(identities) = self.by_domain.get(&from_domain) else {
            return String::new();
        };
        let mut out = String::new();
        for identity in identities {
            let signed = DkimSigner::from_key(identity.key.clone())
                .domain(identity.domain.clone())
                .selector(identity.selector.clone())
                .headers(SIGNED_FIELDS.iter().copied())
                .header_canonicalization(Canonicalization::Relaxed)
                .body_canonicalization(Canonicalization::Relaxed)
                .sign_chained(chunks.iter().copied());
            match signed {
                Ok(signature) => out.push_str(&signature.to_header()),
                Err(error) => tracing::warn!(
                    %error,
                    domain = %identity.domain,
                    selector = %identity.selector,
                    "DKIM signing failed: message left unsigned by this key"
                ),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ed25519_identity(domain: &str) -> SigningIdentity {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        SigningIdentity {
            domain: domain.into(),
            selector: "s1".into(),
            key: DkimKey::Ed25519(Arc::new(
                Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap(),
            )),
        }
    }

    #[test]
    fn a_domain_with_keys_is_signed_and_its_subdomains_and_others_not() {
        let signing = DkimSigning::new(vec![ed25519_identity("example.org")]);
        let message: &[u8] = b"From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n";
        let header = signing.sign("example.org", &[message]);
        assert!(header.starts_with("DKIM-Signature:"), "{header}");
        assert!(header.contains("d=example.org"), "{header}");
        assert!(header.contains("a=ed25519-sha256"), "{header}");
        assert!(
            signing
                .sign("Example.ORG.", &[message])
                .contains("d=example.org")
        );
        // The one From is signed, and one more: a From added later breaks the signature.
        let signed_fields = header
            .split("h=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        let froms = signed_fields
            .split(':')
            .filter(|f| f.trim() == "From")
            .count();
        assert_eq!(froms, 2, "oversigned: {header}");
        assert_eq!(signing.sign("news.example.org", &[message]), "");
        assert_eq!(signing.sign("example.net", &[message]), "");
        assert_eq!(signing.sign("org", &[message]), "");
    }

    #[test]
    fn a_file_that_is_not_a_key_is_refused() {
        assert!(matches!(
            DkimKey::from_pem(b"hello"),
            Err(KeyError::NotPem { .. })
        ));
    }
}
