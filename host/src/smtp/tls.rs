//! The STARTTLS side: the rustls server configuration from the operator's certificate, or
//! a self-signed one made (and kept under the data dir) for `moat serve --dev`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;
use crate::filter::pipeline::TlsInfo;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Only one of `tls.certificate` and `tls.key` is set.
    #[error("tls.certificate and tls.key must be set together")]
    Incomplete,
    /// A PEM file could not be read or holds nothing usable.
    #[error("cannot read {what} from {path}: {reason}")]
    Pem {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refused the certificate and key.
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The self-signed development certificate could not be made or stored.
    #[error("cannot make the development certificate in {dir}: {reason}")]
    DevCertificate {
        /// Where it is kept.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The acceptor configuration: from `[tls]` if set, else a self-signed certificate under
/// `dev_dir` when given (development), else `None` (STARTTLS not offered).
pub fn server_config(
    tls: &TlsConfig,
    hostname: &str,
    dev_dir: Option<&Path>,
) -> Result<Option<Arc<ServerConfig>>, TlsError> {
    let (cert, key) = match (&tls.certificate, &tls.key, dev_dir) {
        (Some(cert), Some(key), _) => (cert.clone(), key.clone()),
        (None, None, Some(dir)) => dev_certificate(dir, hostname)?,
        (None, None, None) => return Ok(None),
        _ => return Err(TlsError::Incomplete),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Pem {
            what: "certificate",
            path: cert.clone(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            what: "certificate",
            path: cert,
            reason: "no certificate in the file".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(&key).map_err(|e| TlsError::Pem {
        what: "private key",
        path: key.clone(),
        reason: e.to_string(),
    })?;
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
    Ok(Some(Arc::new(config)))
}

/// The development certificate in `dir`, made on first use.
fn dev_certificate(dir: &Path, hostname: &str) -> Result<(PathBuf, PathBuf), TlsError> {
    let (cert, key) = (dir.join("dev-cert.pem"), dir.join("dev-key.pem"));
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let error = |reason: String| TlsError::DevCertificate {
        dir: dir.to_owned(),
        reason,
    };
    let names = vec![hostname.to_owned(), "localhost".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names).map_err(|e| error(e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|e| error(e.to_string()))?;
    std::fs::write(&cert, certified.cert.pem()).map_err(|e| error(e.to_string()))?;
    std::fs::write(&key, certified.signing_key.serialize_pem())
        .map_err(|e| error(e.to_string()))?;
    tracing::info!(certificate = %cert.display(), "made a self-signed development certificate");
    Ok((cert, key))
}

/// The version and cipher of an established session, for filters and Received headers.
pub fn session_info(connection: &rustls::ServerConnection) -> TlsInfo {
    let version = match connection.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
        Some(other) => format!("{other:?}"),
        None => "unknown".to_owned(),
    };
    let cipher = connection
        .negotiated_cipher_suite()
        .map_or_else(|| "unknown".to_owned(), |s| format!("{:?}", s.suite()));
    TlsInfo { version, cipher }
}
