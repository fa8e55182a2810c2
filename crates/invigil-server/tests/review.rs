//! Proctors' decisions and the review priority, against a real server on
//! loopback, on SQLite and on PostgreSQL.

mod common;

use common::{chained, TestServer};
use serde_json::{json, Value};

both_databases! {
    decisions_are_audited_and_move_the_priority => decisions_are_audited_and_move_the_priority;
    bad_decisions_are_refused_and_harm_nothing => bad_decisions_are_refused_and_harm_nothing;
    sessions_list_by_attention_and_priority => sessions_list_by_attention_and_priority;
}

async fn summary(s: &TestServer, id: &str, proctor: &str) -> Value {
    let (status, v) = s
        .get(&format!("/api/v1/sessions/{id}"), Some(proctor))
        .await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn decide(s: &TestServer, id: &str, who: &str, body: Value) -> (u16, Value) {
    s.post(
        &format!("/api/v1/sessions/{id}/decisions"),
        Some(who),
        &body.to_string(),
    )
    .await
}

async fn decisions_are_audited_and_move_the_priority(s: TestServer) {
    let alice = s.proctor("alice").await;
    let (id, token) = s.session("exam-r", "cand-r").await;
    // Violations at seq 2, 5 and 8 (candidate_absent), warnings at 1, 4, 7.
    assert_eq!(s.append(&id, &token, &chained(&id, 10)).await.0, 200);
    let start = summary(&s, &id, &alice).await;
    assert_eq!(start["open_alerts"], 3, "{start}");
    let p0 = start["priority"].as_f64().unwrap();
    assert!(p0 > 0.0 && p0 <= 100.0, "{start}");
    // The candidate's requests are seen.
    assert!(start["last_seen_ms"].as_i64().unwrap() > 0, "{start}");

    let (status, r) = decide(
        &s,
        &id,
        &alice,
        json!({"action": "dismiss", "event_seq": 2, "note": "a reflection, not a face"}),
    )
    .await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["decision"]["proctor"], "alice");
    assert_eq!(r["decision"]["note"], "a reflection, not a face");
    assert_eq!(r["session"]["open_alerts"], 2);
    let p1 = r["session"]["priority"].as_f64().unwrap();
    assert!(p1 < p0, "dismissing lowers the priority: {p0} -> {p1}");

    let (status, r) = decide(
        &s,
        &id,
        &alice,
        json!({"action": "confirm", "event_seq": 5}),
    )
    .await;
    assert_eq!(status, 201, "{r}");
    let p2 = r["session"]["priority"].as_f64().unwrap();
    assert!(p2 > p1, "confirming raises it: {p1} -> {p2}");
    let (_, r) = decide(
        &s,
        &id,
        &alice,
        json!({"action": "acknowledge", "event_seq": 8}),
    )
    .await;
    assert_eq!(r["session"]["open_alerts"], 0, "{r}");
    assert_eq!(r["session"]["priority"].as_f64().unwrap(), p2);
    // A change of mind: the latest decision on an event is in force.
    let (_, r) = decide(
        &s,
        &id,
        &alice,
        json!({"action": "confirm", "event_seq": 2}),
    )
    .await;
    assert!(r["session"]["priority"].as_f64().unwrap() > p2, "{r}");

    // Session decisions.
    let (status, r) = decide(
        &s,
        &id,
        &alice,
        json!({"action": "end", "note": "time is up"}),
    )
    .await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["session"]["state"], "ended");
    assert_eq!(r["session"]["end_reason"], "ended_by_proctor");
    let (status, r) = decide(&s, &id, &alice, json!({"action": "end"})).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (409, Some("session_ended"))
    );
    let (status, r) = decide(
        &s,
        &id,
        &alice,
        json!({"action": "invalidate", "note": "someone else answered"}),
    )
    .await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["session"]["verdict"], "invalidated");
    let (status, _) = decide(
        &s,
        &id,
        &alice,
        json!({"action": "invalidate", "note": "again"}),
    )
    .await;
    assert_eq!(status, 409);

    // The audit trail: every decision, in order, with proctor and time.
    let tl = s.timeline(&id, &alice).await;
    let trail: Vec<(String, Value, String)> = tl["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert!(d["at_ms"].as_i64().unwrap() > 0);
            (
                d["action"].as_str().unwrap().to_owned(),
                d["event_seq"].clone(),
                d["proctor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("dismiss", json!(2)),
        ("confirm", json!(5)),
        ("acknowledge", json!(8)),
        ("confirm", json!(2)),
        ("end", Value::Null),
        ("invalidate", Value::Null),
    ];
    assert_eq!(trail.len(), expected.len(), "{trail:?}");
    for ((action, seq, proctor), (want, want_seq)) in trail.iter().zip(expected) {
        assert_eq!(
            (action.as_str(), seq, proctor.as_str()),
            (want, &want_seq, "alice")
        );
    }
    let ended_by = tl["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "session_ended")
        .map(|n| n["actor"].clone());
    assert_eq!(ended_by, Some(json!("proctor:alice")));
}

async fn bad_decisions_are_refused_and_harm_nothing(s: TestServer) {
    let alice = s.proctor("alice").await;
    let (id, token) = s.session("exam-r", "cand-bad").await;
    let (other, other_token) = s.session("exam-r", "cand-other").await;
    assert_eq!(s.append(&id, &token, &chained(&id, 4)).await.0, 200);
    let path = format!("/api/v1/sessions/{id}/decisions");
    let ok = json!({"action": "dismiss", "event_seq": 2}).to_string();

    // Who may decide: proctors only.
    assert_eq!(s.post(&path, None, &ok).await.0, 401);
    assert_eq!(s.post(&path, Some(&token), &ok).await.0, 403);
    assert_eq!(s.post(&path, Some(&other_token), &ok).await.0, 403);
    assert_eq!(s.post(&path, Some("ivp_not-a-token"), &ok).await.0, 401);

    let field = |v: &Value| v["error"]["field"].as_str().map(str::to_owned);
    let cases: [(&str, u16, Option<&str>); 9] = [
        (
            r#"{"action": "delete", "event_seq": 2}"#,
            400,
            Some("action"),
        ),
        (r#"{"action": "dismiss"}"#, 400, Some("event_seq")),
        (
            r#"{"action": "end", "event_seq": 2}"#,
            400,
            Some("event_seq"),
        ),
        (
            r#"{"action": "dismiss", "event_seq": 0}"#,
            400,
            Some("event_seq"),
        ),
        (r#"{"action": "dismiss", "event_seq": 99}"#, 404, None),
        (
            r#"{"action": "dismiss", "event_seq": -1}"#,
            400,
            Some("event_seq"),
        ),
        (
            r#"{"action": "dismiss", "event_seq": 2, "who": "x"}"#,
            400,
            None,
        ),
        (r#"{"action": "invalidate"}"#, 400, Some("note")),
        (r#"{"action": "dismiss", "event_seq": 2"#, 400, None),
    ];
    for (body, status, want) in cases {
        let (got, v) = s.post(&path, Some(&alice), body).await;
        assert_eq!(got, status, "{body}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}: {v}"
        );
        if let Some(f) = want {
            assert_eq!(field(&v).as_deref(), Some(f), "{body}: {v}");
        }
    }
    let long = json!({"action": "dismiss", "event_seq": 2, "note": "x".repeat(2001)});
    let (got, v) = s.post(&path, Some(&alice), &long.to_string()).await;
    assert_eq!((got, field(&v).as_deref()), (400, Some("note")), "{v}");
    let (got, _) = decide(&s, "no-such-session", &alice, json!({"action": "end"})).await;
    assert_eq!(got, 404);

    // Nothing was stored, nothing changed.
    let tl = s.timeline(&id, &alice).await;
    assert_eq!(tl["decisions"], json!([]));
    assert_eq!(tl["session"]["state"], "live");
    assert_eq!(tl["session"]["open_alerts"], 1);
    assert_eq!(s.timeline(&other, &alice).await["decisions"], json!([]));
}

async fn sessions_list_by_attention_and_priority(s: TestServer) {
    let alice = s.proctor("alice").await;
    // PostgreSQL's test database is shared by the tests: an exam of our own.
    let exam = format!("exam-l-{}", invigil_server::auth::new_id());
    let (calm, calm_token) = s.session(&exam, "calm").await;
    let (busy, busy_token) = s.session(&exam, "busy").await;
    let (done, done_token) = s.session(&exam, "reviewed").await;
    assert_eq!(
        s.append(&calm, &calm_token, &chained(&calm, 2)).await.0,
        200
    );
    assert_eq!(
        s.append(&busy, &busy_token, &chained(&busy, 9)).await.0,
        200
    );
    assert_eq!(
        s.append(&done, &done_token, &chained(&done, 12)).await.0,
        200
    );
    for seq in [2, 5, 8, 11] {
        let (status, r) = decide(
            &s,
            &done,
            &alice,
            json!({"action": "acknowledge", "event_seq": seq}),
        )
        .await;
        assert_eq!(status, 201, "{r}");
    }
    let ids = |v: &Value| -> Vec<String> {
        v["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["session_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, by_priority) = s
        .get(
            &format!("/api/v1/sessions?exam={exam}&order=priority"),
            Some(&alice),
        )
        .await;
    assert_eq!(
        ids(&by_priority),
        [done.clone(), busy.clone(), calm.clone()]
    );
    let (_, by_attention) = s
        .get(
            &format!("/api/v1/sessions?exam={exam}&state=live&order=attention"),
            Some(&alice),
        )
        .await;
    assert_eq!(ids(&by_attention), [busy, done, calm]);
    let (status, v) = s.get("/api/v1/sessions?order=risk", Some(&alice)).await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("order")),
        "{v}"
    );
}
