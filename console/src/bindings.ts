// Generated from the Rust types by `invigil_core::protocol::typescript` (ts-rs).
// Do not edit: run `INVIGIL_UPDATE_BINDINGS=1 cargo test -p invigil-server --test bindings`.

export type Severity = "info" | "warning" | "violation";

export type EventKind = "session_started" | "absence_warning" | "candidate_absent" | "candidate_returned" | "multiple_faces" | "multiple_faces_cleared" | "camera_blocked" | "camera_unblocked" | "camera_frozen" | "camera_unfrozen" | "camera_lost" | "session_ended" | "session_resumed" | "clip_saved" | "checkin_completed" | "break_started" | "break_ended" | "break_overrun" | "snapshot_taken" | "identity_mismatch" | "identity_restored" | "static_face" | "looking_away_warning" | "looking_away" | "looking_back" | "object_detected" | "object_cleared";

export type Event = { 
/**
 * Schema version, [`EVENT_SCHEMA_VERSION`].
 */
v: number, 
/**
 * Position in the session, from 0, without gaps.
 */
seq: number, 
/**
 * Media time since the session's first frame, milliseconds.
 */
t_ms: number, kind: EventKind, severity: Severity, 
/**
 * Kind-specific details; always an object.
 */
data: Record<string, unknown>, 
/**
 * Hash of the previous event of the session (see [`crate::chain`]);
 * absent in sessions that are not chained (plain `invigil watch`).
 */
prev?: string, };

export type CandidateToken = string;

export type MediaKind = "clip" | "face_photo" | "id_photo" | "room_scan" | "snapshot" | "other";

export type ErrorBody = { error: ErrorInfo, };

export type ErrorInfo = { 
/**
 * Stable code: `invalid_field`, `unauthorized`, `chain_broken`, ...
 */
code: string, 
/**
 * What went wrong, in words.
 */
message: string, 
/**
 * The request field at fault (`events[2].kind`), when one is.
 */
field?: string, 
/**
 * Machine-readable details (e.g. the expected `prev`).
 */
detail?: Record<string, unknown>, };

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

export type Login = { username: string, password: string, };

export type SignedIn = { token: string, username: string, expires_ms: number, 
/**
 * An admin account (manages exams, enrolments and accounts).
 */
admin: boolean, };

export type Me = { "role": "proctor", username: string, 
/**
 * An admin account (manages exams, enrolments and accounts).
 */
admin: boolean, } | { "role": "candidate", session_id: string, };

export type CreateSession = { 
/**
 * Client-chosen id (8-64 of A-Z a-z 0-9 - _), so a client can chain
 * events before it reaches the server. Generated when absent.
 */
session_id: string | null, 
/**
 * The candidate's launch code (docs/exams.md).
 */
launch_code?: LaunchCode, 
/**
 * Open enrolment only: the exam ...
 */
exam_id?: string, 
/**
 * ... and the candidate.
 */
candidate_id?: string, 
/**
 * Open enrolment: the policy the client runs (docs/policy.md). With a
 * launch code, the policy the client means to run: the server's is
 * used either way, and a difference is noted for proctors.
 */
policy: Record<string, unknown>, 
/**
 * Client-chosen candidate token; makes creation safely repeatable.
 * Generated when absent.
 */
token: CandidateToken | null, 
/**
 * With a launch code: the offline ticket of the launch link, when the
 * client began before it reached the server (docs/exams.md). The
 * session then has the ticket's id and runs the ticket's policy, and
 * the code is taken up to a grace period after the exam closed.
 */
ticket?: string, };

export type Created = { session_id: string, token: CandidateToken, 
/**
 * `prev` of the session's first event.
 */
chain_origin: string, exam_id: string, candidate_id: string, 
/**
 * The policy the session runs, every key (the exam's with the
 * candidate's accommodations, or the client's under open enrolment).
 */
policy: Record<string, unknown>, 
/**
 * The exam, when a launch code started the session.
 */
exam?: ExamBrief, };

