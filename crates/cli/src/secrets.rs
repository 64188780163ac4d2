//! Secrets pipelog keeps in its data dir, outside the database: files only their owner
//! can read, made on first start.
//!
//! `audit-digest.key` holds the Ed25519 key audit digests are signed with (64 hex digits).
//! It is apart from `pipelog.db` on purpose: someone able to rewrite the database but not
//! to read this file cannot sign a digest of a rewritten history.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use pipelog_core::audit_digest::DigestKey;

/// The file, in the data dir, that holds the digest signing key.
pub const DIGEST_KEY_FILE: &str = "audit-digest.key";

fn digest_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DIGEST_KEY_FILE)
}

/// The data dir's digest key, made (readable by its owner only) if there is none yet.
pub fn load_or_create_digest_key(data_dir: &Path) -> anyhow::Result<DigestKey> {
    let path = digest_key_path(data_dir);
    match read_digest_key(&path) {
        Ok(key) => return Ok(key),
        Err(error) if is_missing(&error) => {}
        Err(error) => return Err(error),
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
    let key = DigestKey::generate();
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(&path) {
        Ok(file) => file,
        // Another process made it first: use theirs.
        Err(error) if error.kind() == ErrorKind::AlreadyExists => return read_digest_key(&path),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot create {}", path.display()));
        }
    };
    let hex: String = key
        .seed()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    file.write_all(format!("{hex}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tracing::info!(path = %path.display(), "made the audit digest signing key");
    Ok(key)
}

/// The data dir's digest key; an error if it has none.
pub fn existing_digest_key(data_dir: &Path) -> anyhow::Result<DigestKey> {
    read_digest_key(&digest_key_path(data_dir))
}

fn is_missing(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|error| error.kind() == ErrorKind::NotFound)
}

fn read_digest_key(path: &Path) -> anyhow::Result<DigestKey> {
    let mut text = String::new();
    File::open(path)
        .and_then(|mut file| file.read_to_string(&mut text))
        .map_err(anyhow::Error::from)?;
    let hex = text.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        bail!("{} does not hold a key (64 hex digits)", path.display());
    }
    let mut seed = [0_u8; 32];
    for (index, byte) in seed.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[index * 2..index * 2 + 2], 16)
            .with_context(|| format!("{} does not hold a key (64 hex digits)", path.display()))?;
    }
    Ok(DigestKey::from_seed(seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let made = load_or_create_digest_key(dir.path()).unwrap();
        let again = load_or_create_digest_key(dir.path()).unwrap();
        assert_eq!(made.public_key(), again.public_key());
        assert_eq!(
            existing_digest_key(dir.path()).unwrap().public_key(),
            made.public_key()
        );
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
    fn a_missing_or_damaged_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(existing_digest_key(dir.path()).is_err());
        std::fs::write(dir.path().join(DIGEST_KEY_FILE), "not a key\n").unwrap();
        let error = load_or_create_digest_key(dir.path()).unwrap_err();
        assert!(
            format!("{error:#}").contains("does not hold a key"),
            "{error:#}"
        );
    }
}
