//! Deleting sessions (operator request, retention period) and exporting
//! them, against a real server on loopback, on SQLite and on PostgreSQL.

mod common;

use std::time::Duration;

use common::{chained, TestServer};
use invigil_server::retention::{self, Reason};
use serde_json::json;
use sha2::{Digest, Sha256};

both_databases! {
    a_deleted_session_goes_whole_and_shared_media_stay => a_deleted_session_goes_whole_and_shared_media_stay;
    retention_deletes_only_sessions_inactive_for_longer => retention_deletes_only_sessions_inactive_for_longer;
    an_export_holds_everything_and_checks_the_chain => an_export_holds_everything_and_checks_the_chain;
}

fn hex_sha(body: &[u8]) -> String {
    invigil_core::chain::hex(&Sha256::digest(body))
}

async fn upload(s: &TestServer, id: &str, token: &str, body: &[u8]) -> String {
    let sha = hex_sha(body);
    let r = s
        .http
        .put(s.url(&format!(
            "/api/v1/sessions/{id}/media/{sha}?name=clip.mp4&kind=clip"
        )))
        .bearer_auth(token)
        .header("content-type", "video/mp4")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    sha
}

/// Where the file store keeps a body.
fn stored(s: &TestServer, sha: &str) -> std::path::PathBuf {
    s.dir.path().join("media").join(&sha[..2]).join(sha)
}

async fn a_deleted_session_goes_whole_and_shared_media_stay(s: TestServer) {
    let proctor = s.proctor("erin").await;
    // An exam of its own: PostgreSQL is shared with other tests and runs.
    let exam = format!("exam-del-{}", invigil_server::now_ms());
    let (a, a_token) = s.session(&exam, "cand-a").await;
    let (b, b_token) = s.session(&exam, "cand-b").await;
    assert_eq!(s.append(&a, &a_token, &chained(&a, 6)).await.0, 200);
    assert_eq!(s.append(&b, &b_token, &chained(&b, 4)).await.0, 200);
    // One body in both sessions (unique to this test run), one only in a.
    let shared_body = format!("shared clip of {a} and {b}").repeat(100);
    let shared = upload(&s, &a, &a_token, &common::mp4(shared_body.as_bytes())).await;
    assert_eq!(
        upload(&s, &b, &b_token, &common::mp4(shared_body.as_bytes())).await,
        shared
    );
    let own_body = format!("photo of {a} only").repeat(100);
    let own = upload(&s, &a, &a_token, &common::mp4(own_body.as_bytes())).await;
    let (status, _) = s
        .post(
            &format!("/api/v1/sessions/{a}/decisions"),
            Some(&proctor),
            &json!({"action": "dismiss", "event_seq": 2, "note": "reflection"}).to_string(),
        )
        .await;
    assert_eq!(status, 201);
    let b_before = s.timeline(&b, &proctor).await;
    assert!(stored(&s, &own).is_file() && stored(&s, &shared).is_file());

    let state = s.server.state();
    let found = retention::find(state, &a).await.unwrap().unwrap();
    assert_eq!((found.events, found.media), (6, 2));
    assert_eq!(found.exam_id, exam);
    let purged = retention::purge(state, std::slice::from_ref(&a), Reason::Operator)
        .await
        .unwrap();
    assert_eq!(purged.sessions, 1);
    assert_eq!(purged.events, 6);
    assert_eq!(purged.media, 2);
    assert_eq!(
        purged.bytes,
        (common::mp4(shared_body.as_bytes()).len() + common::mp4(own_body.as_bytes()).len()) as u64
    );
    assert_eq!(purged.files_deleted, 1, "the shared body stays for b");

    // a is gone everywhere: summary, timeline, media, the candidate's token.
    for path in [
        format!("/api/v1/sessions/{a}"),
        format!("/api/v1/sessions/{a}/timeline"),
        format!("/api/v1/sessions/{a}/media/{own}"),
    ] {
        let (status, _) = s.get(&path, Some(&proctor)).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = s.append(&a, &a_token, &chained(&a, 7)[6..]).await;
    assert!(status == 401 || status == 404, "{status}");
    assert!(
        !stored(&s, &own).exists(),
        "a's own photo removed from disk"
    );
    assert!(retention::find(state, &a).await.unwrap().is_none());
    let (_, list) = s
        .get(&format!("/api/v1/sessions?exam={exam}"), Some(&proctor))
        .await;
    let listed: Vec<&str> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [b.as_str()]);

    // b is untouched, its copy of the shared body included.
    assert_eq!(s.timeline(&b, &proctor).await, b_before);
    let r = s
        .http
        .get(s.url(&format!("/api/v1/sessions/{b}/media/{shared}")))
        .bearer_auth(&proctor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().as_ref() == common::mp4(shared_body.as_bytes()).as_slice());

    // The deletion is accounted for, without the candidate's identity.
    let row = sqlx::query("SELECT reason, events, media FROM purges WHERE session_id = $1")
        .bind(&a)
        .fetch_one(&state.db().pool)
        .await
        .unwrap();
    use sqlx::Row;
    assert_eq!(row.get::<String, _>("reason"), "operator");
    assert_eq!(row.get::<i64, _>("events"), 6);
    assert_eq!(row.get::<i64, _>("media"), 2);

    // Deleting again, or an unknown id, deletes nothing.
    let again = retention::purge(
        state,
        &[a.clone(), "no-such-session".into()],
        Reason::Operator,
    )
    .await
    .unwrap();
    assert_eq!(again, retention::Purged::default());
}