export type SessionState = "live" | "ended";

export type SessionSummary = { session_id: string, exam_id: string, candidate_id: string, state: SessionState, created_ms: number, ended_ms: number | null, end_reason: string | null, 
/**
 * Events held: seq 0 .. next_seq-1.
 */
next_seq: number, 
/**
 * Hash of the last event held: the next event's `prev`.
 */
head: string, last_event_ms: number | null, violations: number, warnings: number, media: number, 
/**
 * Batches refused for a broken chain (tamper evidence).
 */
rejected_batches: number, 
/**
 * The policy the session runs under; not in lists (only one session's
 * status and its timeline carry it).
 */
policy?: Record<string, unknown>, 
/**
 * The candidate's accommodations (policy keys that differ from the
 * exam's), when a launch code with some started the session; not in
 * lists.
 */
accommodations?: Record<string, unknown>, 
/**
 * Review priority, 0-100 (docs/console.md).
 */
priority: number, 
/**
 * Violations no proctor has decided on yet.
 */
open_alerts: number, 
/**
 * `invalidated` once a proctor invalidated the session.
 */
verdict: string | null, 
/**
 * When the candidate's client last reached the server (heartbeat
 * every 30 s), ms since the Unix epoch.
 */
last_seen_ms: number | null, 
/**
 * SHA-256 of the latest spot-check snapshot (media kind `snapshot`),
 * the live card's thumbnail.
 */
snapshot: string | null, };

export type DeliveryStatus = { session_id: string, exam_id: string, candidate_id: string, state: SessionState, created_ms: number, ended_ms: number | null, end_reason: string | null, 
/**
 * Events held: seq 0 .. next_seq-1.
 */
next_seq: number, 
/**
 * Hash of the last event held: the next event's `prev`.
 */
head: string, last_event_ms: number | null, 
/**
 * Media items held.
 */
media: number, 
/**
 * Batches refused for a broken chain.
 */
rejected_batches: number, 
/**
 * The policy the session was created with.
 */
policy: Record<string, unknown>, };

export type SessionStatus = SessionSummary | DeliveryStatus;

export type SessionList = { sessions: Array<SessionSummary>, };

export type EndSession = { reason: string | null, };

export type EventBatch = { events: Array<Event>, };

export type BatchReceipt = { 
/**
 * Which server key signed (`ServerKey::key_id`).
 */
key_id: string, 
/**
 * The signature, 128 hex digits.
 */
signature: string, };

export type BatchReply = { 
/**
 * Events new to the server.
 */
accepted: number, 
/**
 * Events the server already held, byte for byte (re-sent batches).
 */
duplicates: number, 
/**
 * The server holds seq 0 .. next_seq-1.
 */
next_seq: number, 
/**
 * Hash of the server's last event: the next event's `prev`.
 */
head: string, 
/**
 * The server's signature over what it now holds (docs/receipts.md):
 * the candidate keeps it to prove what the server acknowledged.
 */
receipt?: BatchReceipt, };

export type ServerKey = { 
/**
 * `Ed25519`.
 */
algorithm: string, 
/**
 * The public key, 64 hex digits.
 */
public_key: string, 
/**
 * First 16 hex digits of the SHA-256 of the public key.
 */
key_id: string, };

export type MediaStored = { sha256: string, bytes: number, };

export type MediaItem = { sha256: string, name: string, kind: MediaKind, content_type: string, bytes: number, received_ms: number, };

export type DecisionAction = "acknowledge" | "dismiss" | "confirm" | "end" | "invalidate";

export type NewDecision = { 
/**
 * acknowledge, dismiss, confirm (with `event_seq`); end, invalidate.
 */
action: string, event_seq: number | null, note: string, 
/**
 * Forensic flags (ids) the decision rests on, for `invalidate`.
 */
cites: Array<string>, };

