//! invigil-uplink: the durable path from the rule engine to the backend.
//!
//! Every event and media item is written to the [`Journal`], and synced to
//! disk, before anything tries to send it; the [`Uplink`]'s shipper thread
//! sends what the journal holds with retries, exponential backoff and
//! jitter; acknowledged items are compacted away; after a crash the journal
//! (and `session.json` beside it) reopen where they stopped.
//!
//! ```
//! use invigil_core::protocol::MediaKind;
//! use invigil_uplink::Journal;
//! let dir = tempfile::tempdir()?;
//! let mut journal = Journal::open(dir.path())?;
//! let id = journal.append_media(MediaKind::FacePhoto, "face.jpg", "image/jpeg", b"\xff\xd8...")?;
//! assert_eq!(journal.pending()?.len(), 1);
//! journal.ack(id)?;
//! assert!(journal.pending()?.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod clips;
mod journal;
mod session;
mod uplink;

pub use clips::ClipTap;
pub use journal::{Item, Journal, JournalError, JournalStatus, Media, Record};
pub use session::SessionMeta;
pub use uplink::{
    Connection, SessionRequest, Start, Uplink, UplinkError, UplinkStatus, HEARTBEAT, RECEIPTS_FILE,
};
