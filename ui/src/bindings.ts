// Generated from the Rust types by `invigil_app::typescript_bindings` (ts-rs).
// Do not edit: run `INVIGIL_UPDATE_BINDINGS=1 cargo test -p invigil-app bindings`.

export type AppConfig = { 
/**
 * `camera`, or the fixture the app runs on (QA).
 */
source: string, fixture: boolean, 
/**
 * Prefilled server address.
 */
server: string | null, 
/**
 * Prefilled launch code (or a platform's session token).
 */
session_code: string | null, 
/**
 * Session id from a platform's link, with its token.
 */
session_id: string | null, 
/**
 * The app was opened with a launch link (server and code filled in).
 */
from_link: boolean, 
/**
 * A launch link that could not be read, in words for the candidate.
 */
link_error: string | null, };

export type CheckItem = { 
/**
 * `camera`, `face`, `lighting`, `backend`, `disk`.
 */
id: string, label: string, ok: boolean, 
/**
 * What was found, e.g. `640x480 at 10 fps`.
 */
detail: string, 
/**
 * How to fix it, when it failed.
 */
hint: string | null, };

export type SystemCheck = { items: Array<CheckItem>, ok: boolean, };

export type StartRequest = { server: string, session_code: string | null, 
/**
 * From a launch link, with the code (see `AppConfig::session_id`).
 */
session_id: string | null, exam_id: string | null, candidate_id: string | null, };

export type CheckinRequirements = { 
/**
 * A face photo.
 */
face: boolean, 
/**
 * A photo of an identity document.
 */
id: boolean, 
/**
 * A scan of the room.
 */
room: boolean, 
/**
 * With the face photo, a head-turn liveness check (docs/identity.md):
 * a printed photo or a screen held to the camera does not pass. Turn
 * it off for a candidate who cannot turn their head (an
 * accommodation); without `face` it asks for nothing.
 */
liveness: boolean, };

export type StartedSession = { session_id: string, 
/**
 * What the check-in asks for (the exam's requirements).
 */
checkin: CheckinRequirements, };

export type Step = "face" | "liveness" | "id" | "room";

export type ProblemView = { code: string, message: string, };

export type IdentityView = { 
/**
 * A portrait was found on the ID.
 */
id_face_found: boolean, similarity: number | null, same_person: boolean, 
/**
 * ID photos taken so far (retakes included).
 */
attempts: number, 
/**
 * Ask for another ID photo, with `hint`.
 */
retake: boolean, 
/**
 * No match after the last attempt: the exam goes on and proctors
 * compare the photos themselves.
 */
for_review: boolean, hint: string | null, };

export type LivenessView = { 
/**
 * `facing` (look at the camera), `turning`, `returning` (back to the
 * camera), `passed`, `failed` (try again), or `idle` (not started).
 */
state: string, 
/**
 * What the candidate is asked to do now.
 */
instruction: string, 
/**
 * The way the head is asked to turn now (`left` or `right`, the
 * candidate's own).
 */
turn: "left" | "right" | null, 
/**
 * Turns made so far, of 2.
 */
done: number, 
/**
 * Attempts started, this one included.
 */
attempts: number, passed: boolean, 
/**
 * Why the last attempt did not pass.
 */
failure: string | null, };

export type PhotoView = { 
/**
 * `face`, `id`, or a room side.
 */
slot: string, label: string, 
/**
 * Small JPEG as a `data:` URL.
 */
thumbnail: string, 
/**
 * The ID photo: its portrait against the face photo (none for other
 * photos, or without a face photo to compare with).
 */
identity: IdentityView | null, };

export type CheckInView = { step: Step, 
/**
 * Room side being scanned (`front`...`desk`) and its words.
 */
side: string | null, side_words: string | null, 
/**
 * The latest assessed frame may be captured.
 */
ready: boolean, problems: Array<ProblemView>, 
/**
 * Faces found (face photo) or the portrait on the ID.
 */
faces: Array<FaceBox>, 
/**
 * Corners of the ID found, as fractions of the frame.
 */
document: Array<[number, number]> | null, frames: number, 
/**
 * The camera failed (and is being retried).
 */
error: string | null, 
/**
 * Photos taken so far.
 */
photos: Array<PhotoView>, 
/**
 * The steps this exam's check-in asks for, in order: `face`,
 * `liveness` (the head-turn check, no photo), `id`, then the room
 * sides.
 */
required: Array<string>, 
/**
 * The head-turn check, when the exam asks for it.
 */
liveness: LivenessView | null, 
/**
 * Every photo the check-in needs is taken (and the head-turn check
 * passed).
 */
complete: boolean, };

