//! invigil-session: one monitored exam session for a user interface.
//!
//! [`Monitor::start`] opens the source (webcam or fixture), the analyzer and
//! (optionally) the uplink, and runs the same pipeline as `invigil watch` on
//! its own thread. The UI polls [`Monitor::snapshot`] (progress, faces, the
//! absence countdown, what has been flagged, the connection) and
//! [`Monitor::preview`] (a small JPEG of the latest frame), and ends the
//! session with [`Monitor::stop`], which returns a [`Receipt`].

mod monitor;
mod view;

pub use monitor::{Monitor, MonitorError, MonitorOptions, StreamOptions};
pub use view::{ConnectionView, EventView, FaceBox, Receipt, Snapshot};
