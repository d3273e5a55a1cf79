//! The STARTTLS side: the rustls server configuration from the operator's certificate, or
//! a self-signed one made (and kept under the data dir) for `moat serve --dev`. The
//! certificate served is a [`ServedCertificate`], which a reload replaces: a renewed
//! certificate is served from the next handshake on, without a restart.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

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

/// The listeners' TLS: the rustls configuration, and the certificate it serves.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// What the acceptors are built from.
    pub config: Arc<ServerConfig>,
    /// The certificate in force, for reloads to replace.
    pub certificate: Arc<ServedCertificate>,
}

/// The acceptor configuration: from `[tls]` if set, else a self-signed certificate under
/// `dev_dir` when given (development), else `None` (STARTTLS not offered).
pub fn server_config(
    tls: &TlsConfig,
    hostname: &str,
    dev_dir: Option<&Path>,
) -> Result<Option<ServerTls>, TlsError> {
    let (cert, key, from_config) = match (&tls.certificate, &tls.key, dev_dir) {
        (Some(cert), Some(key), _) => (cert.clone(), key.clone(), true),
        (None, None, Some(dir)) => {
            let (cert, key) = dev_certificate(dir, hostname)?;
            (cert, key, false)
        }
        (None, None, None) => return Ok(None),
        _ => return Err(TlsError::Incomplete),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certificate = Arc::new(ServedCertificate {
        current: RwLock::new(Arc::new(certified_key(&cert, &key, &provider)?)),
        provider: Arc::clone(&provider),
        from_config,
    });
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::clone(&certificate) as Arc<dyn ResolvesServerCert>);
    Ok(Some(ServerTls {
        config: Arc::new(config),
        certificate,
    }))
}

/// The certificate the listeners serve, replaced whole by a reload (`[tls]` read again).
#[derive(Debug)]
pub struct ServedCertificate {
    current: RwLock<Arc<CertifiedKey>>,
    provider: Arc<CryptoProvider>,
    /// From `[tls]` (reloadable), not the `--dev` one.
    from_config: bool,
}

/// What a reload does to the served certificate.
#[derive(Debug)]
pub enum CertificateReload {
    /// `[tls]` read again: this certificate and key, ready to be put in force.
    Ready(Arc<CertifiedKey>, PathBuf),
    /// Nothing to read again: no `[tls]` then or now.
    Unchanged,
    /// `[tls]` changed in a way only a restart applies (set under `--dev`'s certificate,
    /// or removed); the certificate in force stays.
    NeedsRestart(&'static str),
}

impl ServedCertificate {
    /// Reads `tls`'s certificate and key again, without putting them in force: a reload
    /// that cannot read them is refused before anything changes.
    pub fn prepare(&self, tls: &TlsConfig) -> Result<CertificateReload, TlsError> {
        match (&tls.certificate, &tls.key) {
            (Some(cert), Some(key)) if self.from_config => Ok(CertificateReload::Ready(
                Arc::new(certified_key(cert, key, &self.provider)?),
                cert.clone(),
            )),
            (Some(_), Some(_)) => Ok(CertificateReload::NeedsRestart(
                "the server serves its --dev certificate: serving [tls] takes a restart",
            )),
            (None, None) if self.from_config => Ok(CertificateReload::NeedsRestart(
                "[tls] was removed: the certificate in force stays until a restart",
            )),
            (None, None) => Ok(CertificateReload::Unchanged),
            _ => Err(TlsError::Incomplete),
        }
    }

    /// Serves `key` from the next handshake on.
    pub fn put_in_force(&self, key: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = key;
    }
}

impl ResolvesServerCert for ServedCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(PoisonError::into_inner),
        ))
    }
}

/// The certificate chain of the PEM file `cert` with the private key of `key`, checked
/// to belong together.
fn certified_key(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let cert = cert.to_owned();
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
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Pem {
        what: "private key",
        path: key.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(CertifiedKey::from_der(certs, key, provider)?)
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
    crate::os::private::create_private_dir(dir).map_err(|e| error(e.to_string()))?;
    std::fs::write(&cert, certified.cert.pem()).map_err(|e| error(e.to_string()))?;
    // The key is the server's identity: its owner only, whatever the umask.
    let mut key_file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&key)
        .map_err(|e| error(e.to_string()))?;
    key_file
        .write_all(certified.signing_key.serialize_pem().as_bytes())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a new certificate and key for mx.test into `dir` as `<stem>-cert.pem` and
    /// `<stem>-key.pem`.
    fn write_pair(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
        let certified = rcgen::generate_simple_self_signed(vec!["mx.test".to_owned()]).unwrap();
        let (cert, key) = (
            dir.join(format!("{stem}-cert.pem")),
            dir.join(format!("{stem}-key.pem")),
        );
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        (cert, key)
    }

    fn tls(cert: Option<&Path>, key: Option<&Path>) -> TlsConfig {
        TlsConfig {
            certificate: cert.map(Path::to_owned),
            key: key.map(Path::to_owned),
        }
    }

    #[test]
    fn a_reload_reads_the_pair_again_and_refuses_a_key_of_another_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (cert_a, key_a) = write_pair(dir.path(), "a");
        let (cert_b, key_b) = write_pair(dir.path(), "b");
        let served = server_config(&tls(Some(&cert_a), Some(&key_a)), "mx.test", None)
            .unwrap()
            .expect("TLS configured")
            .certificate;
        match served.prepare(&tls(Some(&cert_b), Some(&key_b))).unwrap() {
            CertificateReload::Ready(key, path) => {
                assert_eq!(path, cert_b);
                served.put_in_force(key);
            }
            other => panic!("{other:?}"),
        }
        let error = served
            .prepare(&tls(Some(&cert_a), Some(&key_b)))
            .expect_err("the key is another certificate's");
        assert!(error.to_string().contains("do not make"), "{error}");
        assert!(matches!(
            served.prepare(&tls(None, None)),
            Ok(CertificateReload::NeedsRestart(_))
        ));
        assert!(matches!(
            served.prepare(&tls(Some(&cert_a), None)),
            Err(TlsError::Incomplete)
        ));
    }

    #[test]
    fn the_dev_certificate_is_not_replaced_by_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "operator");
        let served = server_config(&tls(None, None), "mx.test", Some(&dir.path().join("dev")))
            .unwrap()
            .expect("dev TLS")
            .certificate;
        assert!(matches!(
            served.prepare(&tls(Some(&cert), Some(&key))),
            Ok(CertificateReload::NeedsRestart(_))
        ));
        assert!(matches!(
            served.prepare(&tls(None, None)),
            Ok(CertificateReload::Unchanged)
        ));
    }
}
