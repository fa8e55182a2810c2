//! Data forensics on the server (issue 15): an admin uploads an exam's
//! results; flags join the candidates' sessions (timeline, review
//! priority), a proctoring violation counts as the second piece of
//! evidence, and an admin's invalidation cites the flags.

use invigil_forensics::data::to_long_csv;
use invigil_forensics::sim::{exam, Cheat};
use serde_json::{json, Value};

use crate::common::{chained, token, unique, TestServer};

async fn send(s: &TestServer, path: &str, token: &str, body: Value) -> (u16, Value) {
    let r = s
        .http
        .post(s.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Starts candidate `who`'s session with its launch code; returns the
/// session id and token.
async fn start(s: &TestServer, issued: &Value, who: &str) -> (String, String) {
    let code = issued["codes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["candidate_id"] == who)
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let (sid, tok) = (unique("sess"), token());
    let r = s
        .http
        .post(s.url("/api/v1/sessions"))
        .json(&json!({"launch_code": code, "session_id": sid, "token": tok}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    (sid, tok)
}

async fn flow(s: TestServer) {
    let admin = s.admin(&unique("admin")).await;
    let proctor = s.proctor(&unique("reader")).await;
    let exam_id = unique("stats");
    let now = invigil_server::now_ms();
    let (status, v) = send(
        &s,
        "/api/v1/exams",
        &admin,
        json!({"id": exam_id, "title": "Statistics", "opens_ms": now - 60_000,
               "closes_ms": now + 3_600_000, "policy": {},
               "checkin": {"face": false, "id": false, "room": false},
               "aids": {}}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let roster: String = (0..300)
        .map(|i| format!("c{i:04},Candidate {i},\n"))
        .collect();
    let r = s
        .http
        .post(s.url(&format!("/api/v1/exams/{exam_id}/roster")))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(roster)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let issued: Value = r.json().await.unwrap();

    // The results: c0007 knew half of the items (right and fast on
    // them); c0020 copied 90 % of the answers of the weakest candidate.
    let honest = exam(300, 60, &[], 31);
    let weakest = invigil_forensics::sim::by_score(&honest)[0];
    let known: Vec<usize> = (0..60).filter(|j| j % 2 == 1).collect();
    let results = exam(
        300,
        60,
        &[
            (
                7,
                Cheat::PreKnowledge {
                    items: known.clone(),
                },
            ),
            (
                20,
                Cheat::Copier {
                    source: weakest,
                    share: 0.9,
                },
            ),
        ],
        31,
    );
    let items: String = std::iter::once("item_id,key,options,compromised\n".to_owned())
        .chain((0..60).map(|j| format!("q{j:02},A,4,{}\n", u8::from(known.contains(&j)))))
        .collect();
    let csv = to_long_csv(&results);

    // Sessions of the two cheaters; the copier's has a violation.
    let (s7, _) = start(&s, &issued, "c0007").await;
    let (s20, t20) = start(&s, &issued, "c0020").await;
    let (status, _) = s.append(&s20, &t20, &chained(&s20, 3)).await;
    assert_eq!(status, 200);
    let before = s.timeline(&s7, &proctor).await["session"]["priority"]
        .as_f64()
        .unwrap();

    let path = format!("/api/v1/exams/{exam_id}/responses");
    // Only admins (a small body: the server answers before reading it);
    // a malformed file names its line and column.
    let (status, _) = send(&s, &path, &proctor, json!({"responses": "x"})).await;
    assert_eq!(status, 403);
    let (status, v) = send(
        &s,
        &path,
        &admin,
        json!({"responses": "candidate_id,item_id,response,score,rt_s\nc0000,q00,A,1,3\nc0000,q01,B,x,3\n"}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["field"], "responses", "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("line 3") && message.contains("`score`"),
        "{message}"
    );
    let (status, v) = send(
        &s,
        &path,
        &admin,
        json!({"responses": csv, "items": "item_id,compromised\nnope,1\n"}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("`nope`"),
        "{v}"
    );
    let (status, _) = send(
        &s,
        "/api/v1/exams/no-such-exam/responses",
        &admin,
        json!({"responses": "x"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, v) = s
        .get(
            &format!("/api/v1/exams/{exam_id}/forensics"),
            Some(&proctor),
        )
        .await;
    assert_eq!(status, 404, "{v}");

    let (status, report) = send(&s, &path, &admin, json!({"responses": csv, "items": items})).await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(report["candidates"], 300);
    let flags = report["flags"].as_array().unwrap();
    let on =
        |who: &str| -> Vec<&Value> { flags.iter().filter(|f| f["candidate_id"] == who).collect() };
    // Pre-knowledge: answers and times, invalidation from the data.
    let pk = on("c0007");
    assert!(
        pk.iter()
            .any(|f| f["invalidation"] == true && f["session_id"] == json!(s7)),
        "{pk:?}"
    );
    // The copier: answers alone, but a proctoring violation in the session.
    let copy = on("c0020")
        .into_iter()
        .find(|f| f["index"] == "gbt")
        .expect("the copier's pair flag")
        .clone();
    assert_eq!(copy["partner_id"], format!("c{weakest:04}"));
    assert_eq!(copy["invalidation"], true, "{copy}");
    assert!(
        copy["corroboration"]
            .as_str()
            .unwrap()
            .contains("proctoring violation"),
        "{copy}"
    );
    // The source carries the pair too.
    assert!(on(&format!("c{weakest:04}"))
        .iter()
        .any(|f| f["index"] == "gbt"));
    // Honest candidates: nothing meets the conditions.
    for f in flags {
        let who = f["candidate_id"].as_str().unwrap();
        if !["c0007", "c0020"].contains(&who) && f["partner_id"] != "c0020" {
            assert_eq!(f["invalidation"], false, "{f}");
        }
    }
    let (status, latest) = s
        .get(
            &format!("/api/v1/exams/{exam_id}/forensics"),
            Some(&proctor),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(latest["flags"], report["flags"]);

    // The session page: the flags beside the events; the review priority
    // rises.
    let tl = s.timeline(&s7, &proctor).await;
    let shown = tl["forensics"].as_array().unwrap();
    assert!(
        !shown.is_empty() && shown.iter().all(|f| f["candidate_id"] == "c0007"),
        "{tl}"
    );
    assert!(
        tl["session"]["priority"].as_f64().unwrap() > before + 10.0,
        "{}",
        tl["session"]
    );

    // An invalidation cites the flags: admins only, flags of this session.
    let flag_id = shown.iter().find(|f| f["invalidation"] == true).unwrap()["id"].clone();
    let decide = format!("/api/v1/sessions/{s7}/decisions");
    let body = json!({"action": "invalidate", "note": "pre-knowledge", "cites": [flag_id]});
    let (status, _) = send(&s, &decide, &proctor, body.clone()).await;
    assert_eq!(status, 403);
    let (status, v) = send(
        &s,
        &decide,
        &admin,
        json!({"action": "invalidate", "note": "x", "cites": [copy["id"]]}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("cites")),
        "{v}"
    );
    let (status, v) = send(
        &s,
        &decide,
        &admin,
        json!({"action": "end", "cites": [flag_id]}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = send(&s, &decide, &admin, body).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["decision"]["cites"][0]["id"], flag_id, "{v}");
    let tl = s.timeline(&s7, &proctor).await;
    assert_eq!(tl["decisions"][0]["cites"][0]["id"], flag_id);
    assert_eq!(tl["session"]["verdict"], "invalidated");

    // Results for nobody enrolled: refused.
    let (status, v) = send(
        &s,
        &path,
        &admin,
        json!({"responses": to_long_csv(&exam(60, 10, &[], 2)).replace("c0", "x0")}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("enrolled"),
        "{v}"
    );
    // The CSV alone, as text/csv, works too.
    let r = s
        .http
        .post(s.url(&path))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
}

crate::both_databases! {
    results_are_analysed_and_flags_reach_sessions => flow;
}
