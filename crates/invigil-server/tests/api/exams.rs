//! Exams, enrolment and launch codes (issue 13): admins define exams and
//! enrol candidates; a session starts only with a valid, unused code inside
//! the exam's window, and runs the exam's policy; a client that runs
//! another policy is flagged.

use invigil_core::chain::Chain;
use invigil_core::{Event, EventKind, EVENT_SCHEMA_VERSION};
use serde_json::{json, Value};

use crate::common::{token, unique, Db, TestServer};

async fn closed(db: Db) -> Option<TestServer> {
    TestServer::start_with(db, |c| c.open_enrolment = false).await
}

fn now_ms() -> i64 {
    invigil_server::now_ms()
}

async fn send(
    s: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut req = s
        .http
        .request(method.parse().unwrap(), s.url(path))
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn exam_body(id: &str, opens_ms: i64, closes_ms: i64) -> Value {
    json!({
        "id": id,
        "title": "Biology 101 final",
        "opens_ms": opens_ms,
        "closes_ms": closes_ms,
        "policy": {"absence_warn_s": 3.0, "absence_flag_s": 8.0},
        "checkin": {"face": true, "id": false, "room": true},
        "aids": {"scratch_paper": true, "breaks": {"count": 1, "minutes": 5.0, "clock": "paused"}}
    })
}

async fn roster(s: &TestServer, admin: &str, exam: &str, csv: &str) -> (u16, Value) {
    let r = s
        .http
        .post(s.url(&format!("/api/v1/exams/{exam}/roster")))
        .bearer_auth(admin)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn start_body(code: &str, session_id: &str, token: &str) -> Value {
    json!({"launch_code": code, "session_id": session_id, "token": token})
}

fn code_of(issued: &Value, candidate: &str) -> String {
    issued["codes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["candidate_id"] == candidate)
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn lifecycle(s: TestServer) {
    // Names of their own: the PostgreSQL database is shared by tests
    // running at once, and a new password signs an account out.
    let admin_name = unique("admin");
    let admin = s.admin(&admin_name).await;
    let proctor = s.proctor(&unique("reader")).await;
    let exam = unique("bio");
    let now = now_ms();

    // Roles: a proctor reads, only an admin writes.
    let (status, v) = send(
        &s,
        "POST",
        "/api/v1/exams",
        Some(&proctor),
        exam_body(&exam, now - 60_000, now + 3_600_000),
    )
    .await;
    assert_eq!(status, 403, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("admin"),
        "{v}"
    );
    assert_eq!(
        send(&s, "POST", "/api/v1/exams", None, exam_body(&exam, 0, 1))
            .await
            .0,
        401
    );

    // Checked as a policy file is.
    let mut bad = exam_body(&exam, now - 60_000, now + 3_600_000);
    bad["policy"]["absence_flag_z"] = json!(1);
    let (status, v) = send(&s, "POST", "/api/v1/exams", Some(&admin), bad).await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("policy")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("absence_flag_z"),
        "{v}"
    );
    let mut bad = exam_body(&exam, now, now - 1);
    bad["title"] = json!("t");
    assert_eq!(
        send(&s, "POST", "/api/v1/exams", Some(&admin), bad).await.1["error"]["field"],
        "closes_ms"
    );

    let (status, created) = send(
        &s,
        "POST",
        "/api/v1/exams",
        Some(&admin),
        exam_body(&exam, now - 60_000, now + 3_600_000),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["created_by"], admin_name.as_str());
    assert_eq!(created["aids"]["breaks"]["count"], 1);
    assert_eq!(created["checkin"]["id"], false);
    assert_eq!(
        send(
            &s,
            "POST",
            "/api/v1/exams",
            Some(&admin),
            exam_body(&exam, 0, 1_000)
        )
        .await
        .0,
        409
    );
    let (status, one) = send(
        &s,
        "GET",
        &format!("/api/v1/exams/{exam}"),
        Some(&proctor),
        Value::Null,
    )
    .await;
    assert_eq!((status, &one["title"]), (200, &json!("Biology 101 final")));
    let (_, list) = send(&s, "GET", "/api/v1/exams", Some(&proctor), Value::Null).await;
    assert!(list["exams"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["id"] == exam.as_str()));

    // A roster: quoted names, a header, all or none.
    let csv = "candidate_id,name,email\nc-1,\"Smith, Jane\",jane@example.org\nc-2,Ola Nordmann,ola@example.org\nc-3,,\n";
    let (status, _) = roster(&s, &proctor, &exam, csv).await;
    assert_eq!(status, 403);
    let (status, issued) = roster(&s, &admin, &exam, csv).await;
    assert_eq!(status, 201, "{issued}");
    let codes: Vec<String> = issued["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 3);
    for c in &codes {
        assert_eq!(c.len(), 19, "{c}");
        assert!(
            c.chars()
                .all(|ch| ch == '-' || "23456789ABCDEFGHJKLMNPQRSTUVWXYZ".contains(ch)),
            "{c}"
        );
    }
    assert_eq!(issued["codes"][0]["name"], "Smith, Jane");
    let (status, v) = roster(&s, &admin, &exam, "c-3,again,\nc-9,New,\n").await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("already_enrolled")),
        "{v}"
    );
    let (status, v) = roster(&s, &admin, &exam, "c-8,x,not-mail\n").await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("roster line 1.email")),
        "{v}"
    );
    let (_, e) = send(
        &s,
        "GET",
        &format!("/api/v1/exams/{exam}"),
        Some(&admin),
        Value::Null,
    )
    .await;
    assert_eq!(e["enrolled"], 3, "nothing half-enrolled");

    // One by one, with an accommodation; an accommodation that makes no
    // valid policy is refused.
    let (status, v) = send(
        &s,
        "POST",
        &format!("/api/v1/exams/{exam}/enrolments"),
        Some(&admin),
        json!({"candidates": [{"candidate_id": "c-4", "overrides": {"absence_flag_s": 1.0}}]}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("candidates[0].overrides")),
        "{v}"
    );
    let (status, one) = send(&s, "POST", &format!("/api/v1/exams/{exam}/enrolments"), Some(&admin),
        json!({"candidates": [{"candidate_id": "c-4", "name": "Medical need", "overrides": {"absence_flag_s": 30.0}}]})).await;
    assert_eq!(status, 201, "{one}");

    // No code, a wrong code, a malformed one.
    let (status, v) = send(
        &s,
        "POST",
        "/api/v1/sessions",
        None,
        json!({"exam_id": exam, "candidate_id": "c-1"}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("launch_code_required")),
        "{v}"
    );
    let wrong = "2222-3333-4444-5555";
    let (status, v) = send(
        &s,
        "POST",
        "/api/v1/sessions",
        None,
        json!({"launch_code": wrong}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("bad_launch_code")),
        "{v}"
    );
    // One letter off a real code: the same answer, nothing about which part.
    let mut near: Vec<char> = codes[0].chars().collect();
    near[18] = if near[18] == 'Z' { 'Y' } else { 'Z' };
    let near: String = near.into_iter().collect();
    let (status, v2) = send(
        &s,
        "POST",
        "/api/v1/sessions",
        None,
        json!({"launch_code": near}),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(v2, v, "a near miss reads exactly as a wrong code");
    let (status, v) = send(
        &s,
        "POST",
        "/api/v1/sessions",
        None,
        json!({"launch_code": "ABC"}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("launch_code")),
        "{v}"
    );

    // A good code, typed loosely: the exam's policy, not the client's.
    let sid = unique("sess");
    let tok = token();
    let typed = code_of(&issued, "c-1").to_lowercase().replace('-', " ");
    let mut body = start_body(&typed, &sid, &tok);
    body["policy"] = json!({"absence_flag_s": 100000.0, "absence_warn_s": 3.0});
    let (status, c) = send(&s, "POST", "/api/v1/sessions", None, body.clone()).await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["exam_id"], exam.as_str());
    assert_eq!(c["candidate_id"], "c-1");
    assert_eq!(c["policy"]["absence_flag_s"], 8.0);
    assert_eq!(
        c["policy"]["blocked_flag_s"], 3.0,
        "every key, defaults included"
    );
    assert_eq!(
        c["exam"]["checkin"],
        json!({"face": true, "id": false, "room": true, "liveness": true}),
        "an exam made before the head-turn check asks for it with the face photo"
    );
    assert_eq!(c["exam"]["aids"]["scratch_paper"], true);
    // Repeated by the same client (a lost reply): the same session.
    let (status, again) = send(&s, "POST", "/api/v1/sessions", None, body).await;
    assert_eq!((status, &again["session_id"]), (200, &json!(sid)));
    // Anyone else: used.
    let (status, v) = send(
        &s,
        "POST",
        "/api/v1/sessions",
        None,
        start_body(&code_of(&issued, "c-1"), &unique("sess"), &token()),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("launch_code_used")),
        "{v}"
    );
    // The client asked for a weaker policy at creation: flagged.
    let (_, t) = send(
        &s,
        "GET",
        &format!("/api/v1/sessions/{sid}/timeline"),
        Some(&proctor),
        Value::Null,
    )
    .await;
    let note = t["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "policy_mismatch")
        .expect("a policy_mismatch note");
    assert_eq!(
        note["detail"]["differences"]["absence_flag_s"],
        json!({"session": 8.0, "client": 100000.0})
    );
    assert!(
        t["session"]["priority"].as_f64().unwrap() > 0.0,
        "{}",
        t["session"]
    );

    // The accommodated candidate runs 30 s, and proctors see why.
    let sid4 = unique("sess");
    let (status, c4) = send(
        &s,
        "POST",
        "/api/v1/sessions",
        None,
        start_body(&code_of(&one, "c-4"), &sid4, &token()),
    )
    .await;
    assert_eq!(status, 201, "{c4}");
    assert_eq!(c4["policy"]["absence_flag_s"], 30.0);
    assert_eq!(
        c4["exam"]["accommodations"],
        json!({"absence_flag_s": 30.0})
    );
    let (_, t4) = send(
        &s,
        "GET",
        &format!("/api/v1/sessions/{sid4}/timeline"),
        Some(&proctor),
        Value::Null,
    )
    .await;
    let note = t4["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "accommodations")
        .expect("an accommodations note");
    assert_eq!(note["detail"]["overrides"], json!({"absence_flag_s": 30.0}));
    assert_eq!(
        t4["session"]["accommodations"],
        json!({"absence_flag_s": 30.0})
    );
    assert!(t4["notes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["kind"] != "policy_mismatch"));

    // Started: the exam and that candidate's accommodations are fixed.
    let (status, v) = send(
        &s,
        "PUT",
        &format!("/api/v1/exams/{exam}"),
        Some(&admin),
        exam_body(&exam, now, now + 1_000),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("exam_started")),
        "{v}"
    );
    let (status, _) = send(
        &s,
        "PUT",
        &format!("/api/v1/exams/{exam}/enrolments/c-4"),
        Some(&admin),
        json!({"overrides": {}, "reason": "x"}),
    )
    .await;
    assert_eq!(status, 409);
    // Not started: they change, with the reason in the audit trail.
    let (status, e2) = send(
        &s,
        "PUT",
        &format!("/api/v1/exams/{exam}/enrolments/c-2"),
        Some(&admin),
        json!({"overrides": {"absence_flag_s": 20.0}, "reason": "medical, ref 114"}),
    )
    .await;
    assert_eq!(
        (status, &e2["overrides"]["absence_flag_s"]),
        (200, &json!(20.0)),
        "{e2}"
    );
    let audit: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, detail FROM exam_audit WHERE exam_id = $1 ORDER BY at_ms, id",
    )
    .bind(&exam)
    .fetch_all(&s.server.state().db().pool)
    .await
    .unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.0.as_str()).collect();
    assert!(
        actions.starts_with(&["created", "enrolled", "enrolled"]),
        "{actions:?}"
    );
    assert!(audit
        .iter()
        .any(|(a, d)| a == "accommodations" && d.contains("medical, ref 114")));

    // Reissued codes: the old one stops working, the new one starts.
    let (status, v) = send(
        &s,
        "POST",
        &format!("/api/v1/exams/{exam}/codes"),
        Some(&admin),
        json!({"candidates": ["c-1"]}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("launch_code_used")),
        "{v}"
    );
    let (status, re) = send(
        &s,
        "POST",
        &format!("/api/v1/exams/{exam}/codes"),
        Some(&admin),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{re}");
    let who: Vec<&str> = re["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["candidate_id"].as_str().unwrap())
        .collect();
    assert_eq!(who, ["c-2", "c-3"], "every unused code, none used");
    let (status, _) = send(
        &s,
        "POST",
        "/api/v1/sessions",
        None,
        start_body(&code_of(&issued, "c-2"), &unique("sess"), &token()),
    )
    .await;
    assert_eq!(status, 401, "the replaced code");
    let (status, c2) = send(
        &s,
        "POST",
        "/api/v1/sessions",
        None,
        start_body(&code_of(&re, "c-2"), &unique("sess"), &token()),
    )
    .await;
    assert_eq!(status, 201, "{c2}");
    assert_eq!(c2["policy"]["absence_flag_s"], 20.0);

    // The enrolments say who started.
    let (_, list) = send(
        &s,
        "GET",
        &format!("/api/v1/exams/{exam}/enrolments"),
        Some(&proctor),
        Value::Null,
    )
    .await;
    let started: Vec<&str> = list["enrolments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["session_id"].is_null())
        .map(|e| e["candidate_id"].as_str().unwrap())
        .collect();
    assert_eq!(started, ["c-1", "c-2", "c-4"]);
    assert!(
        !list.to_string().contains(&codes[2]),
        "codes are never listed"
    );

    // An exam nobody has started changes.
    let other = unique("chem");
    assert_eq!(
        send(
            &s,
            "POST",
            "/api/v1/exams",
            Some(&admin),
            exam_body(&other, now, now + 60_000)
        )
        .await
        .0,
        201
    );
    let mut changed = exam_body(&other, now, now + 120_000);
    changed["title"] = json!("Chemistry, rescheduled");
    let (status, v) = send(
        &s,
        "PUT",
        &format!("/api/v1/exams/{other}"),
        Some(&admin),
        changed,
    )
    .await;
    assert_eq!(
        (status, &v["title"]),
        (200, &json!("Chemistry, rescheduled")),
        "{v}"
    );
    assert_eq!(v["closes_ms"], now + 120_000);
}

async fn windows(s: TestServer) {
    let admin = s.admin(&unique("admin")).await;
    let now = now_ms();
    for (exam, opens, closes, code) in [
        (
            unique("later"),
            now + 3 * 3_600_000,
            now + 4 * 3_600_000,
            "exam_not_open",
        ),
        (
            unique("past"),
            now - 2 * 3_600_000,
            now - 3_600_000,
            "exam_closed",
        ),
    ] {
        let (status, v) = send(
            &s,
            "POST",
            "/api/v1/exams",
            Some(&admin),
            exam_body(&exam, opens, closes),
        )
        .await;
        assert_eq!(status, 201, "{v}");
        let (_, issued) = send(
            &s,
            "POST",
            &format!("/api/v1/exams/{exam}/enrolments"),
            Some(&admin),
            json!({"candidates": [{"candidate_id": "c-1"}]}),
        )
        .await;
        let (status, v) = send(
            &s,
            "POST",
            "/api/v1/sessions",
            None,
            start_body(&code_of(&issued, "c-1"), &unique("sess"), &token()),
        )
        .await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (403, Some(code)),
            "{v}"
        );
        if code == "exam_not_open" {
            assert!(
                v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("opens in 3 h"),
                "{v}"
            );
        }
        // Refused, not spent: the code still works in the window.
        let (_, e) = send(
            &s,
            "GET",
            &format!("/api/v1/exams/{exam}/enrolments"),
            Some(&admin),
            Value::Null,
        )
        .await;
        assert!(e["enrolments"][0]["session_id"].is_null());
    }
}

/// A `session_started` carrying `policy` (as a client's engine emits it).
fn started(session_id: &str, policy: Value) -> Vec<Event> {
    let mut chain = Chain::new(session_id);
    let mut e = Event {
        v: EVENT_SCHEMA_VERSION,
        seq: 0,
        t_ms: 0,
        kind: EventKind::SessionStarted,
        severity: EventKind::SessionStarted.severity(),
        data: json!({"schema": EVENT_SCHEMA_VERSION, "policy": policy})
            .as_object()
            .unwrap()
            .clone(),
        prev: None,
    };
    chain.link(&mut e);
    vec![e]
}

async fn lying_clients(s: TestServer) {
    let admin = s.admin(&unique("admin")).await;
    let proctor = s.proctor(&unique("reader")).await;
    let exam = unique("law");
    let now = now_ms();
    assert_eq!(
        send(
            &s,
            "POST",
            "/api/v1/exams",
            Some(&admin),
            exam_body(&exam, now - 1_000, now + 3_600_000)
        )
        .await
        .0,
        201
    );
    let (_, issued) = send(
        &s,
        "POST",
        &format!("/api/v1/exams/{exam}/enrolments"),
        Some(&admin),
        json!({"candidates": [{"candidate_id": "honest"}, {"candidate_id": "liar"}]}),
    )
    .await;

    // Proctors listening.
    let stream = s
        .http
        .get(s.url("/api/v1/alerts"))
        .bearer_auth(&proctor)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut stream = stream.bytes_stream();

    let mut sessions = Vec::new();
    for who in ["honest", "liar"] {
        let sid = unique("sess");
        let tok = token();
        let (status, c) = send(
            &s,
            "POST",
            "/api/v1/sessions",
            None,
            start_body(&code_of(&issued, who), &sid, &tok),
        )
        .await;
        assert_eq!(status, 201, "{c}");
        let mut policy = c["policy"].clone();
        if who == "liar" {
            policy["absence_flag_s"] = json!(100000.0);
            policy["multiple_faces_flag_s"] = json!(3600.0);
        }
        let (status, v) = send(
            &s,
            "POST",
            &format!("/api/v1/sessions/{sid}/events"),
            Some(&tok),
            json!({"events": started(&sid, policy)}),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        sessions.push(sid);
    }
    let (_, honest) = send(
        &s,
        "GET",
        &format!("/api/v1/sessions/{}/timeline", sessions[0]),
        Some(&proctor),
        Value::Null,
    )
    .await;
    assert!(
        honest["notes"].as_array().unwrap().is_empty(),
        "{}",
        honest["notes"]
    );
    assert_eq!(honest["session"]["priority"], 0.0);
    let (_, liar) = send(
        &s,
        "GET",
        &format!("/api/v1/sessions/{}/timeline", sessions[1]),
        Some(&proctor),
        Value::Null,
    )
    .await;
    let note = &liar["notes"][0];
    assert_eq!(note["kind"], "policy_mismatch", "{liar}");
    assert_eq!(note["detail"]["at"], "session_started");
    assert_eq!(
        note["detail"]["differences"]["absence_flag_s"]["client"],
        100000.0
    );
    assert_eq!(
        note["detail"]["differences"]["multiple_faces_flag_s"]["session"],
        1.0
    );
    assert!(
        liar["session"]["priority"].as_f64().unwrap() > 40.0,
        "{}",
        liar["session"]
    );

    // The alert reached the console, as a `note` event (this session's:
    // on PostgreSQL every server relays every session's notes, and other
    // tests share the database).
    let ours = |text: &str| {
        crate::common::sse_data(text, "note")
            .into_iter()
            .find(|a| a["session_id"] == sessions[1].as_str())
    };
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    crate::common::read_sse_until(&mut stream, &mut text, deadline, "a note alert", |t| {
        ours(t).is_some()
    })
    .await;
    let alert = ours(&text).unwrap();
    assert_eq!(alert["session_id"], sessions[1].as_str());
    assert_eq!(alert["candidate_id"], "liar");
    assert_eq!(alert["note"]["kind"], "policy_mismatch");
}

/// A chain of events of these kinds and data, from `session_started`.
fn chained(session_id: &str, events: &[(EventKind, Value)]) -> Vec<Event> {
    let mut chain = Chain::new(session_id);
    events
        .iter()
        .enumerate()
        .map(|(i, (kind, data))| {
            let mut e = Event {
                v: EVENT_SCHEMA_VERSION,
                seq: i as u64,
                t_ms: i as u64 * 1000,
                kind: *kind,
                severity: kind.severity(),
                data: data.as_object().unwrap().clone(),
                prev: None,
            };
            chain.link(&mut e);
            e
        })
        .collect()
}

/// The exam allows one 5-minute break and asks for a face photo (with the
/// head-turn check) and a room scan: a client that keeps to that is not
/// flagged; one that takes more or longer breaks, or skips or trims the
/// check-in, is.
async fn breaks_and_checkin(s: TestServer) {
    use EventKind::*;
    let admin = s.admin(&unique("admin")).await;
    let proctor = s.proctor(&unique("reader")).await;
    let exam = unique("chem");
    let now = now_ms();
    let (status, _) = send(
        &s,
        "POST",
        "/api/v1/exams",
        Some(&admin),
        exam_body(&exam, now - 1_000, now + 3_600_000),
    )
    .await;
    assert_eq!(status, 201);
    let (_, issued) = send(
        &s,
        "POST",
        &format!("/api/v1/exams/{exam}/enrolments"),
        Some(&admin),
        json!({"candidates": [{"candidate_id": "keeps"}, {"candidate_id": "skips"}, {"candidate_id": "trims"}]}),
    )
    .await;
    let checkin_full = json!({
        "face_photo": "aa",
        "room_scan": [{"side": "front", "sha256": "bb"}],
        "liveness": {"passed": true, "attempts": 1},
    });
    let brk = |n: u64, max_s: f64| {
        (
            BreakStarted,
            json!({"number": n, "max_s": max_s, "clock": "paused"}),
        )
    };
    let ended = (SessionEnded, json!({"reason": "stopped"}));
    let plans: Vec<(&str, Vec<(EventKind, Value)>)> = vec![
        (
            "keeps",
            vec![
                (CheckinCompleted, checkin_full.clone()),
                brk(1, 300.0),
                (BreakEnded, json!({"number": 1})),
                ended.clone(),
            ],
        ),
        (
            // No check-in; a second break numbered as the first; a long one.
            "skips",
            vec![
                brk(1, 300.0),
                (BreakEnded, json!({"number": 1})),
                brk(1, 300.0),
                (BreakEnded, json!({"number": 1})),
                ended.clone(),
            ],
        ),
        (
            "trims",
            vec![
                (
                    CheckinCompleted,
                    json!({"face_photo": "aa", "room_scan": []}),
                ),
                brk(1, 3000.0),
                ended,
            ],
        ),
    ];
    let mut notes = Vec::new();
    for (who, plan) in plans {
        let sid = unique("sess");
        let tok = token();
        let (status, c) = send(
            &s,
            "POST",
            "/api/v1/sessions",
            None,
            start_body(&code_of(&issued, who), &sid, &tok),
        )
        .await;
        assert_eq!(status, 201, "{c}");
        let mut all = vec![(
            SessionStarted,
            json!({"schema": EVENT_SCHEMA_VERSION, "policy": c["policy"]}),
        )];
        all.extend(plan);
        let events = chained(&sid, &all);
        // One event per batch, as a slow link would deliver them.
        for e in events {
            let (status, v) = send(
                &s,
                "POST",
                &format!("/api/v1/sessions/{sid}/events"),
                Some(&tok),
                json!({ "events": [e] }),
            )
            .await;
            assert_eq!(status, 200, "{v}");
        }
        let (_, tl) = send(
            &s,
            "GET",
            &format!("/api/v1/sessions/{sid}/timeline"),
            Some(&proctor),
            Value::Null,
        )
        .await;
        let kinds: Vec<String> = tl["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["kind"].as_str().unwrap().to_owned())
            .collect();
        notes.push((who, kinds, tl));
    }
    let (_, keeps, tl) = &notes[0];
    assert!(keeps.is_empty(), "{}", tl["notes"]);
    assert_eq!(tl["session"]["priority"], 0.0);
    let (_, skips, tl) = &notes[1];
    assert_eq!(
        skips,
        &["break_not_allowed", "checkin_missing"],
        "{}",
        tl["notes"]
    );
    assert!(tl["notes"][0]["detail"]["problem"]
        .as_str()
        .unwrap()
        .contains("break 2 of an exam that allows 1"));
    assert!(tl["session"]["priority"].as_f64().unwrap() > 40.0);
    let (_, trims, tl) = &notes[2];
    assert_eq!(
        trims,
        &[
            "checkin_incomplete",
            "liveness_unverified",
            "break_not_allowed"
        ],
        "{}",
        tl["notes"]
    );
    assert_eq!(tl["notes"][0]["detail"]["missing"], json!(["room_scan"]));
    assert!(tl["notes"][1]["detail"]["problem"]
        .as_str()
        .unwrap()
        .contains("did not run the head-turn check"));
}

fn ticket_of(issued: &Value, candidate: &str) -> String {
    issued["codes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["candidate_id"] == candidate)
        .unwrap()["ticket"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The session id a ticket sets aside.
fn ticket_session(ticket: &str) -> String {
    invigil_core::protocol::OfflineTicket::read(ticket)
        .unwrap()
        .ticket
        .session_id
}

fn ticket_body(code: &str, ticket: &str, session_id: &str, token: &str) -> Value {
    json!({"launch_code": code, "ticket": ticket, "session_id": session_id, "token": token})
}

async fn notes_of(s: &TestServer, reader: &str, session_id: &str) -> Value {
    let (status, tl) = send(
        s,
        "GET",
        &format!("/api/v1/sessions/{session_id}/timeline"),
        Some(reader),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{tl}");
    tl
}

/// A launch link's offline ticket (issue 13, part 2): a client that began
/// before it reached the server redeems its code late, with the ticket the
/// server signed; anything else about the ticket is the one bad-code
/// answer.
async fn offline_tickets(s: TestServer) {
    let admin = s.admin(&unique("admin")).await;
    let hour = 3_600_000;
    let now = now_ms();
    let mut exams = Vec::new();
    for (name, opens, closes) in [
        ("closed", now - 2 * hour, now - hour),
        ("long-closed", now - 80 * hour, now - 73 * hour),
        ("open", now - hour, now + hour),
    ] {
        let exam = unique(name);
        let (status, v) = send(
            &s,
            "POST",
            "/api/v1/exams",
            Some(&admin),
            exam_body(&exam, opens, closes),
        )
        .await;
        assert_eq!(status, 201, "{v}");
        let (status, issued) = send(
            &s,
            "POST",
            &format!("/api/v1/exams/{exam}/enrolments"),
            Some(&admin),
            json!({"candidates": [{"candidate_id": "c-1"}, {"candidate_id": "c-2"}]}),
        )
        .await;
        assert_eq!(status, 201, "{issued}");
        exams.push((exam, issued));
    }
    let start = |body: Value| send(&s, "POST", "/api/v1/sessions", None, body);
    let bad = |(status, v): (u16, Value)| {
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (401, Some("bad_launch_code")),
            "{v}"
        );
    };

    // The exam closed an hour ago: the code alone no longer works ...
    let (_, issued) = &exams[0];
    let (code1, ticket1) = (code_of(issued, "c-1"), ticket_of(issued, "c-1"));
    let (code2, ticket2) = (code_of(issued, "c-2"), ticket_of(issued, "c-2"));
    let sid1 = ticket_session(&ticket1);
    let (status, v) = start(start_body(&code1, &sid1, &token())).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (403, Some("exam_closed")),
        "{v}"
    );
    // ... and a ticket is checked: another candidate's, another session
    // id, a policy changed under the signature, a ticket without its code.
    bad(start(ticket_body(&code2, &ticket1, &sid1, &token())).await);
    bad(start(ticket_body(&code1, &ticket1, &unique("sess"), &token())).await);
    let mut forged = invigil_core::protocol::OfflineTicket::read(&ticket1)
        .unwrap()
        .ticket;
    forged
        .policy
        .insert("absence_flag_s".into(), json!(100000.0));
    let signature = ticket1.rsplit('.').next().unwrap();
    let forged = forged.seal(|_| vec![0; 64]);
    let forged = format!("{}.{signature}", forged.rsplit_once('.').unwrap().0);
    bad(start(ticket_body(&code1, &forged, &sid1, &token())).await);
    bad(start(ticket_body(&code1, "v1.garbage.x", &sid1, &token())).await);
    let (status, v) = start(json!({"ticket": ticket1, "session_id": sid1, "token": token()})).await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("ticket")),
        "{v}"
    );

    // The client that began offline with its own ticket is taken, runs the
    // signed policy, and proctors are told the server heard of it late.
    let tok = token();
    let (status, created) = start(ticket_body(&code1, &ticket1, &sid1, &tok)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["session_id"], sid1.as_str());
    let signed = invigil_core::protocol::OfflineTicket::read(&ticket1)
        .unwrap()
        .ticket;
    assert_eq!(created["policy"], Value::Object(signed.policy.clone()));
    // The same client again (a lost reply): the same session.
    let (status, again) = start(ticket_body(&code1, &ticket1, &sid1, &tok)).await;
    assert_eq!(
        (status, &again["session_id"]),
        (200, &json!(sid1)),
        "{again}"
    );
    let tl = notes_of(&s, &admin, &sid1).await;
    let kinds: Vec<&str> = tl["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["started_offline", "closed_before_contact"], "{tl}");
    assert_eq!(tl["notes"][0]["detail"]["after_close"], true);
    assert!(tl["notes"][0]["detail"]["outdated"].is_null());
    assert!(
        tl["session"]["priority"].as_f64().unwrap() > 0.0,
        "{}",
        tl["session"]
    );
    // Its ticket does not start a second session for the other code.
    bad(start(ticket_body(&code2, &ticket1, &sid1, &token())).await);
    let sid2 = ticket_session(&ticket2);
    assert_eq!(
        start(ticket_body(&code2, &ticket2, &sid2, &token()))
            .await
            .0,
        201
    );

    // Past the grace (72 h after the close) not even a ticket is taken.
    let (_, issued) = &exams[1];
    let ticket = ticket_of(issued, "c-1");
    let (status, v) = start(ticket_body(
        &code_of(issued, "c-1"),
        &ticket,
        &ticket_session(&ticket),
        &token(),
    ))
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (403, Some("exam_closed")),
        "{v}"
    );

    // An accommodation given after the link went out: the session runs the
    // link's policy (what the candidate's client ran), the proctors see
    // that it is outdated, and the client is not flagged for running it.
    let (exam_open, issued) = &exams[2];
    let ticket = ticket_of(issued, "c-1");
    let sid = ticket_session(&ticket);
    let (status, v) = send(
        &s,
        "PUT",
        &format!("/api/v1/exams/{exam_open}/enrolments/c-1"),
        Some(&admin),
        json!({"overrides": {"absence_flag_s": 30.0}, "reason": "medical"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let tok = token();
    let (status, created) = start(ticket_body(&code_of(issued, "c-1"), &ticket, &sid, &tok)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["policy"]["absence_flag_s"], 8.0);
    let (status, v) = send(
        &s,
        "POST",
        &format!("/api/v1/sessions/{sid}/events"),
        Some(&tok),
        json!({"events": started(&sid, created["policy"].clone())}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let tl = notes_of(&s, &admin, &sid).await;
    let kinds: Vec<&str> = tl["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["started_offline"], "{tl}");
    let note = &tl["notes"][0]["detail"];
    assert_eq!(note["after_close"], false);
    assert_eq!(note["outdated"]["absence_flag_s"]["now"], 30.0, "{note}");
    assert_eq!(note["outdated"]["absence_flag_s"]["link"], 8.0, "{note}");
}

macro_rules! on_both {
    ($($name:ident => $body:ident;)*) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(s) = super::closed(crate::common::Db::Sqlite).await {
                        super::$body(s).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(s) = super::closed(crate::common::Db::Postgres).await {
                        super::$body(s).await;
                    }
                }
            )*
        }
    };
}

on_both! {
    exams_enrolments_and_launch_codes => lifecycle;
    launch_codes_work_only_inside_the_window => windows;
    a_client_running_another_policy_is_flagged => lying_clients;
    breaks_and_checkins_are_held_to_the_exam => breaks_and_checkin;
    offline_tickets_start_before_the_server_is_reached => offline_tickets;
}