export type Decision = { id: string, session_id: string, event_seq: number | null, action: DecisionAction, note: string, proctor: string, at_ms: number, 
/**
 * Forensic flags the decision cites.
 */
cites: Array<ForensicFlag>, };

export type Decided = { decision: Decision, session: SessionSummary, };

export type StoredEvent = { 
/**
 * The event's hash (the next event's `prev`).
 */
hash: string, 
/**
 * Server time it arrived, ms since the Unix epoch.
 */
received_ms: number, 
/**
 * Schema version, [`EVENT_SCHEMA_VERSION`].
 */
v: number, 
/**
 * Position in the session, from 0, without gaps.
 */
seq: number, 
/**
 * Media time since the session's first frame, milliseconds.
 */
t_ms: number, kind: EventKind, severity: Severity, 
/**
 * Kind-specific details; always an object.
 */
data: Record<string, unknown>, 
/**
 * Hash of the previous event of the session (see [`crate::chain`]);
 * absent in sessions that are not chained (plain `invigil watch`).
 */
prev?: string, };

export type TimelineNote = { at_ms: number, kind: string, 
/**
 * `candidate`, `proctor:NAME` or `server`.
 */
actor: string, detail: Record<string, unknown>, };

export type SpotCheck = { id: string, 
/**
 * When the server asked, ms since the Unix epoch.
 */
requested_ms: number, 
/**
 * Media time of the snapshot's frame, once answered.
 */
t_ms: number | null, 
/**
 * The snapshot (media kind `snapshot`).
 */
sha256: string | null, 
/**
 * Faces the client's rules counted on that frame.
 */
client_faces: number | null, 
/**
 * Faces the server found on the snapshot.
 */
server_faces: number | null, 
/**
 * `agree`, `no_face`, `extra_faces`, `events_claim_presence`,
 * `repeated`, `unreadable`, `missing`; `judging` while the server
 * looks; none while the snapshot is awaited.
 */
verdict: string | null, };

export type Timeline = { session: SessionSummary, 
/**
 * One page of events, in seq order.
 */
events: Array<StoredEvent>, 
/**
 * Set when more events may follow: ask again with `after_seq` = this.
 */
next_after_seq?: number, media: Array<MediaItem>, notes: Array<TimelineNote>, decisions: Array<Decision>, 
/**
 * The spot checks the server asked for, oldest first
 * (docs/spot-checks.md).
 */
spot_checks: Array<SpotCheck>, 
/**
 * The data-forensics flags on the session's candidate from the
 * exam's latest analysis (docs/forensics.md).
 */
forensics: Array<ForensicFlag>, };

export type Alert = { session_id: string, exam_id: string, candidate_id: string, 
/**
 * Server time the event arrived, ms since the Unix epoch.
 */
received_ms: number, event: Event, };

export type Lagged = { missed: number, };

export type LaunchCode = string;

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

export type BreakClock = "paused" | "running";

export type Breaks = { 
/**
 * How many (1-20).
 */
count: number, 
/**
 * How long each may last, in minutes (more than 0, at most 240).
 */
minutes: number, clock: BreakClock, };

export type Aids = { 
/**
 * Paper on the desk: looking down at it is not a violation (the
 * policy key `scratch_paper`).
 */
scratch_paper: boolean, 
/**
 * Books on the desk: a book in view is not a violation (the policy
 * key `books`).
 */
books: boolean, 
/**
 * Breaks: `null` allows none.
 */
breaks?: Breaks, };

export type NewExam = { 
/**
 * 1-64 of A-Z a-z 0-9 . _ : -; generated when absent (on PUT, the same
 * id or none).
 */
id?: string, title: string, 
/**
 * Launch codes work from this time (ms since the Unix epoch) ...
 */
opens_ms: number, 
/**
 * ... until this one.
 */
closes_ms: number, 
/**
 * Policy keys (docs/policy.md) set for this exam; the others keep
 * their defaults. Checked as `invigil policy --check` checks a file.
 */
policy: Record<string, unknown>, checkin: CheckinRequirements, aids: Aids, };

