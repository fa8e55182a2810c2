//! An append-only, checksummed, segmented journal.
//!
//! Layout of a journal directory:
//! - `seg-<first id>.log`: records, each `[len: u32 LE][crc32: u32 LE][JSON]`;
//!   a new segment starts when the current one passes `segment_bytes`.
//! - `media/<sha256>`: media bodies, written and synced before the record
//!   that names them.
//! - `acked`: the highest acknowledged record id, replaced atomically.
//!
//! A crash can leave a torn record at the end of the last segment; opening
//! the journal cuts it off (it was never acknowledged as written). Damage
//! anywhere else is an error naming the file and offset.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use invigil_core::protocol::MediaKind;
use invigil_core::Event;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod segment;

use segment::{read_segment, sync_dir};

/// Records larger than this are refused (and, on reading, mean damage).
const MAX_RECORD: u32 = 16 << 20;

/// One journaled item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Item {
    Event(Event),
    /// A media body stored under `media/<sha256>`.
    Media(Media),
}

/// A journaled media body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Media {
    /// What the server files it as.
    #[serde(default = "other_kind")]
    pub kind: MediaKind,
    pub name: String,
    pub content_type: String,
    pub sha256: String,
    pub bytes: u64,
}

fn other_kind() -> MediaKind {
    MediaKind::Other
}

/// An item with its journal id (from 1, increasing, never reused).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: u64,
    #[serde(flatten)]
    pub item: Item,
}

/// What is waiting to be sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct JournalStatus {
    pub pending_events: u64,
    pub pending_media: u64,
    /// Bytes of media bodies not yet acknowledged.
    pub pending_media_bytes: u64,
    /// Highest acknowledged id (0: none).
    pub acked: u64,
    /// Id the next record will get.
    pub next_id: u64,
    pub segments: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("journal {path} is damaged at byte {offset}: {problem}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        problem: String,
    },
    #[error("journal: {0}")]
    Invalid(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_owned(),
        source,
    }
}

struct Segment {
    path: PathBuf,
    first_id: u64,
    last_id: Option<u64>,
    len: u64,
}

/// The journal of one client (or one session).
pub struct Journal {
    dir: PathBuf,
    segments: Vec<Segment>,
    current: Option<File>,
    next_id: u64,
    acked: u64,
    segment_bytes: u64,
}

impl Journal {
    /// Opens (or creates) the journal in `dir`, recovering from a crash.
    pub fn open(dir: &Path) -> Result<Self, JournalError> {
        Self::open_with_segment_bytes(dir, 1 << 20)
    }

    /// Like [`open`](Self::open) with a chosen segment size (tests use small
    /// ones to exercise compaction).
    pub fn open_with_segment_bytes(dir: &Path, segment_bytes: u64) -> Result<Self, JournalError> {
        fs::create_dir_all(dir.join("media")).map_err(io(dir))?;
        Self::open_inner(dir, segment_bytes, true)
    }

    /// Opens an existing journal to read it (`invigil uplink status`):
    /// nothing is created, cut or written; a torn tail is only skipped.
    pub fn open_read_only(dir: &Path) -> Result<Self, JournalError> {
        if !dir.join("media").is_dir() {
            return Err(JournalError::Invalid(format!(
                "{}: no journal here (no invigil journal in this directory)",
                dir.display()
            )));
        }
        Self::open_inner(dir, u64::MAX, false)
    }

