//! The client side of STARTTLS. By default rustls with a verifier that checks the
//! handshake's signatures but not the certificate's chain or name; a route with
//! `tls = "verify"` gets a verifying client of its own ([`VerifiedTls`]).
//!
//! Why no chain check by default: on a route the downstream is the operator's own server,
//! often with an internal or self-signed certificate, and between MX hosts STARTTLS is
//! opportunistic (RFC 7435): refusing an unverifiable certificate would only push the mail
//! to plain text. What TLS buys then is protection from passive eavesdropping; `verify`
//! is for the routes that need more (credentials, a downstream across networks).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_rustls::TlsConnector;

/// How a `tls = "verify"` route checks its servers: a client trusting only the route's
/// certificates, and the name they must carry when it is not the server's host. Two are
/// equal when they trust the same certificates for the same name, so a reload that finds
/// the file unchanged keeps the route (and its open connections).
#[derive(Clone)]
pub struct VerifiedTls {
    connector: TlsConnector,
    trusted: Vec<CertificateDer<'static>>,
    server_name: Option<String>,
}

impl PartialEq for VerifiedTls {
    fn eq(&self, other: &Self) -> bool {
        self.trusted == other.trusted && self.server_name == other.server_name
    }
}

impl Eq for VerifiedTls {}

impl VerifiedTls {
    /// A client trusting the certificates in the PEM file `ca_file`; `server_name`, when
    /// given, is the name every server's certificate must carry.
    pub fn new(ca_file: &Path, server_name: Option<String>) -> Result<Self, String> {
        let (trusted, roots) = read_trusted(ca_file)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            connector: TlsConnector::from(Arc::new(config)),
            trusted,
            server_name,
        })
    }

    /// The name to verify on `host`'s certificate.
    pub(super) fn name_for<'a>(&'a self, host: &'a str) -> &'a str {
        self.server_name.as_deref().unwrap_or(host)
    }

    /// The verifying client.
    pub(super) fn connector(&self) -> &TlsConnector {
        &self.connector
    }
}

impl fmt::Debug for VerifiedTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// The certificates of the PEM file `file` as trust anchors, or why they cannot be (the
/// text the config check shows under the key).
pub fn trusted_certificates(file: &Path) -> Result<RootCertStore, String> {
    read_trusted(file).map(|(_, roots)| roots)
}

/// The certificates of `file`, and the same as trust anchors.
fn read_trusted(file: &Path) -> Result<(Vec<CertificateDer<'static>>, RootCertStore), String> {
    let shown = file.display();
    let certificates = CertificateDer::pem_file_iter(file)
        .map_err(|e| format!("cannot read `{shown}`: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("`{shown}` is not PEM certificates: {e}"))?;
    let mut roots = RootCertStore::empty();
    for certificate in &certificates {
        roots
            .add(certificate.clone())
            .map_err(|e| format!("a certificate in `{shown}` cannot be trusted: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!("`{shown}` holds no certificate"));
    }
    Ok((certificates, roots))
}

/// A connector for STARTTLS to any next hop.
pub(crate) fn connector() -> Result<TlsConnector, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate { provider }))
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The name sent in SNI for `host` (an IP address or a host name).
pub(crate) fn server_name(host: &str) -> ServerName<'static> {
    ServerName::try_from(host.trim_end_matches('.').to_owned()).unwrap_or_else(|_| {
        ServerName::try_from("localhost")
            .expect("a valid name")
            .to_owned()
    })
}

/// Accepts any certificate; still checks that the server holds its key.
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
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
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), text).expect("written");
        file
    }

    #[test]
    fn a_pem_certificate_is_trusted_and_a_file_without_one_is_refused_with_a_reason() {
        let certified =
            rcgen::generate_simple_self_signed(vec!["mx.test".to_owned()]).expect("certificate");
        let good = file_with(&certified.cert.pem());
        assert_eq!(trusted_certificates(good.path()).expect("trusted").len(), 1);
        assert!(VerifiedTls::new(good.path(), Some("mx.test".into())).is_ok());

        let empty = file_with("just text, no certificate\n");
        let reason = trusted_certificates(empty.path()).expect_err("nothing to trust");
        assert!(reason.ends_with("holds no certificate"), "{reason}");

        let broken =
            file_with("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
        let reason = trusted_certificates(broken.path()).expect_err("not PEM");
        assert!(reason.contains("is not PEM certificates"), "{reason}");

        let reason = trusted_certificates(Path::new("no/such/ca.pem")).expect_err("no file");
        assert!(
            reason.starts_with("cannot read `no/such/ca.pem`"),
            "{reason}"
        );
    }
}
