//! The admin endpoint's token: `[admin] token` when the operator set one, else the one in
//! `data_dir/admin.token`, made at first start (32 random bytes, hex) and readable by the
//! server's user only, so that the `moat` CLI run by that user (or root) finds it and
//! nobody else can ask the endpoint anything.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use password_hash::rand_core::{OsRng, RngCore as _};

use crate::config::AdminConfig;
use crate::control::client::token_file;

/// The token requests must carry: the configured one, or the data dir's (made now if
/// there is none).
pub(crate) fn token(config: &AdminConfig, data_dir: &Path) -> std::io::Result<String> {
    if let Some(token) = &config.token {
        return Ok(token.clone());
    }
    let file = token_file(data_dir);
    match std::fs::read_to_string(&file) {
        Ok(text) if text.trim().len() >= 32 => return Ok(text.trim().to_owned()),
        Ok(_) => std::fs::remove_file(&file)?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&file)?;
    out.write_all(format!("{token}\n").as_bytes())?;
    out.sync_all()?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn a_token_is_made_once_readable_by_its_owner_only_and_a_configured_one_wins() {
        let dir = tempfile::tempdir().expect("temp dir");
        let admin = AdminConfig {
            address: "127.0.0.1:0".parse().expect("address"),
            token: None,
        };
        let first = token(&admin, dir.path()).expect("made");
        assert_eq!(first.len(), 64);
        assert_eq!(token(&admin, dir.path()).expect("read"), first);
        let mode = std::fs::metadata(token_file(dir.path()))
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let configured = AdminConfig {
            token: Some("configured-token-1234".into()),
            ..admin
        };
        assert_eq!(
            token(&configured, dir.path()).expect("configured"),
            "configured-token-1234"
        );
    }
}
