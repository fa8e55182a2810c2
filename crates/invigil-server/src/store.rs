//! Media bodies (clips, check-in photos, snapshots), addressed by their
//! SHA-256: a directory on the server's disk (the default) or an
//! S3-compatible object store (`--media s3://BUCKET[/PREFIX]`, docs/deploy.md).
//!
//! The server only ever names a body by a validated 64-digit hex digest, so
//! no request can reach a path or key of its choosing. Bodies go in from a
//! file the upload was streamed into and verified against its digest, and
//! come out as streams of byte ranges: no clip is held whole in memory.

use std::io::{self, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    WriteMultipart,
};

/// A body's bytes, in chunks.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

/// Where media bodies live.
pub trait MediaStore: Send + Sync + 'static {
    /// Stores the file `body` under `sha256` (which the caller has checked
    /// it has). Storing a body that is already there succeeds without
    /// change. The file is left where it is.
    fn put_file<'a>(
        &'a self,
        sha256: &'a Sha256Hex,
        body: &'a Path,
    ) -> BoxFuture<'a, io::Result<()>>;
    /// Bytes `range` of the body (all of it for `None`) as a stream, or
    /// `None` when the store does not have it.
    fn get<'a>(
        &'a self,
        sha256: &'a Sha256Hex,
        range: Option<Range<u64>>,
    ) -> BoxFuture<'a, io::Result<Option<ByteStream>>>;
    /// Removes the body; `false` when the store did not have it.
    fn delete<'a>(&'a self, sha256: &'a Sha256Hex) -> BoxFuture<'a, io::Result<bool>>;
    /// Where the bodies are, for people: a directory or `s3://bucket/prefix`.
    fn describe(&self) -> String;
    /// Whether the store answers with these settings (at start, so that a
    /// wrong key or endpoint stops the server instead of its first upload).
    fn check(&self) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// A whole body read into memory: for small ones (snapshots, the server's
/// own checks), never for serving clips.
pub async fn read_all(store: &dyn MediaStore, sha256: &Sha256Hex) -> io::Result<Option<Vec<u8>>> {
    let Some(mut stream) = store.get(sha256, None).await? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(Some(out))
}

/// Stores `body` (whose digest the caller has checked) through a temporary
/// file in `tmp_dir`: for bodies the server already holds in memory.
pub async fn put_bytes(
    store: &dyn MediaStore,
    sha256: &Sha256Hex,
    body: &[u8],
    tmp_dir: &Path,
) -> io::Result<()> {
    let mut file = tempfile::NamedTempFile::new_in(tmp_dir)?;
    file.write_all(body)?;
    file.flush()?;
    store.put_file(sha256, file.path()).await
}