    fn open_inner(dir: &Path, segment_bytes: u64, writable: bool) -> Result<Self, JournalError> {
        let acked_path = dir.join("acked");
        let acked = match fs::read_to_string(&acked_path) {
            Ok(s) => s.trim().parse().map_err(|_| JournalError::Corrupt {
                path: acked_path.clone(),
                offset: 0,
                problem: format!("`{}` is not a record id", s.trim()),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io(&acked_path)(e)),
        };
        let mut paths: Vec<(u64, PathBuf)> = fs::read_dir(dir)
            .map_err(io(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| {
                let name = p.file_name()?.to_str()?;
                let id = name
                    .strip_prefix("seg-")?
                    .strip_suffix(".log")?
                    .parse()
                    .ok()?;
                Some((id, p))
            })
            .collect();
        paths.sort();
        let mut journal = Self {
            dir: dir.to_owned(),
            segments: Vec::new(),
            current: None,
            next_id: acked + 1,
            acked,
            segment_bytes,
        };
        let count = paths.len();
        for (i, (first_id, path)) in paths.into_iter().enumerate() {
            let last = i + 1 == count;
            let (records, good_len) = read_segment(&path, last)?;
            let file_len = fs::metadata(&path).map_err(io(&path))?.len();
            if good_len < file_len && !writable {
                tracing::warn!(
                    "{}: a torn record at byte {good_len} (left by a crash) is skipped",
                    path.display()
                );
            } else if good_len < file_len {
                tracing::warn!(
                    "{}: cutting a torn record at byte {good_len} (left by a crash)",
                    path.display()
                );
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io(&path))?;
                f.set_len(good_len).map_err(io(&path))?;
                f.sync_all().map_err(io(&path))?;
            }
            let last_id = records.last().map(|r| r.id);
            if let Some(id) = last_id {
                journal.next_id = journal.next_id.max(id + 1);
            }
            journal.segments.push(Segment {
                path,
                first_id,
                last_id,
                len: good_len,
            });
        }
        Ok(journal)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Journals an event; returns its record id once it is on disk.
    pub fn append_event(&mut self, event: &Event) -> Result<u64, JournalError> {
        self.append(Item::Event(event.clone()))
    }

    /// Stores a media body and journals it; returns the record id once both
    /// are on disk.
    pub fn append_media(
        &mut self,
        kind: MediaKind,
        name: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<u64, JournalError> {
        let sha256 = invigil_core::chain::hex(&Sha256::digest(body));
        let path = self.media_path(&sha256);
        if !path.exists() {
            let tmp = path.with_extension("tmp");
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(body).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
            fs::rename(&tmp, &path).map_err(io(&path))?;
        }
        self.append(Item::Media(Media {
            kind,
            name: name.to_owned(),
            content_type: content_type.to_owned(),
            sha256,
            bytes: body.len() as u64,
        }))
    }

    /// Where a media body with this hash is kept.
    pub fn media_path(&self, sha256: &str) -> PathBuf {
        self.dir.join("media").join(sha256)
    }

    fn append(&mut self, item: Item) -> Result<u64, JournalError> {
        let id = self.next_id;
        let record = Record { id, item };
        let json = serde_json::to_vec(&record).map_err(|e| JournalError::Invalid(e.to_string()))?;
        if json.len() as u64 > u64::from(MAX_RECORD) {
            return Err(JournalError::Invalid(format!(
                "record {id} is {} bytes, more than the {MAX_RECORD} allowed",
                json.len()
            )));
        }
        let needs_new = self
            .segments
            .last()
            .is_none_or(|s| s.len >= self.segment_bytes);
        if needs_new {
            let path = self.dir.join(format!("seg-{id:020}.log"));
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io(&path))?;
            sync_dir(&self.dir)?;
            self.segments.push(Segment {
                path,
                first_id: id,
                last_id: None,
                len: 0,
            });
            self.current = Some(file);
        }
        let seg = self.segments.last_mut().expect("a segment exists");
        if self.current.is_none() {
            self.current = Some(
                OpenOptions::new()
                    .append(true)
                    .open(&seg.path)
                    .map_err(io(&seg.path))?,
            );
        }
        let file = self.current.as_mut().expect("opened above");
        let mut frame = Vec::with_capacity(json.len() + 8);
        frame.extend_from_slice(&(json.len() as u32).to_le_bytes());
        frame.extend_from_slice(&crc32fast::hash(&json).to_le_bytes());
        frame.extend_from_slice(&json);
        let written = file.write_all(&frame).and_then(|()| file.sync_data());
        if let Err(e) = written {
            // Leave no half record behind for the next append to follow.
            let _ = file.set_len(seg.len);
            self.current = None;
            return Err(io(&seg.path)(e));
        }
        seg.len += frame.len() as u64;
        seg.last_id = Some(id);
        self.next_id = id + 1;
        Ok(id)
    }

    /// Every record not yet acknowledged, in order.
    pub fn pending(&self) -> Result<Vec<Record>, JournalError> {
        let mut out = Vec::new();
        let count = self.segments.len();
        for (i, seg) in self.segments.iter().enumerate() {
            if seg.last_id.is_some_and(|l| l <= self.acked) {
                continue;
            }
            // A read-only journal may still hold a torn tail in its last
            // segment.
            let (records, _) = read_segment(&seg.path, i + 1 == count)?;
            out.extend(records.into_iter().filter(|r| r.id > self.acked));
        }
        Ok(out)
    }

    /// Acknowledges every record up to and including `id`, and deletes
    /// segments (and media) that hold nothing else.
    pub fn ack(&mut self, id: u64) -> Result<(), JournalError> {
        if id <= self.acked {
            return Ok(());
        }
        if id >= self.next_id {
            return Err(JournalError::Invalid(format!(
                "cannot acknowledge record {id}: the newest is {}",
                self.next_id - 1
            )));
        }
        let path = self.dir.join("acked");
        let tmp = self.dir.join("acked.tmp");
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        writeln!(f, "{id}").map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        sync_dir(&self.dir)?;
        self.acked = id;
        self.compact()
    }

    fn compact(&mut self) -> Result<(), JournalError> {
        // Keep the newest segment open for appending even when fully acked.
        let keep_from = self.segments.len().saturating_sub(1);
        let removable = self.segments[..keep_from]
            .iter()
            .take_while(|seg| seg.last_id.is_some_and(|l| l <= self.acked))
            .count();
        if removable == 0 {
            return Ok(());
        }
        // A body journaled twice (the same photo or clip again) is one file:
        // keep it while a record in a segment that stays still names it.
        let mut still_named = std::collections::HashSet::new();
        for seg in &self.segments[removable..] {
            let last = seg.path == self.segments.last().expect("a segment").path;
            let (records, _) = read_segment(&seg.path, last)?;
            for r in records {
                if let Item::Media(Media { sha256, .. }) = r.item {
                    still_named.insert(sha256);
                }
            }
        }
        let mut removed = 0;
        for seg in &self.segments[..removable] {
            let (records, _) = read_segment(&seg.path, false)?;
            for r in records {
                if let Item::Media(Media { sha256, .. }) = r.item {
                    if still_named.contains(&sha256) {
                        continue;
                    }
                    let p = self.media_path(&sha256);
                    if let Err(e) = fs::remove_file(&p) {
                        if e.kind() != std::io::ErrorKind::NotFound {
                            return Err(io(&p)(e));
                        }
                    }
                    still_named.insert(sha256);
                }
            }
            fs::remove_file(&seg.path).map_err(io(&seg.path))?;
            removed += 1;
        }
        self.segments.drain(..removed);
        Ok(())
    }

    /// Counts of what is waiting.
    pub fn status(&self) -> Result<JournalStatus, JournalError> {
        let mut s = JournalStatus {
            acked: self.acked,
            next_id: self.next_id,
            segments: self.segments.len(),
            ..Default::default()
        };
        for r in self.pending()? {
            match r.item {
                Item::Event(_) => s.pending_events += 1,
                Item::Media(Media { bytes, .. }) => {
                    s.pending_media += 1;
                    s.pending_media_bytes += bytes;
                }
            }
        }
        Ok(s)
    }

    /// The first id of each segment on disk (for tests and diagnostics).
    pub fn segment_first_ids(&self) -> Vec<u64> {
        self.segments.iter().map(|s| s.first_id).collect()
    }
}