async fn retention_deletes_only_sessions_inactive_for_longer(s: TestServer) {
    let proctor = s.proctor("frank").await;
    let (old, old_token) = s.session("exam-ret", "cand-old").await;
    let (abandoned, ab_token) = s.session("exam-ret", "cand-abandoned").await;
    let (fresh, fresh_token) = s.session("exam-ret", "cand-fresh").await;
    for (id, token) in [
        (&old, &old_token),
        (&abandoned, &ab_token),
        (&fresh, &fresh_token),
    ] {
        assert_eq!(s.append(id, token, &chained(id, 3)).await.0, 200);
    }
    let photo = format!("room scan of {old}").repeat(50);
    let photo_sha = upload(&s, &old, &old_token, &common::mp4(photo.as_bytes())).await;
    let pool = &s.server.state().db().pool;
    let day = 86_400_000i64;
    let now = invigil_server::now_ms();
    // Ended ten days ago; a live session whose client vanished eight days
    // ago; one that ended just now.
    sqlx::query(
        "UPDATE sessions SET state = 'ended', ended_ms = $1, last_seen_ms = $1 WHERE id = $2",
    )
    .bind(now - 10 * day)
    .bind(&old)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("UPDATE sessions SET last_seen_ms = $1, last_event_ms = $1 WHERE id = $2")
        .bind(now - 8 * day)
        .bind(&abandoned)
        .execute(pool)
        .await
        .unwrap();
    let state = s.server.state();
    let inactive_since = |cutoff: i64| async move {
        retention::inactive_since(state, cutoff)
            .await
            .unwrap()
            .into_iter()
            .map(|x| x.id)
            .collect::<Vec<String>>()
    };
    let expired = inactive_since(now - 7 * day).await;
    assert!(
        expired.contains(&old) && expired.contains(&abandoned),
        "{expired:?}"
    );
    assert!(!expired.contains(&fresh));
    let nine = inactive_since(now - 9 * day).await;
    assert!(
        nine.contains(&old) && !nine.contains(&abandoned),
        "{nine:?}"
    );

    // The server's retention task (7 days) deletes both at once.
    let task = retention::spawn_retention(s.server.state().clone(), 7);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (a, _) = s
            .get(&format!("/api/v1/sessions/{old}"), Some(&proctor))
            .await;
        let (b, _) = s
            .get(&format!("/api/v1/sessions/{abandoned}"), Some(&proctor))
            .await;
        if a == 404 && b == 404 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "retention did not run"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();
    assert!(!stored(&s, &photo_sha).exists());
    let (status, v) = s
        .get(&format!("/api/v1/sessions/{fresh}"), Some(&proctor))
        .await;
    assert_eq!(status, 200, "{v}");
    let reason: String = sqlx::query_scalar("SELECT reason FROM purges WHERE session_id = $1")
        .bind(&old)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(reason, "retention");
}

async fn an_export_holds_everything_and_checks_the_chain(s: TestServer) {
    use invigil_server::export::export_session;
    let proctor = s.proctor("gina").await;
    let (id, token) = s.session("exam-export", "cand-x").await;
    assert_eq!(s.append(&id, &token, &chained(&id, 5)).await.0, 200);
    let clip = format!("clip of {id}").repeat(200);
    let sha = upload(&s, &id, &token, &common::mp4(clip.as_bytes())).await;
    let (status, _) = s
        .post(
            &format!("/api/v1/sessions/{id}/decisions"),
            Some(&proctor),
            &json!({"action": "confirm", "event_seq": 2, "note": "left the room"}).to_string(),
        )
        .await;
    assert_eq!(status, 201);
    let state = s.server.state();
    let out = s.dir.path().join("export-1");
    let exported = export_session(state, &id, &out).await.unwrap();
    assert!(exported.chain_verified, "{:?}", exported.problems);
    assert_eq!((exported.events, exported.media_files), (5, 1));
    assert_eq!(exported.bytes, common::mp4(clip.as_bytes()).len() as u64);
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("session.json")).unwrap()).unwrap();
    assert_eq!(doc["format"], "invigil-export-v1");
    assert_eq!(doc["session"]["candidate_id"], "cand-x");
    let timeline = s.timeline(&id, &proctor).await;
    assert_eq!(doc["events"], timeline["events"], "the events as served");
    assert_eq!(doc["decisions"][0]["note"], "left the room");
    let file = out.join(doc["media"][0]["file"].as_str().unwrap());
    assert_eq!(hex_sha(&std::fs::read(&file).unwrap()), sha);

    // Into a directory that is not empty: refused, nothing overwritten.
    let err = export_session(state, &id, &out)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not empty"), "{err}");
    let err = export_session(state, "no-such-session", &s.dir.path().join("x"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no session no-such-session"), "{err}");
    assert!(!s.dir.path().join("x").exists());

    // Evidence altered in the database, a body lost from the store: the
    // export is still written, and says what does not check out.
    sqlx::query("UPDATE events SET body = REPLACE(body, '\"n\":3', '\"n\":33') WHERE session_id = $1 AND seq = 3")
        .bind(&id)
        .execute(&state.db().pool)
        .await
        .unwrap();
    std::fs::remove_file(stored(&s, &sha)).unwrap();
    let exported = export_session(state, &id, &s.dir.path().join("export-2"))
        .await
        .unwrap();
    assert!(!exported.chain_verified);
    assert!(
        exported.problems.iter().any(|p| p.contains("event 3")),
        "{:?}",
        exported.problems
    );
    assert!(
        exported
            .problems
            .iter()
            .any(|p| p.contains("missing from the store")),
        "{:?}",
        exported.problems
    );
}