export type Exam = { id: string, title: string, opens_ms: number, closes_ms: number, 
/**
 * The policy keys set for the exam (the rest are defaults).
 */
policy: Record<string, unknown>, checkin: CheckinRequirements, aids: Aids, 
/**
 * The admin who created it.
 */
created_by: string, created_ms: number, updated_ms: number, 
/**
 * Candidates enrolled.
 */
enrolled: number, 
/**
 * Sessions started (the exam can no longer be changed once one has).
 */
started: number, 
/**
 * When its results were last analysed (`GET .../forensics` has the
 * report); none: never uploaded.
 */
results_analysed_ms: number | null, };

export type ExamList = { exams: Array<Exam>, };

export type NewEnrolment = { 
/**
 * The institution's id of the candidate (1-200 of A-Z a-z 0-9 . _ : - @).
 */
candidate_id: string, name: string, email: string, 
/**
 * Accommodations: policy keys that differ for this candidate (e.g. a
 * longer `absence_flag_s` for a documented medical need).
 */
overrides: Record<string, unknown>, };

export type Enrol = { candidates: Array<NewEnrolment>, };

export type RosterUpload = { csv: string, };

export type Enrolment = { exam_id: string, candidate_id: string, name: string, email: string, overrides: Record<string, unknown>, created_ms: number, 
/**
 * The session its launch code started; `null` while unused.
 */
session_id: string | null, redeemed_ms: number | null, };

export type EnrolmentList = { enrolments: Array<Enrolment>, };

export type IssuedCode = { candidate_id: string, name: string, email: string, code: LaunchCode, 
/**
 * The offline ticket for this code (docs/exams.md): a launch link with
 * it lets the candidate's client begin before it reaches the server.
 */
ticket: string, };

export type Issued = { exam_id: string, codes: Array<IssuedCode>, };

export type Reissue = { 
/**
 * These candidates; absent: every enrolment whose code is unused.
 */
candidates?: Array<string>, };

export type Accommodations = { overrides: Record<string, unknown>, 
/**
 * Why (e.g. "medical: documented, ref 2026-114"); kept in the audit trail.
 */
reason: string, };

export type ExamBrief = { id: string, title: string, opens_ms: number, closes_ms: number, checkin: CheckinRequirements, aids: Aids, 
/**
 * Policy keys changed for this candidate (accommodations).
 */
accommodations: Record<string, unknown>, };

export type NoteAlert = { session_id: string, exam_id: string, candidate_id: string, note: TimelineNote, };

export type ResponsesUpload = { 
/**
 * The results, long or wide layout.
 */
responses: string, 
/**
 * The item file (key, options, compromised).
 */
items?: string, 
/**
 * The candidate file (centre, attempt).
 */
candidates?: string, };

export type ForensicFlag = { id: string, exam_id: string, candidate_id: string, 
/**
 * The candidate's session of the exam, when enrolled and started.
 */
session_id: string | null, 
/**
 * The other member of a pair.
 */
partner_id: string | null, partner_session_id: string | null, 
/**
 * `gbt`, `person_fit_exact`, `preknowledge_exact`, `fast_items`,
 * `preknowledge_speed`, `speed_given_ability`.
 */
index: string, statistic: number, p: number, 
/**
 * The p-value at or below which the index is the first piece of
 * evidence for invalidation (none: review only).
 */
invalidation_level: number | null, 
/**
 * Whether the invalidation conditions are met (a person still
 * decides).
 */
invalidation: boolean, 
/**
 * `answers` or `times`.
 */
source: string, detail: string, 
/**
 * The second, independent piece of evidence: another index on the
 * other kind of data, or the proctoring violations of the session.
 */
corroboration: string | null, };

