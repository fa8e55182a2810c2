//! Media bodies (clips, check-in photos), addressed by their SHA-256.
//!
//! The server only ever names a body by a validated 64-digit hex digest, so
//! no request can reach a path of its choosing. [`MediaStore`] is the seam
//! for an S3-compatible object store.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Where media bodies live. Blocking; the server calls it from
/// `spawn_blocking`.
pub trait MediaStore: Send + Sync + 'static {
    /// Stores `body` under `sha256` (already verified by the caller).
    /// Storing a body that is already there succeeds without change.
    fn put(&self, sha256: &Sha256Hex, body: &[u8]) -> std::io::Result<()>;
    /// The body, or `None` when the store does not have it.
    fn get(&self, sha256: &Sha256Hex) -> std::io::Result<Option<Vec<u8>>>;
    /// Removes the body; `false` when the store did not have it.
    fn delete(&self, sha256: &Sha256Hex) -> std::io::Result<bool>;
}

/// A validated lowercase SHA-256 hex digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    /// Accepts exactly 64 lowercase hex digits.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Media files under a directory: `<dir>/<first 2 digits>/<digest>`.
pub struct FsStore {
    dir: PathBuf,
}

impl FsStore {
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir.join("tmp"))?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    fn path(&self, sha256: &Sha256Hex) -> PathBuf {
        let s = sha256.as_str();
        self.dir.join(&s[..2]).join(s)
    }
}

impl MediaStore for FsStore {
    fn put(&self, sha256: &Sha256Hex, body: &[u8]) -> std::io::Result<()> {
        let path = self.path(sha256);
        if path.exists() {
            return Ok(());
        }
        let parent = path.parent().expect("media paths have a parent");
        std::fs::create_dir_all(parent)?;
        // Write aside, sync, then rename: a crash never leaves half a body
        // under a digest.
        let mut tmp = tempfile::NamedTempFile::new_in(self.dir.join("tmp"))?;
        tmp.write_all(body)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        std::fs::File::open(parent)?.sync_all()?;
        Ok(())
    }

    fn get(&self, sha256: &Sha256Hex) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.path(sha256)) {
            Ok(body) => Ok(Some(body)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn delete(&self, sha256: &Sha256Hex) -> std::io::Result<bool> {
        let path = self.path(sha256);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                if let Some(parent) = path.parent() {
                    std::fs::File::open(parent)?.sync_all()?;
                }
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hex_digests_name_media() {
        let good = "a".repeat(64);
        assert!(Sha256Hex::parse(&good).is_some());
        for bad in [
            "../../etc/passwd",
            &"A".repeat(64),
            &"a".repeat(63),
            "",
            &format!("{}/", "a".repeat(63)),
        ] {
            assert!(Sha256Hex::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn put_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::new(dir.path()).unwrap();
        let sha = Sha256Hex::parse(&"b".repeat(64)).unwrap();
        assert_eq!(store.get(&sha).unwrap(), None);
        store.put(&sha, b"one").unwrap();
        store.put(&sha, b"one").unwrap();
        assert_eq!(store.get(&sha).unwrap().as_deref(), Some(&b"one"[..]));
        assert!(store.delete(&sha).unwrap());
        assert_eq!(store.get(&sha).unwrap(), None);
        assert!(!store.delete(&sha).unwrap(), "already gone");
        store.put(&sha, b"one").unwrap();
        assert_eq!(store.get(&sha).unwrap().unwrap(), b"one");
    }
}
