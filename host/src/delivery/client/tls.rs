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
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
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
        let (trusted, roots) = crate::config::trusted_certificates(ca_file)?;
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

    #[test]
    fn a_route_trusting_a_pem_certificate_gets_a_verifying_client() {
        let certified =
            rcgen::generate_simple_self_signed(vec!["mx.test".to_owned()]).expect("certificate");
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), certified.cert.pem()).expect("written");
        assert!(VerifiedTls::new(file.path(), Some("mx.test".into())).is_ok());
        assert!(VerifiedTls::new(Path::new("no/such/ca.pem"), None).is_err());
    }
}
