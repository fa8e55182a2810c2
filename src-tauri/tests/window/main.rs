//! The real app window under Xvfb, driven through WebDriver
//! (`tauri-driver` + Debian's `WebKitWebDriver`), with fixture cameras and a
//! real backend on loopback:
//! - a launch link fills in the server and the launch code; a mistyped or
//!   wrong code is refused with a clear message; with the right one
//!   (typed loosely) the system check passes, the check-in takes the face photo, the ID
//!   photo and the five room views (one retaken), the exam runs a scenario
//!   in which the candidate leaves and returns, the countdown appears, and
//!   the server's timeline holds the events, the check-in photos and the
//!   clip;
//! - an exam with no check-in and one break: straight from the system
//!   check to the exam, a break during which the candidate leaves and
//!   returns unflagged, the exam clock paused;
//! - a launch link with its offline ticket opened while the server is
//!   down: the exam starts and runs anyway, and is delivered (the code
//!   redeemed) once the server is back;
//! - the head-turn check at check-in: a printed photo held up and turned
//!   is refused with a retry, real head turns pass and reach the server;
//! - bad input: the server down at start, no camera, the room scan not
//!   turned, the server down mid-exam and the camera lost mid-exam, each
//!   with a clear message and nothing lost.
//!
//! Screenshots go to `test-artifacts/` (or `INVIGIL_ARTIFACTS_DIR`).
//!
//! Needs `Xvfb`, `tauri-driver` (`cargo install tauri-driver --locked`) and
//! `WebKitWebDriver` (package webkit2gtk-driver); skipped without them
//! unless `INVIGIL_REQUIRE_WINDOW` is set (CI sets it).

mod driver;
mod harness;

mod bad_input;
mod breaks;
mod check_in_and_exam;
mod liveness;
mod offline_start;
