//! Media, live alerts, and repeatable session creation.

use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::both_databases;
use crate::common::{self, chained, TestServer};
use crate::hex_sha;

both_databases! {
    media_round_trip => media_round_trip;
    alerts_reach_connected_proctors => alerts_reach_connected_proctors;
    session_creation_is_repeatable => session_creation_is_repeatable;
}

async fn media_round_trip(s: TestServer) {
    let proctor = s.proctor("dave").await;
    let (id, token) = s.session("exam-1", "media").await;
    let body = common::mp4(
        &(0..300_000u32)
            .map(|i| (i * 7 % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    let sha = hex_sha(&body);
    let put = || {
        s.http
            .put(s.url(&format!(
                "/api/v1/sessions/{id}/media/{sha}?name=clip-3.mp4&kind=clip"
            )))
            .bearer_auth(&token)
            .header("content-type", "video/mp4")
            .body(body.clone())
            .send()
    };
    assert_eq!(put().await.unwrap().status(), 201);
    assert_eq!(
        put().await.unwrap().status(),
        200,
        "re-upload is idempotent"
    );
    let r = s
        .http
        .get(s.url(&format!("/api/v1/sessions/{id}/media/{sha}")))
        .bearer_auth(&proctor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert_eq!(r.bytes().await.unwrap().as_ref(), body.as_slice());
    let timeline = s.timeline(&id, &proctor).await;
    assert_eq!(timeline["media"][0]["sha256"], sha);
    assert_eq!(timeline["media"][0]["kind"], "clip");
    assert_eq!(timeline["media"].as_array().unwrap().len(), 1);

    // Too large for the media limit: 413.
    let small = TestServer::start_with(common::Db::Sqlite, |c| c.max_media_bytes = 1000)
        .await
        .unwrap();
    let (id2, token2) = small.session("exam-1", "media").await;
    let r = small
        .http
        .put(small.url(&format!("/api/v1/sessions/{id2}/media/{sha}?name=big.bin")))
        .bearer_auth(&token2)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

async fn alerts_reach_connected_proctors(s: TestServer) {
    let proctor = s.proctor("erin").await;
    let (id, token) = s.session("exam-7", "cand-7").await;
    let r = s
        .http
        .get(s.url("/api/v1/alerts"))
        .bearer_auth(&proctor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut stream = r.bytes_stream();
    let events = chained(&id, 4); // started, warning, violation, returned
    assert_eq!(s.append(&id, &token, &events).await.0, 200);
    // On PostgreSQL every server relays every session's alerts, and other
    // tests share the database: this session's only.
    let ours = |text: &str| -> Vec<Value> {
        text.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter(|a| a["session_id"] == id.as_str())
            .collect()
    };
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    common::read_sse_until(&mut stream, &mut text, deadline, "2 alerts", |t| {
        ours(t).len() >= 2
    })
    .await;
    let alerts = ours(&text);
    assert_eq!(alerts.len(), 2, "{text}");
    assert_eq!(alerts[0]["event"]["kind"], "absence_warning");
    assert_eq!(alerts[1]["event"]["kind"], "candidate_absent");
    assert_eq!(alerts[1]["session_id"], id);
    assert_eq!(alerts[1]["candidate_id"], "cand-7");
    let first_id = format!(
        "{}:{id}:{}",
        alerts[0]["received_ms"], alerts[0]["event"]["seq"]
    );
    assert!(text.contains(&format!("id: {first_id}\n")), "{text}");
    assert!(text.contains(&format!(":{id}:2\n")), "{text}");

    // A console that reconnects (EventSource sends the last id it saw)
    // gets what it may have missed from the database, then live alerts,
    // none twice.
    let resumed = s
        .http
        .get(s.url("/api/v1/alerts"))
        .bearer_auth(&proctor)
        .header("last-event-id", &first_id)
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    let mut resumed = resumed.bytes_stream();
    let mut again = String::new();
    common::read_sse_until(&mut resumed, &mut again, deadline, "the replay", |t| {
        ours(t).len() >= 2
    })
    .await;
    let replayed = ours(&again);
    assert_eq!(replayed[..2], alerts[..], "{again}");
    // An id that is not one of ours: live alerts only, said so.
    let r = s
        .http
        .get(s.url("/api/v1/alerts"))
        .bearer_auth(&proctor)
        .header("last-event-id", "not an id")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let first = tokio::time::timeout_at(deadline, r.bytes_stream().next())
        .await
        .expect("a first line")
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&first).contains("Last-Event-ID not understood"),
        "{first:?}"
    );

    // Another proctor's decision reaches this stream too.
    let frank = s.proctor("frank").await;
    let (status, _) = s
        .post(
            &format!("/api/v1/sessions/{id}/decisions"),
            Some(&frank),
            r#"{"action": "dismiss", "event_seq": 2, "note": "a poster"}"#,
        )
        .await;
    assert_eq!(status, 201);
    // This session's (on PostgreSQL other tests' decisions are relayed too).
    let ours = |t: &str| {
        common::sse_data(t, "decision")
            .into_iter()
            .find(|d| d["session"]["session_id"] == id.as_str())
    };
    let mut text = String::new();
    common::read_sse_until(&mut stream, &mut text, deadline, "the decision", |t| {
        ours(t).is_some()
    })
    .await;
    let decision = ours(&text).unwrap();
    assert_eq!(decision["decision"]["proctor"], "frank");
    assert_eq!(decision["decision"]["action"], "dismiss");
    assert_eq!(decision["session"]["open_alerts"], 0);
}

async fn session_creation_is_repeatable(s: TestServer) {
    let session_id = "client-chosen-0001";
    let token = format!("ivc_{}", "ab".repeat(32));
    let body =
        json!({"session_id": session_id, "exam_id": "e", "candidate_id": "c", "token": token});
    let r = s
        .http
        .post(s.url("/api/v1/sessions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["chain_origin"], invigil_core::chain::origin(session_id));
    // The same request again (its reply was lost): same answer, 200.
    let r = s
        .http
        .post(s.url("/api/v1/sessions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Someone else claiming the id: 409.
    let other = json!({"session_id": session_id, "exam_id": "e", "candidate_id": "c", "token": format!("ivc_{}", "cd".repeat(32))});
    let r = s
        .http
        .post(s.url("/api/v1/sessions"))
        .json(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "session_exists");
    // Ending: the candidate may end its own session; events stop there.
    let r = s
        .http
        .post(s.url(&format!("/api/v1/sessions/{session_id}/end")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, r) = s.append(session_id, &token, &chained(session_id, 1)).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (409, Some("session_ended"))
    );
}