/// Settings of an S3-compatible store that override the `AWS_*`
/// variables (flags, tests).
#[derive(Clone, Debug, Default)]
pub struct S3Options {
    /// `AWS_ENDPOINT_URL`: a self-hosted store's address.
    pub endpoint: Option<String>,
    /// `AWS_REGION`.
    pub region: Option<String>,
    /// `AWS_ALLOW_HTTP=true`: a plain-HTTP endpoint.
    pub allow_http: bool,
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (no flags: a
    /// command line is visible to every user of the machine).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

/// Opens the store `location` names: `s3://BUCKET[/PREFIX]` (credentials,
/// region and endpoint from the `AWS_*` variables and `s3`) or a
/// directory.
pub fn open(location: &str, s3: &S3Options) -> anyhow::Result<Arc<dyn MediaStore>> {
    if let Some(rest) = location.strip_prefix("s3://") {
        return Ok(Arc::new(S3Store::open(rest, s3)?));
    }
    anyhow::ensure!(
        !location.contains("://"),
        "--media {location:?}: give a directory or s3://BUCKET[/PREFIX]"
    );
    let dir = Path::new(location);
    let store = FsStore::new(dir)
        .map_err(|e| anyhow::anyhow!("cannot create media store {}: {e}", dir.display()))?;
    Ok(Arc::new(store))
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

    /// `<first 2 digits>/<digest>`: where both stores keep it.
    fn relative(&self) -> String {
        format!("{}/{}", &self.0[..2], self.0)
    }
}

/// Media files under a directory: `<dir>/<first 2 digits>/<digest>`.
#[derive(Clone)]
pub struct FsStore {
    dir: PathBuf,
}

impl FsStore {
    pub fn new(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir.join("tmp"))?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    fn path(&self, sha256: &Sha256Hex) -> PathBuf {
        self.dir.join(sha256.relative())
    }

    fn put_blocking(&self, sha256: &Sha256Hex, body: &Path) -> io::Result<()> {
        let path = self.path(sha256);
        if path.exists() {
            return Ok(());
        }
        let parent = path.parent().expect("media paths have a parent");
        std::fs::create_dir_all(parent)?;
        // Copy aside, sync, then rename: a crash never leaves half a body
        // under a digest.
        let mut tmp = tempfile::NamedTempFile::new_in(self.dir.join("tmp"))?;
        io::copy(&mut std::fs::File::open(body)?, &mut tmp)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        std::fs::File::open(parent)?.sync_all()?;
        Ok(())
    }

    fn delete_blocking(&self, sha256: &Sha256Hex) -> io::Result<bool> {
        let path = self.path(sha256);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                if let Some(parent) = path.parent() {
                    std::fs::File::open(parent)?.sync_all()?;
                }
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io::Error::other(format!("media store task: {e}")))?
}

/// Chunks of a body read from a file.
const READ_CHUNK: usize = 64 * 1024;

impl MediaStore for FsStore {
    fn put_file<'a>(
        &'a self,
        sha256: &'a Sha256Hex,
        body: &'a Path,
    ) -> BoxFuture<'a, io::Result<()>> {
        let (store, sha256, body) = (self.clone(), sha256.clone(), body.to_owned());
        Box::pin(blocking(move || store.put_blocking(&sha256, &body)))
    }

    fn get<'a>(
        &'a self,
        sha256: &'a Sha256Hex,
        range: Option<Range<u64>>,
    ) -> BoxFuture<'a, io::Result<Option<ByteStream>>> {
        let path = self.path(sha256);
        Box::pin(async move {
            let file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            let len = file.metadata()?.len();
            let range = range.unwrap_or(0..len);
            if range.start > range.end || range.end > len {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("bytes {range:?} of a {len}-byte body"),
                ));
            }
            Ok(Some(file_chunks(file, range)))
        })
    }

    fn delete<'a>(&'a self, sha256: &'a Sha256Hex) -> BoxFuture<'a, io::Result<bool>> {
        let (store, sha256) = (self.clone(), sha256.clone());
        Box::pin(blocking(move || store.delete_blocking(&sha256)))
    }

    fn describe(&self) -> String {
        format!("directory {}", self.dir.display())
    }
}

/// `range` of `file` as a stream of chunks read on the blocking pool.
fn file_chunks(file: std::fs::File, range: Range<u64>) -> ByteStream {
    use std::io::Seek;
    let state = (Some(file), range.start, range.end);
    futures_util::stream::try_unfold(state, |(file, at, end)| async move {
        let Some(mut file) = file else {
            return Ok(None);
        };
        if at >= end {
            return Ok(None);
        }
        let want = (end - at).min(READ_CHUNK as u64) as usize;
        let (file, chunk) = blocking(move || {
            file.seek(io::SeekFrom::Start(at))?;
            let mut buf = vec![0; want];
            file.read_exact(&mut buf)?;
            Ok((file, buf))
        })
        .await?;
        let next = at + chunk.len() as u64;
        Ok(Some((Bytes::from(chunk), (Some(file), next, end))))
    })
    .boxed()
}

/// Bodies up to this size go to S3 in one conditional PUT; larger ones in
/// parts of this size (S3's smallest part is 5 MiB), so a server holds at
/// most this much of a body in memory.
const S3_PART: usize = 8 * 1024 * 1024;

/// Media in an S3-compatible bucket under `<prefix>/<first 2
/// digits>/<digest>`, through the `object_store` crate.
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
}

