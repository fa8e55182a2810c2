//! Appending a batch of events: idempotent on (session, seq), and only
//! along the session's hash chain.

use std::collections::HashMap;
use std::sync::Arc;

use invigil_core::chain::{self, Rejection};
use invigil_core::protocol::{BatchReply, EventBatch};
use invigil_core::{Event, EventKind, Severity, EVENT_SCHEMA_VERSION};
use serde_json::json;
use sqlx::FromRow;

use crate::error::{ApiError, ApiResult};
use crate::{auth, now_ms, Alert, AppState, MAX_BATCH_EVENTS, MAX_JSON_FIELD_BYTES};

/// Largest `seq` and `t_ms` taken: the largest integer a JSON reader (the
/// console's JavaScript) holds exactly, and far inside the database's i64.
pub const MAX_JSON_INT: u64 = (1 << 53) - 1;

/// Why a batch was refused, as the candidate's client is told; each is
/// also recorded in the session's timeline.
pub(crate) fn rejection_error(rejection: Rejection) -> ApiError {
    match rejection {
            Rejection::Altered { seq } => ApiError::conflict(
                "event_altered",
                format!("event seq {seq} differs from the event the server already holds under that seq; the chain is rejected"),
            )
            .with_detail(json!({ "seq": seq })),
            Rejection::Gap { expected, got } => ApiError::conflict(
                "seq_gap",
                format!("expected event seq {expected} next but got {got}: an event is missing or out of order; the chain is rejected"),
            )
            .with_detail(json!({ "expected_seq": expected, "seq": got })),
            Rejection::Broken { seq, expected_prev } => ApiError::conflict(
                "chain_broken",
                format!("event seq {seq} does not carry the hash of the event before it in `prev`; the chain is rejected"),
            )
            .with_detail(json!({ "seq": seq, "expected_prev": expected_prev })),
        }
}

/// Where a session's chain stands.
#[derive(FromRow)]
struct ChainRow {
    exam_id: String,
    candidate_id: String,
    state: String,
    next_seq: i64,
    head: String,
}

pub(crate) fn validate(batch: &EventBatch) -> ApiResult<()> {
    if batch.events.is_empty() {
        return Err(ApiError::invalid_field(
            "events",
            "the batch holds no events",
        ));
    }
    if batch.events.len() > MAX_BATCH_EVENTS {
        return Err(ApiError::invalid_field(
            "events",
            format!(
                "a batch holds at most {MAX_BATCH_EVENTS} events, this one {}",
                batch.events.len()
            ),
        ));
    }
    for (i, e) in batch.events.iter().enumerate() {
        if e.v != EVENT_SCHEMA_VERSION {
            return Err(ApiError::invalid_field(
                format!("events[{i}].v"),
                format!(
                    "schema version {} is not supported (this server reads {EVENT_SCHEMA_VERSION})",
                    e.v
                ),
            ));
        }
        if e.severity != e.kind.severity() {
            return Err(ApiError::invalid_field(
                format!("events[{i}].severity"),
                format!(
                    "`{}` events have severity `{}`, not `{}`",
                    e.kind,
                    e.kind.severity().as_str(),
                    e.severity.as_str()
                ),
            ));
        }
        if e.t_ms > MAX_JSON_INT || e.seq > MAX_JSON_INT {
            return Err(ApiError::invalid_field(
                format!(
                    "events[{i}].{}",
                    if e.seq > MAX_JSON_INT { "seq" } else { "t_ms" }
                ),
                format!("`seq` and `t_ms` must be at most {MAX_JSON_INT} (2^53 - 1)"),
            ));
        }
        let data_len = serde_json::to_string(&e.data).map_or(usize::MAX, |d| d.len());
        if data_len > MAX_JSON_FIELD_BYTES {
            return Err(ApiError::invalid_field(
                format!("events[{i}].data"),
                format!(
                    "an event's `data` is {data_len} bytes as JSON; at most {MAX_JSON_FIELD_BYTES} are taken"
                ),
            ));
        }
        match &e.prev {
            Some(p) if crate::store::Sha256Hex::parse(p).is_some() => {}
            Some(_) => {
                return Err(ApiError::invalid_field(
                    format!("events[{i}].prev"),
                    "`prev` must be 64 lowercase hex digits (a SHA-256)",
                ))
            }
            None => {
                return Err(ApiError::invalid_field(
                    format!("events[{i}].prev"),
                    "missing `prev`: events sent to the server are hash-chained",
                ))
            }
        }
    }
    Ok(())
}

