//! What the server checks of a session against its exam, from the events
//! the client sends: the breaks it took (as many and as long as the exam
//! allows) and the check-in it recorded (every photo the exam asks for).
//! Each finding is a server note with an alert (`break_not_allowed`,
//! `checkin_incomplete`, `checkin_missing`, `identity_unverified`,
//! `liveness_unverified`), raising the review priority: a modified client could skip the check-in or take breaks at will.

use invigil_core::protocol::{Aids, CheckinRequirements};
use invigil_core::{Event, EventKind};
use serde_json::{json, Value};

use crate::AppState;

/// The exam of a session started with a launch code: its check-in and aids.
async fn exam_of(state: &AppState, session_id: &str) -> Option<(CheckinRequirements, Aids)> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT e.checkin, e.aids FROM enrolments en JOIN exams e ON e.id = en.exam_id \
         WHERE en.session_id = $1",
    )
    .bind(session_id)
    .fetch_optional(&state.db.pool)
    .await
    .ok()
    .flatten();
    let (checkin, aids) = row?;
    Some((
        serde_json::from_str(&checkin).unwrap_or_default(),
        serde_json::from_str(&aids).unwrap_or_default(),
    ))
}

async fn count_kind(state: &AppState, session_id: &str, kind: EventKind) -> i64 {
    sqlx::query_as::<_, (i64,)>(
        "SELECT COUNT(*) AS n FROM events WHERE session_id = $1 AND kind = $2",
    )
    .bind(session_id)
    .bind(kind.as_str())
    .fetch_one(&state.db.pool)
    .await
    .map_or(0, |(n,)| n)
}

/// Checks the events just stored (the session's lock is held, so the
/// counts include them and nothing else arrives meanwhile).
pub(crate) async fn check(state: &AppState, session_id: &str, fresh: &[&Event]) {
    let relevant = |k: EventKind| {
        matches!(
            k,
            EventKind::BreakStarted | EventKind::CheckinCompleted | EventKind::SessionEnded
        )
    };
    if !fresh.iter().any(|e| relevant(e.kind)) {
        return;
    }
    let Some((checkin, aids)) = exam_of(state, session_id).await else {
        // Open enrolment: no exam set the rules.
        return;
    };
    for e in fresh {
        let findings: Vec<(&'static str, Value)> = match e.kind {
            EventKind::BreakStarted => {
                let taken = count_kind(state, session_id, EventKind::BreakStarted).await;
                break_finding(&aids, e, taken).into_iter().collect()
            }
            EventKind::CheckinCompleted => checkin_finding(&checkin, &e.data)
                .into_iter()
                .chain(identity_finding(&checkin, &e.data))
                .chain(liveness_finding(&checkin, &e.data))
                .collect(),
            EventKind::SessionEnded => {
                let wanted = checkin.face || checkin.id || checkin.room;
                let done = count_kind(state, session_id, EventKind::CheckinCompleted).await;
                (wanted && done == 0)
                    .then(|| {
                        (
                            "checkin_missing",
                            json!({ "requires": checkin, "at_seq": e.seq }),
                        )
                    })
                    .into_iter()
                    .collect()
            }
            _ => Vec::new(),
        };
        for (kind, detail) in findings {
            tracing::warn!(session = session_id, "{kind}: {detail}");
            crate::launch::note(state, session_id, kind, detail, true).await;
        }
    }
}

/// A break the exam does not allow: none allowed, one too many (counted
/// by the server, not by the client's `number`), or longer than allowed.
fn break_finding(aids: &Aids, e: &Event, taken: i64) -> Option<(&'static str, Value)> {
    let claimed_s = e.data.get("max_s").and_then(Value::as_f64).unwrap_or(0.0);
    let problem = match aids.breaks {
        None => "the exam allows no breaks".to_owned(),
        Some(b) if taken > i64::from(b.count) => {
            format!("break {taken} of an exam that allows {}", b.count)
        }
        // Half a second of slack for the float round trip.
        Some(b) if claimed_s > b.minutes * 60.0 + 0.5 => format!(
            "the client allowed itself {claimed_s} s; the exam allows {} s",
            b.minutes * 60.0
        ),
        Some(_) => return None,
    };
    Some((
        "break_not_allowed",
        json!({ "problem": problem, "at_seq": e.seq, "t_ms": e.t_ms, "taken": taken }),
    ))
}