impl S3Store {
    /// `BUCKET[/PREFIX]` (what follows `s3://`); the rest of the
    /// configuration comes from the standard variables: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL` (a
    /// self-hosted store), `AWS_ALLOW_HTTP=true` (a plain-HTTP one).
    pub fn open(bucket_and_prefix: &str, options: &S3Options) -> anyhow::Result<Self> {
        let (bucket, prefix) = bucket_and_prefix
            .split_once('/')
            .unwrap_or((bucket_and_prefix, ""));
        let prefix = prefix.trim_matches('/');
        anyhow::ensure!(
            valid_bucket(bucket),
            "--media s3://{bucket_and_prefix}: {bucket:?} is not a bucket name (3-63 of a-z 0-9 . -)"
        );
        anyhow::ensure!(
            prefix
                .split('/')
                .all(|part| prefix.is_empty() || (!part.is_empty() && part != "." && part != "..")),
            "--media s3://{bucket_and_prefix}: the prefix {prefix:?} has an empty, . or .. part"
        );
        let url = if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        };
        let mut builder = AmazonS3Builder::from_env();
        if let Some(endpoint) = &options.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &options.region {
            builder = builder.with_region(region);
        }
        if options.allow_http {
            builder = builder.with_allow_http(true);
        }
        if let Some(key) = &options.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &options.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder
            .with_bucket_name(bucket)
            // The digest of every body goes with it (x-amz-checksum-sha256):
            // the store refuses a body damaged on the way.
            .with_config(AmazonS3ConfigKey::Checksum, "sha256")
            .build()
            .map_err(|e| anyhow::anyhow!("--media {url}: {e}"))?;
        Ok(Self {
            store: Arc::new(store),
            prefix: prefix.to_owned(),
            url,
        })
    }

    /// Media in `store` under `prefix` (tests, other object stores).
    pub fn with_store(store: Arc<dyn ObjectStore>, prefix: &str, url: &str) -> Self {
        Self {
            store,
            prefix: prefix.trim_matches('/').to_owned(),
            url: url.to_owned(),
        }
    }

    fn key(&self, sha256: &Sha256Hex) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(sha256.relative())
        } else {
            ObjectPath::from(format!("{}/{}", self.prefix, sha256.relative()))
        }
    }

    fn error(&self, key: &ObjectPath, e: object_store::Error) -> io::Error {
        io::Error::other(format!("{}: {key}: {e}", self.url))
    }

    async fn put_large(&self, key: &ObjectPath, body: &Path) -> io::Result<()> {
        // A multipart upload cannot be conditional: look first. Two nodes
        // racing here write the same bytes (the key is their digest), and
        // the object appears whole when the upload completes.
        match self.store.head(key).await {
            Ok(_) => return Ok(()),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(self.error(key, e)),
        }
        let upload = self
            .store
            .put_multipart(key)
            .await
            .map_err(|e| self.error(key, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, S3_PART);
        let mut file = std::fs::File::open(body)?;
        loop {
            writer
                .wait_for_capacity(2)
                .await
                .map_err(|e| self.error(key, e))?;
            let (back, chunk) = blocking(move || {
                let mut buf = vec![0; READ_CHUNK * 16];
                let n = file.read(&mut buf)?;
                buf.truncate(n);
                Ok((file, buf))
            })
            .await?;
            file = back;
            if chunk.is_empty() {
                break;
            }
            writer.write(&chunk);
        }
        writer.finish().await.map_err(|e| self.error(key, e))?;
        Ok(())
    }
}

