//! Exporting a session to a directory: everything the server holds about it,
//! for a candidate's access request, an appeal, or archiving before the
//! retention period deletes it. The hash chain is checked again on the way
//! out, so the copy says whether the evidence is intact.
//!
//! Layout: `session.json` (format `invigil-export-v1`: summary, events with
//! their hashes, media index, notes, decisions, chain check) and `media/`
//! with one file per clip or photo, named `<kind>-<sha256 prefix>.<ext>`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use futures_util::StreamExt;
use invigil_core::chain;
use invigil_core::Event;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::ApiResult;
use crate::store::Sha256Hex;
use crate::{now_ms, timeline, AppState};

pub const FORMAT: &str = "invigil-export-v1";

/// What an export wrote.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Exported {
    pub dir: PathBuf,
    pub events: usize,
    pub media_files: usize,
    pub bytes: u64,
    /// Every event's hash recomputed and every link to the one before it
    /// checked, from the chain origin to the head.
    pub chain_verified: bool,
    /// What did not check out (chain, missing media bodies).
    pub problems: Vec<String>,
}

/// Writes session `id` to `out`, which must not exist or be empty.
pub async fn export_session(state: &AppState, id: &str, out: &Path) -> anyhow::Result<Exported> {
    let mut timeline = raw_timeline(state, id)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .with_context(|| format!("{}: cannot read the directory", out.display()))?
            .next()
            .is_none();
        anyhow::ensure!(
            empty,
            "{}: the directory is not empty; export into a new one",
            out.display()
        );
    }
    let media_dir = out.join("media");
    std::fs::create_dir_all(&media_dir)
        .with_context(|| format!("cannot create {}", media_dir.display()))?;

    let mut problems = check_chain(id, &timeline["events"]);
    let chain_verified = problems.is_empty();
    let mut media_files = 0;
    let mut bytes = 0u64;
    if let Some(items) = timeline["media"].as_array_mut() {
        for item in items {
            let sha = item["sha256"].as_str().unwrap_or_default().to_owned();
            let Some(digest) = Sha256Hex::parse(&sha) else {
                problems.push(format!("media {sha}: not a SHA-256 name"));
                continue;
            };
            let Some(mut body) = state.store.get(&digest, None).await? else {
                problems.push(format!("media {sha}: the body is missing from the store"));
                item["file"] = Value::Null;
                continue;
            };
            // Kinds are checked on upload; a file name is built only from
            // a plain word all the same.
            let kind = item["kind"]
                .as_str()
                .filter(|k| {
                    !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                })
                .unwrap_or("other");
            let ext = extension(item["content_type"].as_str().unwrap_or_default());
            let name = format!("{kind}-{}.{ext}", &sha[..12]);
            let path = media_dir.join(&name);
            // Streamed to the file, hashed on the way.
            let mut file = std::fs::File::create(&path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            let mut hasher = Sha256::new();
            let mut written = 0u64;
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                hasher.update(&chunk);
                file.write_all(&chunk)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                written += chunk.len() as u64;
            }
            file.sync_all()
                .with_context(|| format!("cannot write {}", path.display()))?;
            if chain::hex(&hasher.finalize()) != sha {
                problems.push(format!(
                    "media {sha}: the stored body does not match its SHA-256"
                ));
            }
            item["file"] = json!(format!("media/{name}"));
            media_files += 1;
            bytes += written;
        }
    }
    let events = timeline["events"].as_array().map_or(0, Vec::len);
    let document = json!({
        "format": FORMAT,
        "exported_ms": now_ms(),
        "session": timeline["session"],
        "chain": {
            "origin": chain::origin(id),
            "verified": chain_verified,
            "problems": problems,
        },
        "events": timeline["events"],
        "media": timeline["media"],
        "notes": timeline["notes"],
        "decisions": timeline["decisions"],
        "server_key": state.signer.public(),
        "receipts": load_receipts(state, id).await?,
    });
    let path = out.join("session.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&document)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Exported {
        dir: out.to_owned(),
        events,
        media_files,
        bytes,
        chain_verified,
        problems,
    })
}

/// The timeline as JSON, events as stored (with `hash` and `received_ms`
/// beside the event's own fields) even when a body no longer reads as an
/// event: the export reports such evidence rather than refusing to write.
async fn raw_timeline(state: &AppState, id: &str) -> ApiResult<Value> {
    let session = timeline::load_summary(state, id).await?;
    let events: Vec<Value> = timeline::stored_events(state, id, -1, i64::MAX)
        .await?
        .into_iter()
        .map(|r| {
            let mut event: Value =
                serde_json::from_str(&r.body).unwrap_or_else(|_| json!({ "body": r.body }));
            if let Some(o) = event.as_object_mut() {
                o.insert("hash".into(), json!(r.hash));
                o.insert("received_ms".into(), json!(r.received_ms));
            }
            event
        })
        .collect();
    Ok(json!({
        "session": session,
        "events": events,
        "media": timeline::load_media(state, id).await?,
        "notes": timeline::load_notes(state, id).await?,
        "decisions": timeline::load_decisions(state, id).await?,
    }))
}

/// The receipts the server signed for a session, in order.
async fn load_receipts(state: &AppState, id: &str) -> anyhow::Result<Vec<Value>> {
    let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT next_seq, head, key_id, signature FROM receipts WHERE session_id = $1 ORDER BY next_seq",
    )
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(next_seq, head, key_id, signature)| {
            json!({"session_id": id, "next_seq": next_seq, "head": head, "key_id": key_id, "signature": signature})
        })
        .collect())
}

