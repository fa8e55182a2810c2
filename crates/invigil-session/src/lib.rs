//! invigil-session: the candidate's check-in and monitored exam session,
//! for a user interface.
//!
//! [`CheckIn`] runs the camera (or a fixture) with the check-in measures
//! (face photo, ID photo, room scan) and keeps the photos taken.
//! [`Monitor::start`] opens the source, the analyzer and (optionally) the
//! uplink, and runs the same pipeline as `invigil watch` on its own thread.
//! The UI polls [`Monitor::snapshot`] (progress, faces, the absence
//! countdown, what has been flagged, the connection) and
//! [`Monitor::preview`] (a small JPEG of the latest frame), and ends the
//! session with [`Monitor::stop`], which returns a [`Receipt`].

mod checkin;
mod monitor;
mod picture;
mod view;

pub use checkin::{
    photo_label, CheckIn, CheckInFixture, CheckInOptions, CheckInView, Photo, PhotoView,
    ProblemView, Step, CHECKIN_PHOTOS, ROOM_SIDES,
};
pub use monitor::{Monitor, MonitorError, MonitorOptions, Prepared, StreamOptions};
pub use picture::data_url;
pub use view::{ConnectionView, EventView, FaceBox, Receipt, Snapshot};
