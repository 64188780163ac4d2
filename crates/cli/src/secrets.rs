//! Secrets pipelog keeps in its data dir, outside the database: 32 random bytes each, as
//! 64 hex digits in a file only its owner can read, made on first start.
//!
//! - `audit-digest.key`: the Ed25519 key audit digests are signed with. It is apart from
//!   `pipelog.db` on purpose: someone able to rewrite the database but not to read this
//!   file cannot sign a digest of a rewritten history.
//! - `download-links.key`: the HMAC key export download links are signed with.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::Path;

use anyhow::{Context, bail};

/// The file holding the audit digest signing key.
pub const DIGEST_KEY_FILE: &str = "audit-digest.key";
/// The file holding the download link signing key.
pub const LINK_KEY_FILE: &str = "download-links.key";

/// The secret in `file` of the data dir, made (readable by its owner only) if missing.
pub fn load_or_create(data_dir: &Path, file: &str) -> anyhow::Result<[u8; 32]> {
    let path = data_dir.join(file);
    match read(&path) {
        Ok(secret) => return Ok(secret),
        Err(error) if is_missing(&error) => {}
        Err(error) => return Err(error),
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
    let mut secret = [0_u8; 32];
    getrandom::fill(&mut secret).context("the operating system's random source failed")?;
    // Written whole to a file of its own, then linked into place, which fails if the file
    // exists: nodes sharing a data dir and starting at once all end up with the one secret
    // that was linked first, and nobody ever reads a half-written one.
    let mut tag = [0_u8; 8];
    getrandom::fill(&mut tag).context("the operating system's random source failed")?;
    let draft = data_dir.join(format!(".{file}.{:016x}.tmp", u64::from_le_bytes(tag)));
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let hex: String = secret.iter().map(|byte| format!("{byte:02x}")).collect();
    options
        .open(&draft)
        .and_then(|mut handle| {
            handle.write_all(format!("{hex}\n").as_bytes())?;
            handle.sync_all()
        })
        .with_context(|| format!("cannot write {}", draft.display()))?;
    let linked = std::fs::hard_link(&draft, &path);
    let _ = std::fs::remove_file(&draft);
    match linked {
        Ok(()) => {}
        // Another process made it first: use theirs.
        Err(error) if error.kind() == ErrorKind::AlreadyExists => return read(&path),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot create {}", path.display()));
        }
    }
    tracing::info!(path = %path.display(), "made a secret");
    Ok(secret)
}

/// The secret in `file` of the data dir; an error if there is none.
pub fn existing(data_dir: &Path, file: &str) -> anyhow::Result<[u8; 32]> {
    read(&data_dir.join(file))
}

fn is_missing(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|error| error.kind() == ErrorKind::NotFound)
}

fn read(path: &Path) -> anyhow::Result<[u8; 32]> {
    let mut text = String::new();
    File::open(path)
        .and_then(|mut handle| handle.read_to_string(&mut text))
        .map_err(anyhow::Error::from)?;
    let hex = text.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        bail!("{} does not hold a key (64 hex digits)", path.display());
    }
    let mut secret = [0_u8; 32];
    for (index, byte) in secret.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[index * 2..index * 2 + 2], 16)
            .with_context(|| format!("{} does not hold a key (64 hex digits)", path.display()))?;
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_made_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let made = load_or_create(dir.path(), DIGEST_KEY_FILE).unwrap();
        assert_eq!(load_or_create(dir.path(), DIGEST_KEY_FILE).unwrap(), made);
        assert_eq!(existing(dir.path(), DIGEST_KEY_FILE).unwrap(), made);
        assert_ne!(load_or_create(dir.path(), LINK_KEY_FILE).unwrap(), made);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(DIGEST_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_missing_or_damaged_secret_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(existing(dir.path(), DIGEST_KEY_FILE).is_err());
        std::fs::write(dir.path().join(DIGEST_KEY_FILE), "not a key\n").unwrap();
        let error = load_or_create(dir.path(), DIGEST_KEY_FILE).unwrap_err();
        assert!(
            format!("{error:#}").contains("does not hold a key"),
            "{error:#}"
        );
    }
}
