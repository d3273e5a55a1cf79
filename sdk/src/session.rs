//! What a stage call knows besides the message: the client, the envelope and the notes
//! earlier plugins left.

use std::net::{IpAddr, Ipv4Addr};

use crate::bindings::moat::filter::types as wit;

/// Everything a stage call gets besides the message itself.
///
/// The host fills in what is known at the stage: at `connect` only the client's address
/// and reverse DNS, at `helo` also [`ClientInfo::helo`], at `mail-from` also
/// [`Envelope::mail_from`], and so on.
///
/// `Default` exists so unit tests can build one with struct-update syntax.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Session {
    /// Identifier of this SMTP session (or of the offline check); include it in log lines
    /// so they can be correlated with the gateway's.
    pub id: String,
    /// The connected client.
    pub client: ClientInfo,
    /// The envelope as far as it is known at this stage.
    pub envelope: Envelope,
    /// Notes left by the plugins that ran earlier for this message, in the order they ran.
    pub annotations: Vec<Annotation>,
}

impl Session {
    /// The value of the first annotation with this key, if an earlier plugin left one.
    ///
    /// For example the OCR plugin leaves the text it found in images under `ocr-text`.
    #[must_use]
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations
            .iter()
            .find(|annotation| annotation.key == key)
            .map(|annotation| annotation.value.as_str())
    }

    pub(crate) fn from_wit(session: wit::Session) -> Self {
        Self {
            id: session.id,
            client: ClientInfo::from_wit(session.client),
            envelope: Envelope {
                mail_from: session.envelope.mail_from,
                rcpt_to: session.envelope.rcpt_to,
            },
            annotations: session
                .annotations
                .into_iter()
                .map(Annotation::from_wit)
                .collect(),
        }
    }
}

/// What the gateway knows about the connected client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's IP address.
    pub ip: IpAddr,
    /// The client's TCP source port.
    pub port: u16,
    /// The client's verified reverse DNS name (a PTR name whose A/AAAA records map back to
    /// the IP), if it has one.
    pub reverse_dns: Option<String>,
    /// The name the client gave in EHLO/HELO, from the `helo` stage on.
    pub helo: Option<String>,
    /// The TLS session, if the connection is encrypted.
    pub tls: Option<TlsInfo>,
    /// The SMTP-AUTH identity, if the client authenticated (submission listeners).
    pub authenticated_user: Option<String>,
}

impl Default for ClientInfo {
    /// A client at `0.0.0.0:0` that said nothing yet; for tests.
    fn default() -> Self {
        Self {
            ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 0,
            reverse_dns: None,
            helo: None,
            tls: None,
            authenticated_user: None,
        }
    }
}

impl ClientInfo {
    fn from_wit(client: wit::ClientInfo) -> Self {
        Self {
            // The host always sends a valid address; 0.0.0.0 only guards against a host bug
            // without failing the plugin call.
            ip: client
                .ip
                .parse()
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            port: client.port,
            reverse_dns: client.reverse_dns,
            helo: client.helo,
            tls: client.tls.map(|tls| TlsInfo {
                version: tls.version,
                cipher: tls.cipher,
            }),
            authenticated_user: client.authenticated_user,
        }
    }
}

/// The TLS session of the connection, when the client used STARTTLS or implicit TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsInfo {
    /// Protocol version, e.g. `"TLSv1.3"`.
    pub version: String,
    /// Negotiated cipher suite, e.g. `"TLS13_AES_256_GCM_SHA384"`.
    pub cipher: String,
}

/// The SMTP envelope as far as it is known at the current stage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse path from MAIL FROM, without angle brackets: `None` before MAIL FROM,
    /// `Some("")` for the null sender of bounces.
    pub mail_from: Option<String>,
    /// The recipients accepted so far, without angle brackets. At the `rcpt-to` stage the
    /// recipient being checked is passed separately and is not in this list yet.
    pub rcpt_to: Vec<String>,
}

/// A key → text note a plugin attaches for the plugins after it (and for the operator's
/// report), e.g. `ocr-text` from the OCR plugin for the Bayes plugin.
///
/// Keys are lower-case kebab case of at most 64 bytes; values at most 256 KiB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    /// Lower-case kebab key, e.g. `"ocr-text"`.
    pub key: String,
    /// The note itself.
    pub value: String,
}

impl Annotation {
    /// An annotation with this key and value.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }

    pub(crate) fn from_wit(annotation: wit::Annotation) -> Self {
        Self {
            key: annotation.key,
            value: annotation.value,
        }
    }

    pub(crate) fn into_wit(self) -> wit::Annotation {
        wit::Annotation {
            key: self.key,
            value: self.value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wit_session(ip: &str) -> wit::Session {
        wit::Session {
            id: "s1".to_owned(),
            client: wit::ClientInfo {
                ip: ip.to_owned(),
                port: 2525,
                reverse_dns: Some("mail.example.org".to_owned()),
                helo: None,
                tls: Some(wit::TlsInfo {
                    version: "TLSv1.3".to_owned(),
                    cipher: "TLS13_AES_256_GCM_SHA384".to_owned(),
                }),
                authenticated_user: None,
            },
            envelope: wit::Envelope {
                mail_from: Some(String::new()),
                rcpt_to: vec!["a@example.org".to_owned()],
            },
            annotations: vec![
                wit::Annotation {
                    key: "ocr-text".to_owned(),
                    value: "first".to_owned(),
                },
                wit::Annotation {
                    key: "ocr-text".to_owned(),
                    value: "second".to_owned(),
                },
            ],
        }
    }

    #[test]
    fn converts_every_field() {
        let session = Session::from_wit(wit_session("2001:db8::1"));
        assert_eq!(session.id, "s1");
        assert_eq!(session.client.ip, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(session.client.port, 2525);
        assert_eq!(
            session.client.reverse_dns.as_deref(),
            Some("mail.example.org")
        );
        assert_eq!(
            session.client.tls.as_ref().map(|tls| tls.version.as_str()),
            Some("TLSv1.3")
        );
        assert_eq!(session.envelope.mail_from.as_deref(), Some(""));
        assert_eq!(session.envelope.rcpt_to, ["a@example.org"]);
    }

    #[test]
    fn annotation_returns_the_first_with_the_key() {
        let session = Session::from_wit(wit_session("192.0.2.1"));
        assert_eq!(session.annotation("ocr-text"), Some("first"));
        assert_eq!(session.annotation("missing"), None);
    }

    #[test]
    fn unparsable_ip_falls_back_to_unspecified() {
        let session = Session::from_wit(wit_session("not an ip"));
        assert_eq!(session.client.ip, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }
}
