//! invigil-session: one monitored exam session, wired once, and the
//! candidate's check-in, for the CLI and the app alike.
//!
//! [`Session`] opens the source, the analyzer, the rules and (optionally)
//! the uplink with its clip recorder from [`SessionOptions`], and runs them
//! to the end; an [`Observer`] sees the events and frames. `invigil watch`,
//! `qa run` and `demo` run it directly; [`Monitor`] runs it on its own
//! thread for a UI, which polls [`Monitor::snapshot`] (progress, faces,
//! the absence countdown, what has been flagged, the connection) and
//! [`Monitor::preview`] (a small JPEG of the latest frame), and ends it
//! with [`Monitor::stop`], which returns a [`Receipt`].
//!
//! [`CheckIn`] runs the camera (or a fixture) with the check-in measures
//! (face photo, ID photo, room scan) and keeps the photos taken;
//! [`judge_photos`] judges photographs the same way. [`system_check`] is
//! the app's check before the exam.

mod breaks;
mod checkin;
mod identity;
mod monitor;
mod picture;
mod session;
mod start;
mod system_check;
mod view;

pub use breaks::{BreakDesk, BreakView};
pub use checkin::{
    checkin_detector, identity_of, judge_identity, judge_photos, photo_label, required_slots,
    CheckIn, CheckInFixture, CheckInOptions, CheckInRecord, CheckInView, IdentityView,
    LivenessResult, LivenessView, Photo, PhotoVerdict, PhotoView, ProblemView, Step,
    CHECKIN_PHOTOS, LIVENESS, MAX_ID_ATTEMPTS, ROOM_SIDES,
};
pub use identity::{reference_from_frame, reference_from_image};
pub use invigil_vision::checkin::{CheckInPolicy, SystemCheckPolicy};
pub use invigil_vision::Embedding;
pub use monitor::Monitor;
pub use picture::data_url;
pub use session::{
    Observer, Outcome, Session, SessionError, SessionOptions, StreamOptions, RESOLVE_TIMEOUT,
};
pub use start::{candidate_request, journal_checkin, parse_launch_link, LaunchLink};
pub use system_check::{server_info, system_check, CheckItem, SystemCheck};
pub use view::{ConnectionView, EventView, FaceBox, Receipt, Snapshot};