/// The photos the exam asks for that a `checkin_completed` does not name.
fn checkin_finding(
    requires: &CheckinRequirements,
    data: &serde_json::Map<String, Value>,
) -> Option<(&'static str, Value)> {
    let named = |key: &str| {
        data.get(key)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    let mut missing = Vec::new();
    if requires.face && !named("face_photo") {
        missing.push("face_photo");
    }
    if requires.id && !named("id_photo") {
        missing.push("id_photo");
    }
    let room = data
        .get("room_scan")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if requires.room && room == 0 {
        missing.push("room_scan");
    }
    (!missing.is_empty()).then(|| ("checkin_incomplete", json!({ "missing": missing })))
}

/// A check-in with a face photo and an ID photo whose portrait the app did
/// not find to be the person in the face photo (or did not say):
/// `identity_unverified`, for proctors to compare the photos themselves.
fn identity_finding(
    requires: &CheckinRequirements,
    data: &serde_json::Map<String, Value>,
) -> Option<(&'static str, Value)> {
    if !(requires.face && requires.id) {
        return None;
    }
    let identity = data.get("identity").and_then(Value::as_object);
    let same = identity
        .and_then(|i| i.get("same_person"))
        .and_then(Value::as_bool);
    match (identity, same) {
        (_, Some(true)) => None,
        (Some(i), _) => Some((
            "identity_unverified",
            json!({
                "similarity": i.get("similarity").and_then(Value::as_f64),
                "id_face_found": i.get("id_face_found").and_then(Value::as_bool),
                "attempts": i.get("attempts").and_then(Value::as_u64),
            }),
        )),
        (None, _) => Some((
            "identity_unverified",
            json!({ "problem": "the check-in did not compare the ID with the face photo" }),
        )),
    }
}

/// A check-in that asks for the head-turn liveness check and does not say
/// it passed (failed attempts, a client that skipped it or says nothing):
/// `liveness_unverified`. The app does not let a candidate on without
/// passing, so this is a modified or an old client.
fn liveness_finding(
    requires: &CheckinRequirements,
    data: &serde_json::Map<String, Value>,
) -> Option<(&'static str, Value)> {
    if !(requires.face && requires.liveness) {
        return None;
    }
    let liveness = data.get("liveness").and_then(Value::as_object);
    match liveness
        .and_then(|l| l.get("passed"))
        .and_then(Value::as_bool)
    {
        Some(true) => None,
        _ => Some((
            "liveness_unverified",
            match liveness {
                Some(l) => json!({
                    "attempts": l.get("attempts").and_then(Value::as_u64),
                    "failure": l.get("failure").and_then(Value::as_str),
                }),
                None => json!({ "problem": "the check-in did not run the head-turn check" }),
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use invigil_core::protocol::{BreakClock, Breaks};

    fn event(kind: EventKind, data: Value) -> Event {
        Event {
            v: invigil_core::EVENT_SCHEMA_VERSION,
            seq: 3,
            t_ms: 1000,
            kind,
            severity: kind.severity(),
            data: data.as_object().cloned().unwrap_or_default(),
            prev: None,
        }
    }

    #[test]
    fn breaks_are_held_to_the_exam() {
        let e = event(
            EventKind::BreakStarted,
            json!({"number": 1, "max_s": 300.0}),
        );
        let none = Aids::default();
        assert!(break_finding(&none, &e, 1).unwrap().1["problem"]
            .as_str()
            .unwrap()
            .contains("no breaks"));
        let one = Aids {
            scratch_paper: false,
            books: false,
            breaks: Some(Breaks {
                count: 1,
                minutes: 5.0,
                clock: BreakClock::Paused,
            }),
        };
        assert_eq!(break_finding(&one, &e, 1), None);
        assert!(break_finding(&one, &e, 2).is_some(), "a second break");
        let long = event(
            EventKind::BreakStarted,
            json!({"number": 1, "max_s": 3000.0}),
        );
        assert!(break_finding(&one, &long, 1).is_some(), "a longer break");
    }

    #[test]
    fn a_checkin_names_every_photo_the_exam_asks_for() {
        let all = CheckinRequirements::default();
        let full = json!({"face_photo": "ab", "id_photo": "cd", "room_scan": [{"side": "front"}]});
        assert_eq!(checkin_finding(&all, full.as_object().unwrap()), None);
        let face_only = json!({"face_photo": "ab", "room_scan": []});
        let (kind, detail) = checkin_finding(&all, face_only.as_object().unwrap()).unwrap();
        assert_eq!(kind, "checkin_incomplete");
        assert_eq!(detail["missing"], json!(["id_photo", "room_scan"]));
        let face = CheckinRequirements {
            face: true,
            id: false,
            room: false,
            liveness: true,
        };
        assert_eq!(checkin_finding(&face, face_only.as_object().unwrap()), None);
    }

    #[test]
    fn an_id_that_did_not_match_the_face_is_noted() {
        let all = CheckinRequirements::default();
        let of = |v: Value| identity_finding(&all, v.as_object().unwrap());
        let same = json!({"identity": {"same_person": true, "similarity": 0.7, "attempts": 1}});
        assert_eq!(of(same.clone()), None);
        let (kind, detail) = of(json!({"identity": {"same_person": false, "similarity": 0.12, "id_face_found": true, "attempts": 2}})).unwrap();
        assert_eq!(kind, "identity_unverified");
        assert_eq!(detail["similarity"], 0.12);
        assert_eq!(detail["attempts"], 2);
        let (_, detail) = of(json!({"face_photo": "ab"})).unwrap();
        assert!(detail["problem"]
            .as_str()
            .unwrap()
            .contains("did not compare"));
        // A hostile client's odd values are noted, never trusted.
        assert!(of(json!({"identity": {"same_person": "yes"}})).is_some());
        assert!(of(json!({"identity": 5})).is_some());
        let face_only = CheckinRequirements {
            face: true,
            id: false,
            room: true,
            liveness: true,
        };
        assert_eq!(
            identity_finding(&face_only, json!({}).as_object().unwrap()),
            None
        );
    }

    #[test]
    fn a_check_in_without_a_passed_head_turn_is_noted() {
        let all = CheckinRequirements::default();
        let of = |v: Value| liveness_finding(&all, v.as_object().unwrap());
        assert_eq!(
            of(json!({"liveness": {"passed": true, "attempts": 2}})),
            None
        );
        let (kind, detail) = of(json!({"liveness": {"passed": false, "attempts": 3, "failure": "the head did not turn"}})).unwrap();
        assert_eq!(kind, "liveness_unverified");
        assert_eq!(detail["attempts"], 3);
        let (_, detail) = of(json!({"face_photo": "ab"})).unwrap();
        assert!(detail["problem"].as_str().unwrap().contains("did not run"));
        // Odd values from a hostile client are noted, never trusted.
        assert!(of(json!({"liveness": {"passed": "yes"}})).is_some());
        assert!(of(json!({"liveness": []})).is_some());
        // Not asked for: an exam without it, or without a face photo.
        for requires in [
            CheckinRequirements {
                liveness: false,
                ..all
            },
            CheckinRequirements { face: false, ..all },
        ] {
            assert_eq!(
                liveness_finding(&requires, json!({}).as_object().unwrap()),
                None
            );
        }
    }
}