/// What `invigil sessions verify` found in an export.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Verified {
    pub session_id: String,
    pub events: usize,
    pub media_files: usize,
    /// Receipts in the export, and the candidate's, checked.
    pub receipts: usize,
    pub candidate_receipts: usize,
    /// Everything that did not check out; empty when the export is intact.
    pub problems: Vec<String>,
}

/// Checks an export offline: the hash chain, every media file against its
/// SHA-256, every receipt's signature under `public_key` (32 bytes) and
/// that the events agree with what each receipt says the server held; with
/// `candidate_receipts` (the `receipts.jsonl` a candidate's client kept), the
/// same for those, so an export rewritten after the fact is caught.
pub fn verify_export(
    dir: &Path,
    public_key: &[u8],
    candidate_receipts: Option<&Path>,
) -> anyhow::Result<Verified> {
    let path = dir.join("session.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let doc: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    anyhow::ensure!(
        doc["format"] == FORMAT,
        "{} is not an invigil export (format {}, expected {FORMAT})",
        path.display(),
        doc["format"]
    );
    let id = doc["session"]["session_id"]
        .as_str()
        .context("the export names no session")?
        .to_owned();
    let mut problems = check_chain(&id, &doc["events"]);
    let events = doc["events"].as_array().cloned().unwrap_or_default();
    let mut media_files = 0;
    for item in doc["media"].as_array().into_iter().flatten() {
        let sha = item["sha256"].as_str().unwrap_or_default();
        let Some(file) = item["file"].as_str() else {
            problems.push(format!("media {sha}: not in the export"));
            continue;
        };
        // Only files inside the export.
        if file.contains("..") || file.starts_with('/') {
            problems.push(format!(
                "media {sha}: the file name {file} leaves the export"
            ));
            continue;
        }
        match std::fs::read(dir.join(file)) {
            Ok(body) if chain::hex(&Sha256::digest(&body)) == sha => media_files += 1,
            Ok(_) => problems.push(format!(
                "media {file}: its content does not match its SHA-256"
            )),
            Err(e) => problems.push(format!("media {file}: cannot be read ({e})")),
        }
    }
    let head_at = |next_seq: u64| -> Option<String> {
        if next_seq == 0 {
            return Some(chain::origin(&id));
        }
        events
            .get(next_seq as usize - 1)
            .and_then(|e| e["hash"].as_str())
            .map(str::to_owned)
    };
    let check = |who: &str, r: &Value, problems: &mut Vec<String>| {
        let next_seq = r["next_seq"].as_u64().unwrap_or(u64::MAX);
        let head = r["head"].as_str().unwrap_or_default();
        let sig = r["signature"].as_str().unwrap_or_default();
        let session = r["session_id"].as_str().unwrap_or(&id);
        if session != id {
            // A journal reused for several sessions keeps all their receipts.
            return;
        }
        if !crate::signing::verify(public_key, &id, next_seq, head, sig) {
            problems.push(format!(
                "{who} receipt for seq {next_seq}: the signature is not this key's"
            ));
            return;
        }
        match head_at(next_seq) {
            Some(h) if h == head => {}
            Some(h) => problems.push(format!(
                "{who} receipt: the server acknowledged events up to seq {next_seq} ending at {head}, but the export has {h} there: the session was changed after the receipt"
            )),
            None => problems.push(format!(
                "{who} receipt: the server acknowledged {next_seq} events, but the export holds {}: events were removed",
                events.len()
            )),
        }
    };
    let receipts = doc["receipts"].as_array().cloned().unwrap_or_default();
    for r in &receipts {
        check("the export's", r, &mut problems);
    }
    let mut candidate = 0;
    if let Some(path) = candidate_receipts {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            match serde_json::from_str::<Value>(line) {
                Ok(r) => {
                    if r["session_id"].as_str() == Some(id.as_str()) {
                        candidate += 1;
                    }
                    check("the candidate's", &r, &mut problems);
                }
                Err(e) => {
                    problems.push(format!("{} line {}: not JSON ({e})", path.display(), i + 1))
                }
            }
        }
    }
    Ok(Verified {
        session_id: id,
        events: events.len(),
        media_files,
        receipts: receipts.len(),
        candidate_receipts: candidate,
        problems,
    })
}

/// Recomputes the chain of stored events (as the timeline gives them, with
/// `hash` and `received_ms` beside the event's own fields).
fn check_chain(session_id: &str, events: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expected_prev = chain::origin(session_id);
    for (i, stored) in events.as_array().into_iter().flatten().enumerate() {
        let mut body = stored.clone();
        let hash = body
            .as_object_mut()
            .and_then(|o| {
                o.remove("received_ms");
                o.remove("hash")
            })
            .and_then(|h| h.as_str().map(str::to_owned))
            .unwrap_or_default();
        let event: Event = match serde_json::from_value(body) {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("event {i}: not a valid event ({e})"));
                break;
            }
        };
        if event.seq != i as u64 {
            problems.push(format!("event {i}: has seq {}", event.seq));
        }
        if event.prev.as_deref() != Some(expected_prev.as_str()) {
            problems.push(format!(
                "event {}: does not link to the event before it",
                event.seq
            ));
        }
        let recomputed = chain::event_hash(&event);
        if recomputed != hash {
            problems.push(format!(
                "event {}: its content does not match its stored hash",
                event.seq
            ));
        }
        expected_prev = hash;
    }
    problems
}

fn extension(content_type: &str) -> &'static str {
    match content_type {
        "video/mp4" => "mp4",
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "application/json" => "json",
        _ => "bin",
    }
}