export type EventView = { seq: number, t_ms: number, 
/**
 * Wire kind, e.g. `candidate_absent` (docs/events.md).
 */
kind: string, 
/**
 * `info`, `warning` or `violation`.
 */
severity: string, data: Record<string, unknown>, };

export type FaceBox = { x: number, y: number, w: number, h: number, score: number, };

export type ConnectionView = { 
/**
 * `none` (not streaming), `connecting`, `online`, `offline`, `refused`.
 */
state: string, 
/**
 * Items waiting in the journal.
 */
pending: number, sent_events: number, sent_media: number, last_error: string | null, journal_error: string | null, };

export type Receipt = { session_id: string | null, 
/**
 * Events of this run, `session_started`/`session_resumed` to
 * `session_ended`.
 */
events: number, 
/**
 * Hash of the last event (the chain head): what the server must hold.
 */
last_hash: string | null, 
/**
 * `end_of_stream`, `stopped`, `camera_lost`, `source_error`.
 */
reason: string, connection: ConnectionView, };

export type BreakView = { 
/**
 * Breaks the exam allows (0: none).
 */
allowed: number, 
/**
 * Length of each, minutes.
 */
minutes: number, 
/**
 * Breaks begun so far.
 */
taken: number, 
/**
 * A break is in progress.
 */
on_break: boolean, 
/**
 * The exam clock stops during breaks.
 */
pauses_clock: boolean, };

export type Snapshot = { running: boolean, source: string, session_id: string | null, frames: number, dropped: number, 
/**
 * Session time, ms.
 */
t_ms: number, width: number, height: number, faces: Array<FaceBox>, events: number, violations: number, 
/**
 * While an absence warning is up: ms left before `candidate_absent`.
 */
countdown_ms: number | null, 
/**
 * While a looking-away warning is up: ms left before `looking_away`
 * ("Look back at the screen").
 */
look_back_ms: number | null, 
/**
 * Every warning and violation so far, oldest first.
 */
flagged: Array<EventView>, connection: ConnectionView, 
/**
 * Set once the session has ended.
 */
receipt: Receipt | null, 
/**
 * Why the session failed, if it did (the source broke).
 */
error: string | null, 
/**
 * The breaks the exam allows and where they stand.
 */
breaks: BreakView, 
/**
 * During a break: ms left before it overruns (`break_overrun`).
 */
break_left_ms: number | null, 
/**
 * The exam clock, ms: session time less the breaks an exam with a
 * paused clock has had (equal to `t_ms` otherwise).
 */
exam_ms: number, 
/**
 * The exam clock is paused (a break, with a paused clock).
 */
clock_paused: boolean, };

export type EventKind = "session_started" | "absence_warning" | "candidate_absent" | "candidate_returned" | "multiple_faces" | "multiple_faces_cleared" | "camera_blocked" | "camera_unblocked" | "camera_frozen" | "camera_unfrozen" | "camera_lost" | "session_ended" | "session_resumed" | "clip_saved" | "checkin_completed" | "break_started" | "break_ended" | "break_overrun" | "snapshot_taken" | "identity_mismatch" | "identity_restored" | "static_face" | "looking_away_warning" | "looking_away" | "looking_back" | "object_detected" | "object_cleared";

export type ServerInfo = { 
/**
 * The server's version.
 */
version: string, 
/**
 * Sessions are deleted this many days after their last activity;
 * `null`: kept until the exam provider deletes them.
 */
retention_days: number | null, };

/** How the app words the events it shows the candidate. */
export const CANDIDATE_TEXT: Partial<Record<EventKind, string>> = {
  absence_warning: "You were out of view (warning)",
  candidate_absent: "Out of view for too long",
  multiple_faces: "More than one person in view",
  camera_blocked: "Camera covered or dark",
  camera_frozen: "Camera picture frozen",
  camera_lost: "Camera disconnected",
  session_resumed: "The app restarted during the exam",
  break_overrun: "Your break ran over its length",
  identity_mismatch: "The person in view does not match your check-in photo",
  static_face: "Your face has not moved for a long time",
  looking_away_warning: "Look back at the screen",
  looking_away: "You looked away from the screen for too long",
  object_detected: "An object that is not allowed is in view",
};
