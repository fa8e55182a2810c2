//! Ingest: idempotent on (session, seq), and only along the hash chain;
//! tampering refused and recorded.

use serde_json::json;

use crate::both_databases;
use crate::common::{chained, TestServer};

both_databases! {
    ingest_is_idempotent => ingest_is_idempotent;
    tampering_is_rejected_and_recorded => tampering_is_rejected_and_recorded;
    batch_replies_carry_signed_receipts => signed_receipts;
}

/// Every batch reply is signed with the server's key (docs/receipts.md):
/// the signature verifies over (session, next_seq, head) with the key at
/// /api/v1/server-key, and over nothing else.
async fn signed_receipts(s: TestServer) {
    let (id, token) = s.session("exam-r", "cand-r").await;
    let events = chained(&id, 4);
    let (status, key) = s.get("/api/v1/server-key", None).await;
    assert_eq!(status, 200);
    assert_eq!(key["algorithm"], "Ed25519");
    let pk = invigil_server::unhex(key["public_key"].as_str().unwrap()).unwrap();
    assert_eq!(invigil_server::key_id(&pk), key["key_id"].as_str().unwrap());
    for (batch, next) in [(&events[..2], 2), (&events[..4], 4)] {
        let (status, r) = s.append(&id, &token, batch).await;
        assert_eq!(status, 200, "{r}");
        let head = r["head"].as_str().unwrap();
        let sig = r["receipt"]["signature"].as_str().unwrap();
        assert_eq!(r["receipt"]["key_id"], key["key_id"]);
        assert!(invigil_server::verify_receipt(&pk, &id, next, head, sig));
        assert!(!invigil_server::verify_receipt(
            &pk,
            &id,
            next + 1,
            head,
            sig
        ));
        assert!(!invigil_server::verify_receipt(
            &pk, "another", next, head, sig
        ));
    }
}

async fn ingest_is_idempotent(s: TestServer) {
    let proctor = s.proctor("alice").await;
    let (id, token) = s.session("exam-1", "cand-1").await;
    let events = chained(&id, 10);
    let (status, r) = s.append(&id, &token, &events[..6]).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["accepted"], 6);
    // The same batch again, and an overlapping one: nothing doubles.
    let (status, r) = s.append(&id, &token, &events[..6]).await;
    assert_eq!(
        (status, r["accepted"].clone(), r["duplicates"].clone()),
        (200, json!(0), json!(6))
    );
    let (status, r) = s.append(&id, &token, &events[4..]).await;
    assert_eq!(
        (status, r["accepted"].clone(), r["duplicates"].clone()),
        (200, json!(4), json!(2))
    );
    assert_eq!(r["head"], invigil_core::chain::event_hash(&events[9]));

    let timeline = s.timeline(&id, &proctor).await;
    let got: Vec<invigil_core::Event> = timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let mut e = e.clone();
            let o = e.as_object_mut().unwrap();
            o.remove("hash");
            o.remove("received_ms");
            serde_json::from_value(e).unwrap()
        })
        .collect();
    assert_eq!(got, events);
    let session = &timeline["session"];
    assert_eq!(session["next_seq"], 10);
    assert_eq!(
        session["violations"],
        events
            .iter()
            .filter(|e| e.severity == invigil_core::Severity::Violation)
            .count()
    );
    assert_eq!(session["policy"]["absence_flag_s"], 5.0);

    // The candidate may read its own status.
    let (status, v) = s.get(&format!("/api/v1/sessions/{id}"), Some(&token)).await;
    assert_eq!((status, v["next_seq"].clone()), (200, json!(10)));
}

async fn tampering_is_rejected_and_recorded(s: TestServer) {
    let proctor = s.proctor("bob").await;
    let (id, token) = s.session("exam-1", "cand-2").await;
    let events = chained(&id, 8);
    assert_eq!(s.append(&id, &token, &events[..4]).await.0, 200);

    // Edited: a stored event re-sent with other data.
    let mut edited = events[2].clone();
    edited.data.insert("n".into(), json!(99));
    let (status, r) = s.append(&id, &token, &[edited]).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (409, Some("event_altered")),
        "{r}"
    );

    // Edited and re-chained from there: the stored event still differs.
    let mut rechained = events.clone();
    rechained[3].data.insert("n".into(), json!(42));
    let mut chain =
        invigil_core::chain::Chain::after(invigil_core::chain::event_hash(&rechained[2]));
    for e in &mut rechained[3..] {
        chain.link(e);
    }
    let (status, r) = s.append(&id, &token, &rechained[3..]).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (409, Some("event_altered")),
        "{r}"
    );

    // Dropped: seq 4 missing.
    let (status, r) = s.append(&id, &token, &events[5..]).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (409, Some("seq_gap")),
        "{r}"
    );
    assert_eq!(r["error"]["detail"]["expected_seq"], 4);

    // Reordered: 5 before 4.
    let reordered = vec![events[5].clone(), events[4].clone()];
    let (status, r) = s.append(&id, &token, &reordered).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (409, Some("seq_gap")),
        "{r}"
    );

    // Swapped seqs but kept in order: the chain links no longer match.
    let mut swapped = vec![events[5].clone(), events[4].clone()];
    swapped[0].seq = 4;
    swapped[1].seq = 5;
    let (status, r) = s.append(&id, &token, &swapped).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (409, Some("chain_broken")),
        "{r}"
    );

    // Unchained or malformed prev: 400 naming the field.
    let mut unchained = events[4].clone();
    unchained.prev = None;
    let (status, r) = s.append(&id, &token, &[unchained]).await;
    assert_eq!(
        (status, r["error"]["field"].as_str()),
        (400, Some("events[0].prev")),
        "{r}"
    );

    // A violation relabelled as info to dodge the alert stream.
    let mut downgraded = events[5].clone();
    downgraded.severity = invigil_core::Severity::Info;
    let (status, r) = s
        .append(&id, &token, &[events[4].clone(), downgraded])
        .await;
    assert_eq!(
        (status, r["error"]["field"].as_str()),
        (400, Some("events[1].severity")),
        "{r}"
    );

    // Nothing was harmed: the honest rest is still accepted.
    let (status, r) = s.append(&id, &token, &events[4..]).await;
    assert_eq!((status, r["accepted"].clone()), (200, json!(4)), "{r}");

    let timeline = s.timeline(&id, &proctor).await;
    assert_eq!(timeline["events"].as_array().unwrap().len(), 8);
    let notes: Vec<&str> = timeline["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["detail"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        notes,
        [
            "event_altered",
            "event_altered",
            "seq_gap",
            "seq_gap",
            "chain_broken"
        ]
    );
    assert_eq!(timeline["session"]["rejected_batches"], 5);
}
