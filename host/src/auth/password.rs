//! Password hashes: argon2id with the crate's default cost (19 MiB, 2 passes, the OWASP
//! recommendation), stored as PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) so
//! the cost can be raised later without invalidating existing hashes.

use std::sync::LazyLock;

use argon2::Argon2;
use password_hash::rand_core::OsRng;
use password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// The shortest password `moat user` accepts.
pub const MIN_PASSWORD_LENGTH: usize = 8;

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than [`MIN_PASSWORD_LENGTH`].
    #[error("the password must be at least {MIN_PASSWORD_LENGTH} characters")]
    TooShort,
    /// The hasher failed (it only does on absurd parameters).
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// The PHC string of `password` with a fresh random salt.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_LENGTH {
        return Err(PasswordError::TooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `stored`; a malformed `stored` matches nothing.
/// Slow on purpose (tens of milliseconds): call it off the async threads.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Spends the time of one verification without a stored hash, so that a login as an
/// unknown account takes as long as a wrong password for a known one.
pub fn verify_nothing(password: &str) {
    static DUMMY: LazyLock<Option<String>> =
        LazyLock::new(|| hash("not-a-password-of-anyone").ok());
    if let Some(dummy) = DUMMY.as_deref() {
        let _ = verify(password, dummy);
    }
}

/// Whether `stored` is a PHC string this module can verify.
pub fn is_valid_hash(stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| h.algorithm.as_str().starts_with("argon2"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let stored = hash("correct horse").unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(is_valid_hash(&stored));
        assert!(verify("correct horse", &stored));
        assert!(!verify("correct horsE", &stored));
        assert!(!verify("", &stored));
    }

    #[test]
    fn two_hashes_of_one_password_differ_by_salt() {
        assert_ne!(hash("password1").unwrap(), hash("password1").unwrap());
    }

    #[test]
    fn short_passwords_and_malformed_hashes_are_refused() {
        assert!(matches!(hash("short"), Err(PasswordError::TooShort)));
        assert!(!verify("anything", "not a hash"));
        assert!(!is_valid_hash("$1$md5crypt$xyz"));
    }
}
