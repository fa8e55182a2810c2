//! invigil-uplink: the durable journal between the rule engine and the
//! backend. Every event and media item is written here, and synced to disk,
//! before anything tries to send it; acknowledged items are compacted away;
//! after a crash the journal reopens where it stopped.
//!
//! ```
//! use invigil_uplink::Journal;
//! let dir = tempfile::tempdir()?;
//! let mut journal = Journal::open(dir.path())?;
//! let id = journal.append_media("face.jpg", "image/jpeg", b"\xff\xd8...")?;
//! assert_eq!(journal.pending()?.len(), 1);
//! journal.ack(id)?;
//! assert!(journal.pending()?.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod journal;

pub use journal::{Item, Journal, JournalError, JournalStatus, Record};
