//! The SASL mechanisms of SMTP AUTH (RFC 4954) that Moat offers, PLAIN (RFC 4616) and
//! LOGIN, as a sans-IO exchange: the session feeds it each client response and gets back
//! the next challenge, the credentials, or why the exchange failed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The mechanisms, in the order EHLO advertises them.
pub const MECHANISMS: &[&str] = &["PLAIN", "LOGIN"];

/// A user name and password from the client.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The authentication identity (the account's address).
    pub login: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

/// Why an exchange ended without credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// A mechanism Moat does not offer. Reply `504 5.5.4`.
    #[error("unsupported mechanism")]
    UnknownMechanism,
    /// The client sent `*` (RFC 4954 §4). Reply `501 5.0.0`.
    #[error("authentication cancelled")]
    Cancelled,
    /// Not base64, not UTF-8, or not the mechanism's shape. Reply `501 5.5.2`.
    #[error("malformed response")]
    Malformed,
    /// PLAIN with an authorization identity other than the login: acting for another
    /// account is not offered. Reply `535 5.7.8`.
    #[error("authorization identity differs from the login")]
    AuthzidMismatch,
}

/// What to do after a response.
#[derive(Debug, PartialEq, Eq)]
pub enum SaslStep {
    /// Send `334 <challenge>` (already base64) and feed the next line.
    Challenge(String),
    /// The exchange is complete.
    Done(Credentials),
}

/// An exchange in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslExchange {
    /// PLAIN, waiting for the response.
    Plain,
    /// LOGIN, waiting for the user name.
    LoginUser,
    /// LOGIN, waiting for the password of this user.
    LoginPassword(String),
}

impl SaslExchange {
    /// Starts `mechanism` (uppercase) with the AUTH command's initial response, if any.
    pub fn start(
        mechanism: &str,
        initial: Option<&str>,
    ) -> Result<(Option<Self>, SaslStep), SaslError> {
        let exchange = match mechanism {
            "PLAIN" => Self::Plain,
            "LOGIN" => Self::LoginUser,
            _ => return Err(SaslError::UnknownMechanism),
        };
        match initial {
            Some(response) => exchange.respond(response.as_bytes()),
            None => {
                let challenge = match exchange {
                    Self::Plain => String::new(),
                    _ => STANDARD.encode("Username:"),
                };
                Ok((Some(exchange), SaslStep::Challenge(challenge)))
            }
        }
    }

    /// Feeds one response line (without CRLF): the next state and step.
    pub fn respond(self, line: &[u8]) -> Result<(Option<Self>, SaslStep), SaslError> {
        let line = line.trim_ascii();
        if line == b"*" {
            return Err(SaslError::Cancelled);
        }
        let decoded = decode(line)?;
        match self {
            Self::Plain => {
                let mut parts = decoded.split('\0');
                let (Some(authzid), Some(login), Some(password), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(SaslError::Malformed);
                };
                if login.is_empty() {
                    return Err(SaslError::Malformed);
                }
                if !authzid.is_empty() && !authzid.eq_ignore_ascii_case(login) {
                    return Err(SaslError::AuthzidMismatch);
                }
                Ok((
                    None,
                    SaslStep::Done(Credentials {
                        login: login.to_owned(),
                        password: password.to_owned(),
                    }),
                ))
            }
            Self::LoginUser => {
                if decoded.is_empty() {
                    return Err(SaslError::Malformed);
                }
                Ok((
                    Some(Self::LoginPassword(decoded)),
                    SaslStep::Challenge(STANDARD.encode("Password:")),
                ))
            }
            Self::LoginPassword(login) => Ok((
                None,
                SaslStep::Done(Credentials {
                    login,
                    password: decoded,
                }),
            )),
        }
    }
}

/// Base64 (`=` alone: empty) to UTF-8 text.
fn decode(line: &[u8]) -> Result<String, SaslError> {
    if line == b"=" {
        return Ok(String::new());
    }
    let bytes = STANDARD.decode(line).map_err(|_| SaslError::Malformed)?;
    String::from_utf8(bytes).map_err(|_| SaslError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        STANDARD.encode(text)
    }

    fn done(step: SaslStep) -> Credentials {
        match step {
            SaslStep::Done(credentials) => credentials,
            other => panic!("not done: {other:?}"),
        }
    }

    #[test]
    fn plain_with_an_initial_response() {
        let (next, step) =
            SaslExchange::start("PLAIN", Some(&b64("\0alice@example.org\0s3cret pw"))).unwrap();
        assert_eq!(next, None);
        let credentials = done(step);
        assert_eq!(credentials.login, "alice@example.org");
        assert_eq!(credentials.password, "s3cret pw");
        assert!(!format!("{credentials:?}").contains("s3cret"));
    }

    #[test]
    fn plain_after_an_empty_challenge_and_with_a_matching_authzid() {
        let (next, step) = SaslExchange::start("PLAIN", None).unwrap();
        assert_eq!(step, SaslStep::Challenge(String::new()));
        let (_, step) = next
            .unwrap()
            .respond(b64("alice@example.org\0alice@example.org\0pw").as_bytes())
            .unwrap();
        assert_eq!(done(step).password, "pw");
    }

    #[test]
    fn login_asks_for_the_user_then_the_password() {
        let (next, step) = SaslExchange::start("LOGIN", None).unwrap();
        assert_eq!(step, SaslStep::Challenge("VXNlcm5hbWU6".into()));
        let (next, step) = next
            .unwrap()
            .respond(b64("alice@example.org").as_bytes())
            .unwrap();
        assert_eq!(step, SaslStep::Challenge("UGFzc3dvcmQ6".into()));
        let (next, step) = next.unwrap().respond(b64("pw").as_bytes()).unwrap();
        assert_eq!(next, None);
        assert_eq!(done(step).login, "alice@example.org");
    }

    #[test]
    fn bad_responses_are_refused() {
        assert_eq!(
            SaslExchange::start("CRAM-MD5", None).unwrap_err(),
            SaslError::UnknownMechanism
        );
        assert_eq!(
            SaslExchange::Plain.respond(b"*").unwrap_err(),
            SaslError::Cancelled
        );
        for response in [
            "!!!",
            &b64("no separators"),
            &b64("\0\0pw"),
            &b64("a\0b\0c\0d"),
        ] {
            assert_eq!(
                SaslExchange::Plain
                    .respond(response.as_bytes())
                    .unwrap_err(),
                SaslError::Malformed,
                "{response}"
            );
        }
        assert_eq!(
            SaslExchange::Plain
                .respond(b64("bob@example.org\0alice@example.org\0pw").as_bytes())
                .unwrap_err(),
            SaslError::AuthzidMismatch
        );
        assert_eq!(
            SaslExchange::LoginUser.respond(b"=").unwrap_err(),
            SaslError::Malformed
        );
    }
}