/// S3's bucket naming rules, in short.
fn valid_bucket(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

impl MediaStore for S3Store {
    fn put_file<'a>(
        &'a self,
        sha256: &'a Sha256Hex,
        body: &'a Path,
    ) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let key = self.key(sha256);
            let len = std::fs::metadata(body)?.len();
            if len > S3_PART as u64 {
                return self.put_large(&key, body).await;
            }
            let path = body.to_owned();
            let bytes = blocking(move || std::fs::read(path)).await?;
            let options = PutOptions {
                // Only if absent: a repeated upload changes nothing.
                mode: PutMode::Create,
                ..PutOptions::default()
            };
            match self
                .store
                .put_opts(&key, PutPayload::from(bytes), options)
                .await
            {
                Ok(_) => Ok(()),
                Err(object_store::Error::AlreadyExists { .. })
                | Err(object_store::Error::Precondition { .. }) => Ok(()),
                Err(e) => Err(self.error(&key, e)),
            }
        })
    }

    fn get<'a>(
        &'a self,
        sha256: &'a Sha256Hex,
        range: Option<Range<u64>>,
    ) -> BoxFuture<'a, io::Result<Option<ByteStream>>> {
        Box::pin(async move {
            let key = self.key(sha256);
            if range.as_ref().is_some_and(|r| r.is_empty()) {
                // S3 cannot serve an empty range; there is nothing to read.
                return match self.store.head(&key).await {
                    Ok(_) => Ok(Some(futures_util::stream::empty().boxed())),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(self.error(&key, e)),
                };
            }
            let options = GetOptions {
                range: range.map(GetRange::Bounded),
                ..GetOptions::default()
            };
            match self.store.get_opts(&key, options).await {
                Ok(result) => {
                    let url = self.url.clone();
                    Ok(Some(
                        result
                            .into_stream()
                            .map_err(move |e| io::Error::other(format!("{url}: {e}")))
                            .boxed(),
                    ))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.error(&key, e)),
            }
        })
    }

    fn delete<'a>(&'a self, sha256: &'a Sha256Hex) -> BoxFuture<'a, io::Result<bool>> {
        Box::pin(async move {
            let key = self.key(sha256);
            // S3 answers a DELETE the same whether the object was there.
            match self.store.head(&key).await {
                Ok(_) => {}
                Err(object_store::Error::NotFound { .. }) => return Ok(false),
                Err(e) => return Err(self.error(&key, e)),
            }
            self.store
                .delete(&key)
                .await
                .map_err(|e| self.error(&key, e))?;
            Ok(true)
        })
    }

    fn describe(&self) -> String {
        self.url.clone()
    }

    /// Asks for a key that is never written: "not found" means the store
    /// is reachable and accepts the key; anything else is the problem.
    fn check(&self) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move {
            let probe = if self.prefix.is_empty() {
                ObjectPath::from(".invigil-check")
            } else {
                ObjectPath::from(format!("{}/.invigil-check", self.prefix))
            };
            match self.store.head(&probe).await {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(self.error(&probe, e)),
            }
        })
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

    #[tokio::test]
    async fn put_is_idempotent_and_ranges_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::new(&dir.path().join("media")).unwrap();
        let sha = Sha256Hex::parse(&"b".repeat(64)).unwrap();
        assert!(read_all(&store, &sha).await.unwrap().is_none());
        put_bytes(&store, &sha, b"one two", dir.path())
            .await
            .unwrap();
        put_bytes(&store, &sha, b"one two", dir.path())
            .await
            .unwrap();
        assert_eq!(read_all(&store, &sha).await.unwrap().unwrap(), b"one two");
        let part: Vec<Bytes> = store
            .get(&sha, Some(4..7))
            .await
            .unwrap()
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(part.concat(), b"two");
        let err = match store.get(&sha, Some(4..9)).await {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a range past the end was served"),
        };
        assert!(err.contains("7-byte body"), "{err}");
        assert!(store.delete(&sha).await.unwrap());
        assert!(read_all(&store, &sha).await.unwrap().is_none());
        assert!(!store.delete(&sha).await.unwrap(), "already gone");
    }

    #[test]
    fn media_locations_are_checked() {
        for (bad, says) in [
            ("s3://", "not a bucket name"),
            ("s3://Bucket", "not a bucket name"),
            ("s3://ab", "not a bucket name"),
            ("s3://bucket/a//b", "empty, . or .. part"),
            ("s3://bucket/../x", "empty, . or .. part"),
            ("gs://bucket", "a directory or s3://"),
        ] {
            let err = match open(bad, &S3Options::default()) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("{bad} was accepted"),
            };
            assert!(err.contains(says), "{bad}: {err}");
        }
        let s3 = S3Store::open("exam-media/prod/", &S3Options::default()).unwrap();
        assert_eq!(s3.describe(), "s3://exam-media/prod");
        let sha = Sha256Hex::parse(&"c".repeat(64)).unwrap();
        assert_eq!(s3.key(&sha).as_ref(), format!("prod/cc/{}", "c".repeat(64)));
    }
}
