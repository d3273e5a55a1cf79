//! Certificates named by the configuration, read as trust anchors: a route's
//! `tls_ca_file` is checked when the configuration loads, with the problem named by its
//! key, and delivery builds its verifying TLS client from the same reading.

use std::path::Path;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The certificates of the PEM file `file`, and the same as trust anchors; or why they
/// cannot be (the text the config check shows under the key).
pub fn trusted_certificates(
    file: &Path,
) -> Result<(Vec<CertificateDer<'static>>, RootCertStore), String> {
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
        assert_eq!(
            trusted_certificates(good.path()).expect("trusted").1.len(),
            1
        );

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