pub async fn append(
    state: &AppState,
    session_id: &str,
    batch: EventBatch,
) -> ApiResult<BatchReply> {
    validate(&batch)?;
    let _guard = state.lock_session(session_id).await;

    // The chain's head is read and extended in one transaction. Across
    // nodes (PostgreSQL) the session's row is locked for it: two nodes
    // given the same batch at once (a client retrying through a load
    // balancer) take turns, and the second finds the events stored.
    let postgres = state.db.backend == crate::db::Backend::Postgres;
    let mut tx = state.db.pool.begin().await?;
    let row: ChainRow = sqlx::query_as(if postgres {
        "SELECT exam_id, candidate_id, state, next_seq, head FROM sessions WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT exam_id, candidate_id, state, next_seq, head FROM sessions WHERE id = $1"
    })
    .bind(session_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no session {session_id}")))?;
    let ChainRow {
        exam_id,
        candidate_id,
        state: session_state,
        next_seq,
        head,
    } = row;
    let stored_next = next_seq as u64;

    // Hashes of stored events that this batch repeats.
    let min_seq = batch.events.iter().map(|e| e.seq).min().unwrap_or(0);
    let mut known: HashMap<u64, String> = HashMap::new();
    if min_seq < stored_next {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT seq, hash FROM events WHERE session_id = $1 AND seq >= $2 AND seq < $3",
        )
        .bind(session_id)
        .bind(min_seq as i64)
        .bind(stored_next as i64)
        .fetch_all(&mut *tx)
        .await?;
        for (seq, hash) in rows {
            known.insert(seq as u64, hash);
        }
    }

    let appended = chain::append(stored_next, &head, &known, batch.events);
    let chain::Appended {
        fresh,
        duplicates,
        head,
    } = match appended {
        Ok(a) => a,
        Err(rejection) => {
            drop(tx);
            let err = rejection_error(rejection);
            record_note(
                state,
                session_id,
                "batch_rejected",
                "candidate",
                json!({
                    "code": err.code,
                    "message": err.message,
                    "detail": err.detail,
                }),
            )
            .await?;
            tracing::warn!(session = session_id, "rejected a batch: {}", err.message);
            refresh_review(state, session_id).await;
            return Err(err);
        }
    };
    if !fresh.is_empty() && session_state != "live" {
        return Err(ApiError::conflict(
            "session_ended",
            format!("session {session_id} has ended; it takes no new events"),
        ));
    }

    let now = now_ms();
    if fresh.is_empty() {
        drop(tx);
    } else {
        for (e, hash) in &fresh {
            sqlx::query(
                "INSERT INTO events (session_id, seq, t_ms, kind, severity, body, hash, received_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(session_id)
            .bind(e.seq as i64)
            .bind(e.t_ms as i64)
            .bind(e.kind.as_str())
            .bind(e.severity.as_str())
            .bind(chain::canonical_json(e))
            .bind(hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let count = |s: Severity| fresh.iter().filter(|(e, _)| e.severity == s).count() as i64;
        let ended = fresh
            .iter()
            .find(|(e, _)| e.kind == EventKind::SessionEnded);
        let end_reason = ended
            .and_then(|(e, _)| e.data.get("reason"))
            .and_then(|r| r.as_str())
            .map(str::to_owned);
        sqlx::query(
            "UPDATE sessions SET next_seq = $1, head = $2, last_event_ms = $3, \
             violations = violations + $4, warnings = warnings + $5, \
             state = CASE WHEN $6 = 1 THEN 'ended' ELSE state END, \
             ended_ms = CASE WHEN $6 = 1 THEN $3 ELSE ended_ms END, \
             end_reason = CASE WHEN $6 = 1 THEN $7 ELSE end_reason END \
             WHERE id = $8",
        )
        .bind((stored_next + fresh.len() as u64) as i64)
        .bind(&head)
        .bind(now)
        .bind(count(Severity::Violation))
        .bind(count(Severity::Warning))
        .bind(i64::from(ended.is_some()))
        .bind(end_reason)
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;

        // The events are stored: from here nothing may fail the request
        // (a retry would count them as duplicates and their alerts would
        // never be pushed). Alerts first, then the review priority.
        // On PostgreSQL they go through this node's relay, which every
        // other node's relay matches from the notification (relay.rs), so
        // that each proctor gets each alert once whichever node stored it.
        let alerts: Vec<Alert> = fresh
            .iter()
            .filter(|(e, _)| e.severity >= Severity::Warning)
            .map(|(e, _)| Alert {
                session_id: session_id.to_owned(),
                exam_id: exam_id.clone(),
                candidate_id: candidate_id.clone(),
                received_ms: now,
                event: e.clone(),
            })
            .collect();
        if postgres {
            if let (Some((first, _)), Some((last, _))) = (fresh.first(), fresh.last()) {
                // This node's relay has the batch before the notification
                // is sent, so it skips the notification's read.
                crate::relay::stored_here(
                    state,
                    crate::relay::Stored {
                        session_id: session_id.to_owned(),
                        first_seq: first.seq,
                        last_seq: last.seq,
                        received_ms: now,
                        alerts,
                    },
                );
                crate::relay::publish(
                    state,
                    crate::relay::Kind::Events,
                    &last.seq.to_string(),
                    session_id,
                )
                .await;
            }
        } else {
            for alert in alerts {
                // No receivers is fine: nobody is watching.
                let _ = state.alerts.send(Arc::new(alert));
            }
        }
        let reviewed = fresh.iter().any(|(e, _)| {
            e.severity >= Severity::Warning
                || crate::review::REVIEW_KINDS.contains(&e.kind.as_str())
        });
        if reviewed {
            refresh_review(state, session_id).await;
        }
        // Spot checks answered: judged off the request path.
        for (e, _) in &fresh {
            match e.kind {
                EventKind::SnapshotTaken => {
                    let (state, sid, e) = (state.clone(), session_id.to_owned(), e.clone());
                    tokio::spawn(async move { crate::spot::taken(&state, &sid, &e).await });
                }
                EventKind::SessionEnded => crate::spot::forget(state, session_id).await,
                _ => {}
            }
        }
        // The breaks and the check-in, against the exam's.
        let events: Vec<&Event> = fresh.iter().map(|(e, _)| e).collect();
        crate::exam_rules::check(state, session_id, &events).await;
        // The policy the client runs must be the one the server set.
        if let Some((started, _)) = fresh
            .iter()
            .find(|(e, _)| e.kind == EventKind::SessionStarted)
        {
            check_started_policy(state, session_id, started).await;
        }
    }
    let next_seq = stored_next + fresh.len() as u64;
    let receipt = state.signer.receipt(session_id, next_seq, &head);
    record_receipt(state, session_id, next_seq, &head, &receipt).await;
    Ok(BatchReply {
        accepted: fresh.len() as u64,
        duplicates,
        next_seq,
        head,
        receipt: Some(receipt),
    })
}

/// Keeps what the server signed, for exports. A failure is logged: the
/// batch is stored and the candidate holds the receipt.
async fn record_receipt(
    state: &AppState,
    session_id: &str,
    next_seq: u64,
    head: &str,
    receipt: &invigil_core::protocol::BatchReceipt,
) {
    let done = sqlx::query(
        "INSERT INTO receipts (session_id, next_seq, head, key_id, signature, issued_ms) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (session_id, next_seq) DO NOTHING",
    )
    .bind(session_id)
    .bind(next_seq as i64)
    .bind(head)
    .bind(&receipt.key_id)
    .bind(&receipt.signature)
    .bind(crate::now_ms())
    .execute(&state.db.pool)
    .await;
    if let Err(e) = done {
        tracing::error!(session = session_id, "cannot keep a receipt: {e}");
    }
}

/// Compares the policy in `session_started` with the session's.
/// Runs once per session (its first event), so the policy is read only here.
async fn check_started_policy(state: &AppState, session_id: &str, started: &Event) {
    let stored: Option<(String,)> = sqlx::query_as("SELECT policy FROM sessions WHERE id = $1")
        .bind(session_id)
        .fetch_optional(&state.db.pool)
        .await
        .ok()
        .flatten();
    let stored: serde_json::Map<String, serde_json::Value> = stored
        .and_then(|(p,)| serde_json::from_str(&p).ok())
        .unwrap_or_default();
    let Ok(expected) = invigil_core::Policy::from_json_keys(&stored, "session") else {
        // A session created under open enrolment with a policy this
        // version does not read: nothing to compare with.
        return;
    };
    let client = match started.data.get("policy") {
        Some(serde_json::Value::Object(m)) => m.clone(),
        _ => serde_json::Map::new(),
    };
    crate::launch::check_client_policy(state, session_id, &expected, &client, "session_started")
        .await;
}

/// Recomputes a session's review priority after ingest. A failure is
/// logged, not returned: the batch's outcome stands, and the next alert or
/// decision recomputes it.
async fn refresh_review(state: &AppState, session_id: &str) {
    if let Err(e) = crate::review::refresh(state, session_id).await {
        tracing::error!(
            session = session_id,
            "cannot update the review priority: {}",
            e.message
        );
    }
}

/// Adds a server note to a session's timeline.
pub async fn record_note(
    state: &AppState,
    session_id: &str,
    kind: &str,
    actor: &str,
    detail: serde_json::Value,
) -> ApiResult<String> {
    // Notes made in the same millisecond (a started_offline and its
    // closed_before_contact) keep the order they were made in: the
    // timeline orders by time, and ids are random.
    let last: Option<i64> =
        sqlx::query_scalar("SELECT MAX(at_ms) FROM notes WHERE session_id = $1")
            .bind(session_id)
            .fetch_one(&state.db.pool)
            .await?;
    let at_ms = now_ms().max(last.map_or(0, |l| l + 1));
    let id = auth::new_id();
    sqlx::query("INSERT INTO notes (id, session_id, at_ms, kind, actor, detail) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&id)
        .bind(session_id)
        .bind(at_ms)
        .bind(kind)
        .bind(actor)
        .bind(detail.to_string())
        .execute(&state.db.pool)
        .await?;
    Ok(id)
}