export type ForensicsReport = { exam_id: string, run_id: string, at_ms: number, 
/**
 * The admin who uploaded the results.
 */
by: string, candidates: number, items: number, 
/**
 * Flags meeting the invalidation conditions.
 */
invalidations: number, 
/**
 * Every flag, the invalidation conditions' first, then by p-value.
 */
flags: Array<ForensicFlag>, 
/**
 * What the analysis could not do, and candidates of the results who
 * are not enrolled in the exam.
 */
notes: Array<string>, 
/**
 * The budget and levels applied (docs/forensics.md).
 */
budget: number, review_level: number, };

export type NewAchievement = { 
/**
 * 1-200 characters.
 */
name: string, 
/**
 * Up to 2,000 characters.
 */
description: string, 
/**
 * How the badge is earned, in words; up to 2,000 characters.
 */
criteria: string, 
/**
 * The badge image: a PNG, base64, at most 256 KiB (square, 200-1,000
 * pixels, is what badge displays expect). Absent: keep the current
 * image (the server's plain medal if none was given).
 */
image_png_base64?: string, 
/**
 * Months a badge stays valid after it is issued (`validUntil`);
 * absent: no expiry.
 */
valid_months?: number, };

export type Achievement = { exam_id: string, name: string, description: string, criteria: string, 
/**
 * Whether an image was uploaded (else the server's plain medal).
 */
has_image: boolean, valid_months: number | null, 
/**
 * The achievement's public URL (its id in the credentials).
 */
url: string, };

export type Passes = { candidate_ids: Array<string>, };

export type PassesCsv = { csv: string, };

export type BadgeStatus = "valid" | "suspended" | "revoked";

export type Badge = { 
/**
 * The uuid of the credential's `urn:uuid:` id.
 */
id: string, exam_id: string, candidate_id: string, session_id: string, status: BadgeStatus, status_reason: string | null, status_ms: number | null, issued_ms: number, issued_by: string, valid_until_ms: number | null, 
/**
 * The public badge page, to give the candidate.
 */
url: string, 
/**
 * The credential (JSON) and the baked PNG.
 */
credential_url: string, png_url: string, };

export type PassesRecorded = { 
/**
 * Badges issued now.
 */
issued: Array<Badge>, 
/**
 * Candidates who already had a badge for the session (unchanged).
 */
already: Array<Badge>, 
/**
 * Rows of a CSV marked as not passed (no badge).
 */
not_passed: number, };

export type BadgeList = { achievement: Achievement | null, badges: Array<Badge>, };

export type NewBadgeStatus = { status: BadgeStatus, 
/**
 * Required; up to 500 characters. Shown on the public badge page.
 */
reason: string, };

/** How proctors read each event kind. */
export const EVENT_LABELS: Partial<Record<EventKind, string>> = {
  session_started: "Session started",
  absence_warning: "Left the camera view (warning)",
  candidate_absent: "Candidate absent",
  candidate_returned: "Candidate returned",
  multiple_faces: "More than one person",
  multiple_faces_cleared: "One person again",
  camera_blocked: "Camera covered or dark",
  camera_unblocked: "Camera picture back",
  camera_frozen: "Camera picture frozen",
  camera_unfrozen: "Camera picture moving again",
  camera_lost: "Camera lost",
  session_ended: "Session ended",
  session_resumed: "Client restarted (session resumed)",
  clip_saved: "Clip saved",
  checkin_completed: "Check-in completed",
  break_started: "Break started",
  break_ended: "Break ended",
  break_overrun: "Break ran over its length",
  snapshot_taken: "Spot-check snapshot",
  identity_mismatch: "Different person in view",
  identity_restored: "Same person again",
  static_face: "Face does not move (a photo?)",
  looking_away_warning: "Looking away (warning)",
  looking_away: "Looking away from the screen",
  looking_back: "Looking at the screen again",
  object_detected: "Object in view",
  object_cleared: "Object gone",
};
