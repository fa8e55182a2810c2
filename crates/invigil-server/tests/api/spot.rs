//! Spot checks (issue 13): the server asks a client for snapshots at random
//! moments, runs its own face detector on them and flags a client whose
//! claims the pictures contradict — here, a test client that lies.

use std::time::{Duration, Instant};

use invigil_core::chain::Chain;
use invigil_core::{Event, EventKind, EVENT_SCHEMA_VERSION};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::common::{Db, TestServer};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/images")
        .join(name)
}

/// A fixture photograph as the client sends a snapshot: 320 wide, JPEG.
fn snapshot_of(name: &str, brighten: u8) -> Vec<u8> {
    let img = image::open(fixture(name)).unwrap().to_rgb8();
    let mut small = image::imageops::resize(
        &img,
        320,
        320 * img.height() / img.width(),
        image::imageops::FilterType::Triangle,
    );
    for p in small.pixels_mut() {
        p.0[0] = p.0[0].saturating_add(brighten);
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&small)
        .unwrap();
    out
}

/// A client of one session, chaining its own events.
struct Client<'s> {
    s: &'s TestServer,
    id: String,
    token: String,
    chain: Chain,
    seq: u64,
}

impl<'s> Client<'s> {
    async fn start(s: &'s TestServer, candidate: &str, policy: Value) -> Client<'s> {
        let r = s
            .http
            .post(s.url("/api/v1/sessions"))
            .json(&json!({"exam_id": "spot", "candidate_id": candidate, "policy": policy}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        let id = v["session_id"].as_str().unwrap().to_owned();
        let mut c = Client {
            s,
            token: v["token"].as_str().unwrap().to_owned(),
            chain: Chain::new(&id),
            id,
            seq: 0,
        };
        c.send(EventKind::SessionStarted, 0, json!({"policy": policy}))
            .await;
        c
    }

    async fn send(&mut self, kind: EventKind, t_ms: u64, data: Value) -> reqwest::Response {
        let mut e = Event {
            v: EVENT_SCHEMA_VERSION,
            seq: self.seq,
            t_ms,
            kind,
            severity: kind.severity(),
            data: data.as_object().cloned().unwrap_or_else(Map::new),
            prev: None,
        };
        self.chain.link(&mut e);
        self.seq += 1;
        let r = self
            .s
            .http
            .post(self.s.url(&format!("/api/v1/sessions/{}/events", self.id)))
            .bearer_auth(&self.token)
            .json(&json!({ "events": [e] }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r
    }

    /// Heartbeats until the server asks for a snapshot.
    async fn asked(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = self
                .s
                .http
                .head(self.s.url(&format!("/api/v1/sessions/{}", self.id)))
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            if let Some(v) = r.headers().get("invigil-snapshot") {
                return v.to_str().unwrap().to_owned();
            }
            assert!(Instant::now() < deadline, "the server never asked");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn upload(&self, jpeg: &[u8]) -> (u16, String) {
        let sha = invigil_core::chain::hex(&Sha256::digest(jpeg));
        let r = self
            .s
            .http
            .put(
                self.s
                    .url(&format!("/api/v1/sessions/{}/media/{sha}", self.id)),
            )
            .query(&[("name", "snapshot.jpg"), ("kind", "snapshot")])
            .bearer_auth(&self.token)
            .header("content-type", "image/jpeg")
            .body(jpeg.to_vec())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), sha)
    }

    /// Answers the next request with `jpeg`, claiming `faces`; returns the
    /// server's verdict.
    async fn answer(&mut self, proctor: &str, t_ms: u64, jpeg: &[u8], faces: u64) -> Value {
        let request = self.asked().await;
        let (status, sha) = self.upload(jpeg).await;
        assert!(status == 201 || status == 200, "{status}");
        self.send(
            EventKind::SnapshotTaken,
            t_ms,
            json!({"request": request, "sha256": sha, "faces": faces, "width": 320, "height": 240}),
        )
        .await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let tl = self.s.timeline(&self.id, proctor).await;
            let check = tl["spot_checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == request.as_str())
                .cloned()
                .unwrap();
            if !check["verdict"].is_null() && check["verdict"] != "judging" {
                return check;
            }
            assert!(Instant::now() < deadline, "never judged: {check}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn notes(&self, proctor: &str) -> Vec<Value> {
        self.s.timeline(&self.id, proctor).await["notes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "analysis_disagreement")
            .cloned()
            .collect()
    }
}

async fn spot_checks(s: TestServer) {
    let proctor = s.proctor("spot-reader").await;
    let policy = json!({"spot_check_s": 5.0, "absence_warn_s": 2.0, "absence_flag_s": 5.0});
    let person = snapshot_of("obama.jpg", 0);
    let room = snapshot_of("room_empty.jpg", 0);

    // Nothing is taken unasked.
    let honest = Client::start(&s, "honest", policy.clone()).await;
    let (status, _) = honest.upload(&room).await;
    assert_eq!(status, 409, "an unrequested snapshot");

    // An honest client: a person it counted, then the empty room it
    // admitted (absence events) — the server agrees each time.
    let mut honest = honest;
    let c = honest.answer(&proctor, 8_000, &person, 1).await;
    assert_eq!(c["verdict"], "agree", "{c}");
    assert_eq!(c["server_faces"], 1);
    honest
        .send(
            EventKind::AbsenceWarning,
            12_000,
            json!({"absent_ms": 2000, "flag_in_ms": 3000}),
        )
        .await;
    let c = honest.answer(&proctor, 14_000, &room, 0).await;
    assert_eq!(c["verdict"], "agree", "{c}");
    honest
        .send(
            EventKind::CandidateAbsent,
            15_000,
            json!({"absent_ms": 5000}),
        )
        .await;
    let c = honest
        .answer(&proctor, 24_000, &snapshot_of("room_empty.jpg", 3), 0)
        .await;
    assert_eq!(c["verdict"], "agree", "{c}");
    assert!(honest.notes(&proctor).await.is_empty());
    let tl = s.timeline(&honest.id, &proctor).await;
    assert_eq!(
        tl["session"]["snapshot"], c["sha256"],
        "the live card shows the latest snapshot"
    );

    // A client that reports presence over an empty room.
    let mut liar = Client::start(&s, "liar", policy.clone()).await;
    let c = liar.answer(&proctor, 8_000, &room, 1).await;
    assert_eq!(c["verdict"], "no_face", "{c}");
    assert_eq!(c["server_faces"], 0);
    // The same picture again (a replayed snapshot).
    let c = liar.answer(&proctor, 30_000, &room, 1).await;
    assert_eq!(c["verdict"], "repeated", "{c}");
    let notes = liar.notes(&proctor).await;
    let reasons: Vec<&str> = notes
        .iter()
        .map(|n| n["detail"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["no_face", "repeated"], "{notes:?}");
    let tl = s.timeline(&liar.id, &proctor).await;
    assert!(
        tl["session"]["priority"].as_f64().unwrap() > 40.0,
        "{}",
        tl["session"]
    );

    // A subtler liar: says "no face" on the frame, but never raises the
    // absence its rules must have seen.
    let mut quiet = Client::start(&s, "quiet", policy.clone()).await;
    let c = quiet.answer(&proctor, 8_000, &room, 0).await;
    assert_eq!(c["verdict"], "agree", "one empty frame proves nothing");
    let c = quiet
        .answer(&proctor, 20_000, &snapshot_of("room_empty.jpg", 4), 0)
        .await;
    assert_eq!(c["verdict"], "events_claim_presence", "{c}");

    // A second person the client did not count.
    let mut two = Client::start(&s, "two", policy.clone()).await;
    let c = two
        .answer(&proctor, 8_000, &snapshot_of("group6.jpg", 0), 1)
        .await;
    assert_eq!(c["verdict"], "extra_faces", "{c}");

    // Hostile bodies: a JPEG that does not decode is judged unreadable; a
    // PNG or an oversized body is refused at upload.
    let mut broken = Client::start(&s, "broken", policy.clone()).await;
    let mut bad = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bad.extend_from_slice(&[0x42; 600]);
    let c = broken.answer(&proctor, 8_000, &bad, 1).await;
    assert_eq!(c["verdict"], "unreadable", "{c}");
    broken.asked().await;
    let (status, _) = broken.upload(b"\x89PNG\r\n\x1a\n\0\0\0\0").await;
    assert_eq!(status, 400);
    let mut big = vec![0xFF, 0xD8, 0xFF];
    big.resize(300 * 1024, 0);
    let (status, _) = broken.upload(&big).await;
    assert_eq!(status, 400);

    // A client that never answers: each request is marked missing when the
    // next is made (two minutes later: the clock is moved on in the
    // schedule), and two missed in a row are a `no_snapshot` note.
    let silent = Client::start(&s, "silent", policy.clone()).await;
    let first = silent.asked().await;
    let pool = &s.server.state().db().pool;
    let two_minutes_on = || async {
        sqlx::query(
            "UPDATE spot_schedules SET due_ms = 0, asked_ms = asked_ms - 121000 WHERE session_id = $1",
        )
        .bind(&silent.id)
        .execute(pool)
        .await
        .unwrap();
    };
    two_minutes_on().await;
    let second = silent.asked().await;
    assert_ne!(first, second);
    assert!(
        silent.notes(&proctor).await.is_empty(),
        "one miss is not noted"
    );
    two_minutes_on().await;
    let third = silent.asked().await;
    let checks = s.timeline(&silent.id, &proctor).await["spot_checks"].clone();
    let verdicts: Vec<(&str, &Value)> = checks
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), &c["verdict"]))
        .collect();
    assert_eq!(
        verdicts,
        [
            (first.as_str(), &json!("missing")),
            (second.as_str(), &json!("missing")),
            (third.as_str(), &Value::Null)
        ]
    );
    let notes = silent.notes(&proctor).await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["detail"]["reason"], "no_snapshot");
    assert_eq!(notes[0]["detail"]["last_request"], second.as_str());

    // Off: a policy with spot_check_s = 0 is never asked.
    let off = Client::start(&s, "off", json!({"spot_check_s": 0.0})).await;
    for _ in 0..3 {
        let r = s
            .http
            .head(s.url(&format!("/api/v1/sessions/{}", off.id)))
            .bearer_auth(&off.token)
            .send()
            .await
            .unwrap();
        assert!(r.headers().get("invigil-snapshot").is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_spot_checks_catch_a_lying_client() {
    if let Some(s) = TestServer::start(Db::Sqlite).await {
        spot_checks(s).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_spot_checks_catch_a_lying_client() {
    if let Some(s) = TestServer::start(Db::Postgres).await {
        spot_checks(s).await;
    }
}
