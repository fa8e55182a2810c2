//! Verifiable badges (issue 16, docs/badges.md): the issuer's keys and
//! DID, issuing an Open Badges 3.0 credential for a recorded pass,
//! revoking and suspending, and the signed status lists. The credential
//! work itself is `invigil-badges`; this module holds what the server
//! keeps: keys in the data directory, badges and lists in the database.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use invigil_badges::credential::{
    identity_hash, urn_uuid, Achievement as CredAchievement, BadgeContent, Issuer,
};
use invigil_badges::key::SigningKey;
use invigil_badges::status::{Bitstring, Purpose, StatusEntry, LIST_LEN};
use invigil_core::protocol::{Achievement, Badge, BadgeStatus};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::{now_ms, AppState};

/// Where the issuer's keys live in the data directory: `key-1.seed`,
/// `key-2.seed`, ... (hex Ed25519 seeds, readable by the owner only). The
/// newest signs; every one stays published so old badges verify.
pub const KEYS_DIR: &str = "badge-keys";

/// How the issuer is identified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DidMethod {
    /// `did:web:<host of the public URL>`: one DID whose document
    /// (`/.well-known/did.json`) lists every key, so keys rotate under it.
    Web,
    /// `did:key:` of each key: verifiable with no server at all (tests,
    /// air-gapped setups); a rotated key is a new issuer DID.
    Key,
}

impl DidMethod {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "web" => Some(DidMethod::Web),
            "key" => Some(DidMethod::Key),
            _ => None,
        }
    }
}

/// The issuer's signing keys, oldest first.
pub struct BadgeKeys {
    keys: Vec<(String, SigningKey)>,
}

fn key_number(name: &str) -> Option<u32> {
    name.strip_prefix("key-")?
        .strip_suffix(".seed")?
        .parse()
        .ok()
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

impl BadgeKeys {
    /// Loads `<data_dir>/badge-keys/`, creating the first key on first
    /// start.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        let keys = Self::load(data_dir)?;
        if !keys.keys.is_empty() {
            return Ok(keys);
        }
        Self::rotate(data_dir)?;
        Self::load(data_dir)
    }

    fn dir(data_dir: &Path) -> PathBuf {
        data_dir.join(KEYS_DIR)
    }

    /// The keys in the directory (none when it does not exist).
    pub fn load(data_dir: &Path) -> anyhow::Result<Self> {
        let dir = Self::dir(data_dir);
        let mut found: Vec<(u32, PathBuf)> = Vec::new();
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if let Some(n) = key_number(&name) {
                        found.push((n, entry.path()));
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
        }
        found.sort();
        let mut keys = Vec::with_capacity(found.len());
        for (n, path) in found {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the badge key {}", path.display()))?;
            let seed = crate::signing::unhex(text.trim())
                .filter(|b| b.len() == 32)
                .with_context(|| format!("{} is not a 32-byte hex Ed25519 seed", path.display()))?;
            let mut arr = [0u8; 32];
            arr.copy_from_slice(&seed);
            keys.push((format!("key-{n}"), SigningKey::from_seed(arr)));
        }
        Ok(Self { keys })
    }

    /// Adds a new key, which signs from now on; its id (`key-N`).
    pub fn rotate(data_dir: &Path) -> anyhow::Result<String> {
        let dir = Self::dir(data_dir);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let next = Self::load(data_dir)?
            .keys
            .last()
            .and_then(|(id, _)| id.strip_prefix("key-")?.parse::<u32>().ok())
            .unwrap_or(0)
            + 1;
        let key = SigningKey::generate().map_err(|e| anyhow::anyhow!("{e}"))?;
        let path = dir.join(format!("key-{next}.seed"));
        write_private(&path, &invigil_core::chain::hex(key.seed()))
            .with_context(|| format!("cannot write the badge key {}", path.display()))?;
        Ok(format!("key-{next}"))
    }

    /// The key that signs new badges.
    pub fn current(&self) -> (&str, &SigningKey) {
        let (id, key) = self.keys.last().expect("at least one key is loaded");
        (id, key)
    }

    pub fn get(&self, id: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|(k, _)| k == id).map(|(_, key)| key)
    }

    pub fn all(&self) -> &[(String, SigningKey)] {
        &self.keys
    }
}

/// The public face of the issuer: its URL, name and DID method.
#[derive(Clone, Debug)]
pub struct Issuing {
    /// The server's public URL, no trailing slash.
    pub public_url: String,
    pub issuer_name: String,
    pub did: DidMethod,
}

impl Issuing {
    /// `did:web:` of the public URL: the host (a port as `%3A`), then the
    /// path's segments separated by `:`.
    pub fn web_did(&self) -> String {
        let rest = self
            .public_url
            .split_once("://")
            .map(|(_, r)| r)
            .unwrap_or(&self.public_url);
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let mut did = format!("did:web:{}", host.replace(':', "%3A"));
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            did.push(':');
            did.push_str(seg);
        }
        did
    }

    /// The issuer DID and verification method of a key.
    pub fn signer(&self, key_id: &str, key: &SigningKey) -> (String, String) {
        match self.did {
            DidMethod::Web => {
                let did = self.web_did();
                let method = format!("{did}#{key_id}");
                (did, method)
            }
            DidMethod::Key => (key.public().did_key(), key.public().did_key_method()),
        }
    }

    pub fn badge_url(&self, id: &str) -> String {
        format!("{}/badges/{id}", self.public_url)
    }

    pub fn achievement_url(&self, exam_id: &str) -> String {
        format!("{}/badges/achievements/{exam_id}", self.public_url)
    }

    pub fn list_url(&self, list: i64, purpose: Purpose) -> String {
        format!(
            "{}/badges/status/{list}/{}",
            self.public_url,
            purpose.as_str()
        )
    }
}

/// The checked text of an exam's achievement.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct AchievementText {
    pub name: String,
    pub description: String,
    pub criteria: String,
    #[serde(default)]
    pub valid_months: Option<u32>,
}

/// An exam's achievement and image, if it has one.
pub async fn achievement_of(
    state: &AppState,
    exam_id: &str,
) -> ApiResult<Option<(AchievementText, bool)>> {
    let row: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT achievement, achievement_image FROM exams WHERE id = $1")
            .bind(exam_id)
            .fetch_optional(&state.db.pool)
            .await?;
    let Some((text, image)) = row else {
        return Err(ApiError::not_found(format!("no exam {exam_id}")));
    };
    match text {
        None => Ok(None),
        Some(t) => {
            let a: AchievementText = serde_json::from_str(&t).map_err(ApiError::internal)?;
            Ok(Some((a, image.is_some())))
        }
    }
}

pub fn achievement_view(
    state: &AppState,
    exam_id: &str,
    a: &AchievementText,
    has_image: bool,
) -> Achievement {
    Achievement {
        exam_id: exam_id.to_owned(),
        name: a.name.clone(),
        description: a.description.clone(),
        criteria: a.criteria.clone(),
        has_image,
        valid_months: a.valid_months,
        url: state.issuing.achievement_url(exam_id),
    }
}

/// The columns [`BadgeRow`] reads.
pub const BADGE_COLUMNS: &str =
    "id, exam_id, candidate_id, session_id, status, status_reason, status_ms, \
     issued_ms, issued_by, valid_until_ms";

#[derive(sqlx::FromRow)]
pub struct BadgeRow {
    pub id: String,
    pub exam_id: String,
    pub candidate_id: String,
    pub session_id: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub status_ms: Option<i64>,
    pub issued_ms: i64,
    pub issued_by: String,
    pub valid_until_ms: Option<i64>,
}

impl BadgeRow {
    pub fn view(self, issuing: &Issuing) -> Badge {
        let url = issuing.badge_url(&self.id);
        Badge {
            credential_url: format!("{url}/credential.json"),
            png_url: format!("{url}/badge.png"),
            url,
            id: self.id,
            exam_id: self.exam_id,
            candidate_id: self.candidate_id,
            session_id: self.session_id,
            status: BadgeStatus::parse(&self.status).unwrap_or(BadgeStatus::Revoked),
            status_reason: self.status_reason,
            status_ms: self.status_ms,
            issued_ms: self.issued_ms,
            issued_by: self.issued_by,
            valid_until_ms: self.valid_until_ms,
        }
    }
}

pub async fn badge(state: &AppState, id: &str) -> ApiResult<Option<BadgeRow>> {
    Ok(
        sqlx::query_as(&format!("SELECT {BADGE_COLUMNS} FROM badges WHERE id = $1"))
            .bind(id)
            .fetch_optional(&state.db.pool)
            .await?,
    )
}

/// What a pass needs, checked before anything is issued.
pub struct Eligible {
    pub candidate_id: String,
    pub email: String,
    pub session_id: String,
}

/// Checks that `candidate_id` may be given the exam's badge: enrolled with
/// an email, its session ended and not invalidated. `Ok(None)`: it already
/// has one for that session.
pub async fn check_pass(
    state: &AppState,
    exam_id: &str,
    candidate_id: &str,
) -> ApiResult<Result<Eligible, BadgeRow>> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT email, session_id FROM enrolments WHERE exam_id = $1 AND candidate_id = $2",
    )
    .bind(exam_id)
    .bind(candidate_id)
    .fetch_optional(&state.db.pool)
    .await?;
    let field = "candidate_ids";
    let Some((email, session)) = row else {
        return Err(ApiError::invalid_field(
            field,
            format!("{candidate_id:?} is not enrolled in exam {exam_id}"),
        ));
    };
    let Some(session_id) = session else {
        return Err(ApiError::invalid_field(
            field,
            format!("{candidate_id:?} has not started exam {exam_id}"),
        ));
    };
    if let Some(existing) = sqlx::query_as::<_, BadgeRow>(&format!(
        "SELECT {BADGE_COLUMNS} FROM badges WHERE session_id = $1"
    ))
    .bind(&session_id)
    .fetch_optional(&state.db.pool)
    .await?
    {
        return Ok(Err(existing));
    }
    let email = invigil_badges::credential::normalise_email(&email);
    if !plausible_email(&email) {
        return Err(ApiError::invalid_field(
            field,
            format!("{candidate_id:?} has no email on the roster: a badge names its earner by a hash of their email"),
        ));
    }
    let (state_s, verdict): (String, Option<String>) =
        sqlx::query_as("SELECT state, verdict FROM sessions WHERE id = $1")
            .bind(&session_id)
            .fetch_one(&state.db.pool)
            .await?;
    if verdict.as_deref() == Some("invalidated") {
        return Err(ApiError::invalid_field(
            field,
            format!("{candidate_id:?}'s session {session_id} was invalidated: no badge"),
        ));
    }
    if state_s != "ended" {
        return Err(ApiError::invalid_field(
            field,
            format!("{candidate_id:?}'s session {session_id} has not ended yet"),
        ));
    }
    Ok(Ok(Eligible {
        candidate_id: candidate_id.to_owned(),
        email,
        session_id,
    }))
}

fn plausible_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    invigil_core::chain::hex(&bytes)
}

/// Where `n` new badges' status bits go: free entries of the current key's
/// list (new lists when it is 3/4 full, so random probing stays cheap),
/// each chosen at random so that a badge's index says nothing about when
/// it was issued (a list gives "herd privacy" only if neighbours are
/// strangers). Returns the slots and the lists to open. Callers hold the
/// issuing lock; the `UNIQUE (list_id, list_index)` constraint catches
/// anything else.
async fn plan_slots(
    state: &AppState,
    key_id: &str,
    n: usize,
) -> ApiResult<(Vec<(i64, i64)>, Vec<i64>)> {
    use std::collections::HashSet;
    let limit = LIST_LEN * 3 / 4;
    let current: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM badge_lists WHERE key_id = $1 ORDER BY id DESC LIMIT 1")
            .bind(key_id)
            .fetch_optional(&state.db.pool)
            .await?;
    let (max,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM badge_lists")
        .fetch_one(&state.db.pool)
        .await?;
    let mut next_id = max.unwrap_or(0) + 1;
    let mut list = current.map(|(id,)| id);
    let mut used: HashSet<i64> = HashSet::new();
    if let Some(id) = list {
        let rows: Vec<(i64,)> = sqlx::query_as("SELECT list_index FROM badges WHERE list_id = $1")
            .bind(id)
            .fetch_all(&state.db.pool)
            .await?;
        used = rows.into_iter().map(|(i,)| i).collect();
    }
    let mut slots = Vec::with_capacity(n);
    let mut opened = Vec::new();
    for _ in 0..n {
        let id = match list {
            Some(id) if used.len() < limit => id,
            _ => {
                let id = next_id;
                next_id += 1;
                opened.push(id);
                used.clear();
                list = Some(id);
                id
            }
        };
        let index = loop {
            let mut b = [0u8; 4];
            getrandom::fill(&mut b).expect("the OS random source works");
            let index = (u32::from_le_bytes(b) as usize % LIST_LEN) as i64;
            if used.insert(index) {
                break index;
            }
        };
        slots.push((id, index));
    }
    Ok((slots, opened))
}

/// One badge ready to store.
struct Signed {
    id: String,
    pass: Eligible,
    list: i64,
    index: i64,
    now: i64,
    valid_until: Option<i64>,
    credential: String,
}

/// Issues badges for `passes` (already checked by [`check_pass`]): all are
/// signed first, outside any transaction (~5 ms each), then stored in one
/// short transaction, so all are issued or none and other writers (live
/// sessions' events) are not held up while a results file is signed.
pub async fn issue(
    state: &AppState,
    exam_id: &str,
    passes: Vec<Eligible>,
    admin: &str,
) -> ApiResult<Vec<Badge>> {
    let Some((achievement, _)) = achievement_of(state, exam_id).await? else {
        return Err(ApiError::conflict(
            "no_achievement",
            format!("exam {exam_id} defines no achievement: set one (PUT /api/v1/exams/{exam_id}/achievement) first"),
        ));
    };
    let _one_at_a_time = state.badge_issuing.lock().await;
    let issuing = state.issuing.clone();
    let key_id = state.badge_keys.current().0.to_owned();
    let (slots, opened) = plan_slots(state, &key_id, passes.len()).await?;
    let state2 = state.clone();
    let key_id2 = key_id.clone();
    let issuing2 = issuing.clone();
    let exam = exam_id.to_owned();
    let signed = tokio::task::spawn_blocking(move || -> Result<Vec<Signed>, String> {
        let key = state2
            .badge_keys
            .get(&key_id2)
            .ok_or("the signing key is gone")?;
        let (did, method) = issuing2.signer(&key_id2, key);
        let a = &achievement;
        let mut out = Vec::with_capacity(passes.len());
        for (pass, (list, index)) in passes.into_iter().zip(slots) {
            let mut uuid = [0u8; 16];
            getrandom::fill(&mut uuid).expect("the OS random source works");
            let urn = urn_uuid(uuid);
            let now = now_ms();
            // An average Gregorian month: 30.436875 days.
            let valid_until = a.valid_months.map(|m| now + i64::from(m) * 2_629_746_000);
            let salt = random_hex(16);
            let entry = |purpose| StatusEntry {
                list_url: issuing2.list_url(list, purpose),
                index: index as usize,
                purpose,
            };
            let content = BadgeContent {
                id: urn.clone(),
                issuer: Issuer {
                    id: did.clone(),
                    name: issuing2.issuer_name.clone(),
                    url: Some(issuing2.public_url.clone()),
                },
                achievement: CredAchievement {
                    id: issuing2.achievement_url(&exam),
                    name: a.name.clone(),
                    description: a.description.clone(),
                    criteria: a.criteria.clone(),
                    image: Some(format!("{}/image.png", issuing2.achievement_url(&exam))),
                },
                identity_hash: identity_hash(&pass.email, &salt),
                salt,
                valid_from_ms: now,
                valid_until_ms: valid_until,
                status: vec![entry(Purpose::Revocation), entry(Purpose::Suspension)],
            };
            let created = invigil_badges::dates::format(now);
            let credential =
                invigil_badges::proof::sign(&content.to_json(), key, &method, &created)
                    .map_err(|e| e.to_string())?;
            out.push(Signed {
                id: urn.trim_start_matches("urn:uuid:").to_owned(),
                pass,
                list,
                index,
                now,
                valid_until,
                credential: credential.to_string(),
            });
        }
        Ok(out)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;

    let mut tx = state.db.pool.begin().await?;
    for id in &opened {
        sqlx::query(
            "INSERT INTO badge_lists (id, key_id, next_index, created_ms) VALUES ($1, $2, 0, $3)",
        )
        .bind(id)
        .bind(&key_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    }
    let mut per_list: HashMap<i64, i64> = HashMap::new();
    for b in &signed {
        *per_list.entry(b.list).or_default() += 1;
        sqlx::query(
            "INSERT INTO badges (id, exam_id, candidate_id, session_id, list_id, list_index, key_id, status, \
             issued_ms, issued_by, valid_until_ms, credential) VALUES ($1, $2, $3, $4, $5, $6, $7, 'valid', $8, $9, $10, $11)",
        )
        .bind(&b.id)
        .bind(exam_id)
        .bind(&b.pass.candidate_id)
        .bind(&b.pass.session_id)
        .bind(b.list)
        .bind(b.index)
        .bind(&key_id)
        .bind(b.now)
        .bind(admin)
        .bind(b.valid_until)
        .bind(&b.credential)
        .execute(&mut *tx)
        .await?;
    }
    // `next_index` counts the entries used.
    for (list, n) in per_list {
        sqlx::query("UPDATE badge_lists SET next_index = next_index + $1 WHERE id = $2")
            .bind(n)
            .bind(list)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(signed
        .into_iter()
        .map(|b| {
            BadgeRow {
                id: b.id,
                exam_id: exam_id.to_owned(),
                candidate_id: b.pass.candidate_id,
                session_id: b.pass.session_id,
                status: "valid".into(),
                status_reason: None,
                status_ms: None,
                issued_ms: b.now,
                issued_by: admin.to_owned(),
                valid_until_ms: b.valid_until,
            }
            .view(&issuing)
        })
        .collect())
}

/// Revokes the badge of an invalidated session, inside the invalidation's
/// own transaction; whether there was one to revoke.
pub async fn revoke_for_session(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    session_id: &str,
    actor: &str,
    at_ms: i64,
) -> ApiResult<bool> {
    let changed = sqlx::query(
        "UPDATE badges SET status = 'revoked', status_reason = $1, status_ms = $2, status_actor = $3 \
         WHERE session_id = $4 AND status <> 'revoked'",
    )
    .bind("the session was invalidated")
    .bind(at_ms)
    .bind(actor)
    .bind(session_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(changed > 0)
}

/// A status list's set indices and its signed credential.
type SignedList = (Vec<i64>, Value);

/// Signed status list credentials by (list, purpose), kept until their
/// bits change.
#[derive(Default)]
pub struct ListCache {
    lists: Mutex<HashMap<(i64, &'static str), SignedList>>,
}

/// The signed `BitstringStatusListCredential` of `list` for `purpose`.
pub async fn status_list(state: &AppState, list: i64, purpose: Purpose) -> ApiResult<Value> {
    let row: Option<(String,)> = sqlx::query_as("SELECT key_id FROM badge_lists WHERE id = $1")
        .bind(list)
        .fetch_optional(&state.db.pool)
        .await?;
    let Some((key_id,)) = row else {
        return Err(ApiError::not_found(format!("no status list {list}")));
    };
    let set_status = match purpose {
        Purpose::Revocation => "revoked",
        Purpose::Suspension => "suspended",
    };
    let set: Vec<(i64,)> = sqlx::query_as(
        "SELECT list_index FROM badges WHERE list_id = $1 AND status = $2 ORDER BY list_index",
    )
    .bind(list)
    .bind(set_status)
    .fetch_all(&state.db.pool)
    .await?;
    let set: Vec<i64> = set.into_iter().map(|(i,)| i).collect();
    let cache_key = (list, purpose.as_str());
    if let Some((bits, doc)) = state
        .badge_lists
        .lists
        .lock()
        .expect("cache lock")
        .get(&cache_key)
    {
        if *bits == set {
            return Ok(doc.clone());
        }
    }
    let state2 = state.clone();
    let set2 = set.clone();
    let doc = tokio::task::spawn_blocking(move || -> Result<Value, String> {
        let key = state2
            .badge_keys
            .get(&key_id)
            .ok_or_else(|| format!("status list {list} was signed with {key_id}, which is no longer in the data directory"))?;
        let mut bits = Bitstring::default();
        for i in &set2 {
            bits.set(*i as usize, true).map_err(|e| e.to_string())?;
        }
        let (did, method) = state2.issuing.signer(&key_id, key);
        let now = now_ms();
        let unsigned = bits.credential(&state2.issuing.list_url(list, purpose), purpose, &did, now);
        invigil_badges::proof::sign(&unsigned, key, &method, &invigil_badges::dates::format(now)).map_err(|e| e.to_string())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    state
        .badge_lists
        .lists
        .lock()
        .expect("cache lock")
        .insert(cache_key, (set, doc.clone()));
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_dids_follow_the_public_url() {
        let at = |url: &str| {
            Issuing {
                public_url: url.into(),
                issuer_name: "x".into(),
                did: DidMethod::Web,
            }
            .web_did()
        };
        assert_eq!(at("https://exams.example.edu"), "did:web:exams.example.edu");
        assert_eq!(
            at("https://example.edu/proctoring"),
            "did:web:example.edu:proctoring"
        );
        assert_eq!(at("http://127.0.0.1:8480"), "did:web:127.0.0.1%3A8480");
        // What the verifier makes of it again.
        assert_eq!(
            invigil_badges::verify::did_web_url(&at("https://example.edu/proctoring")).unwrap(),
            "https://example.edu/proctoring/did.json"
        );
    }

    #[test]
    fn keys_rotate_and_stay() {
        let dir = tempfile::tempdir().unwrap();
        let first = BadgeKeys::load_or_create(dir.path()).unwrap();
        assert_eq!(first.current().0, "key-1");
        let again = BadgeKeys::load_or_create(dir.path()).unwrap();
        assert_eq!(again.current().1.public(), first.current().1.public());
        assert_eq!(BadgeKeys::rotate(dir.path()).unwrap(), "key-2");
        let rotated = BadgeKeys::load(dir.path()).unwrap();
        assert_eq!(rotated.all().len(), 2);
        assert_eq!(rotated.current().0, "key-2");
        assert_eq!(
            rotated.get("key-1").unwrap().public(),
            first.current().1.public()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEYS_DIR).join("key-2.seed"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.path().join(KEYS_DIR).join("key-3.seed"), "not hex").unwrap();
        let err = BadgeKeys::load(dir.path()).err().unwrap().to_string();
        assert!(err.contains("key-3.seed"), "{err}");
    }
}

/// Reads a results CSV: a header naming `candidate_id` and, optionally,
/// `passed`; other columns are ignored. The candidates who passed, and how
/// many rows did not.
pub fn parse_passes(text: &str) -> ApiResult<(Vec<String>, u32)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = crate::exams::csv_rows(text)?
        .into_iter()
        .filter(|(_, f)| !f.iter().all(|c| c.trim().is_empty()));
    let Some((_, header)) = rows.next() else {
        return Err(ApiError::invalid_field("csv", "the results file is empty"));
    };
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let id_col = col("candidate_id").ok_or_else(|| {
        ApiError::invalid_field(
            "csv",
            "line 1: the header has no `candidate_id` column (and optionally `passed`)",
        )
    })?;
    let passed_col = col("passed");
    let mut passed = Vec::new();
    let mut not_passed = 0u32;
    for (line, fields) in rows {
        let id = fields.get(id_col).map(|s| s.trim()).unwrap_or_default();
        if id.is_empty() {
            return Err(ApiError::invalid_field(
                "csv",
                format!("line {line}: no candidate_id"),
            ));
        }
        let pass = match passed_col.map(|c| {
            fields
                .get(c)
                .map(|s| s.trim().to_ascii_lowercase())
                .unwrap_or_default()
        }) {
            None => true,
            Some(v) => match v.as_str() {
                "true" | "yes" | "1" | "pass" | "passed" | "y" => true,
                "false" | "no" | "0" | "fail" | "failed" | "n" => false,
                other => {
                    return Err(ApiError::invalid_field(
                        "csv",
                        format!("line {line}: passed is {other:?}; write true or false"),
                    ))
                }
            },
        };
        if pass {
            if passed.iter().any(|p| p == id) {
                return Err(ApiError::invalid_field(
                    "csv",
                    format!("line {line}: {id:?} appears twice"),
                ));
            }
            passed.push(id.to_owned());
        } else {
            not_passed += 1;
        }
        if passed.len() + not_passed as usize > crate::exams::MAX_ROSTER_ROWS {
            return Err(ApiError::invalid_field(
                "csv",
                format!(
                    "at most {} rows; split the file",
                    crate::exams::MAX_ROSTER_ROWS
                ),
            ));
        }
    }
    Ok((passed, not_passed))
}

#[cfg(test)]
mod csv_tests {
    use super::parse_passes;

    #[test]
    fn results_files() {
        let (p, n) =
            parse_passes("candidate_id,score,passed\nc1,80,true\nc2,40,false\n\"c3\",75,PASS\n")
                .unwrap();
        assert_eq!((p, n), (vec!["c1".to_string(), "c3".to_string()], 1));
        let (p, n) = parse_passes("\u{feff}name,candidate_id\nAda,c1\n").unwrap();
        assert_eq!((p, n), (vec!["c1".to_string()], 0));
        for (bad, says) in [
            ("", "empty"),
            ("id,score\nc1,3\n", "no `candidate_id`"),
            (
                "candidate_id,passed\nc1,maybe\n",
                "line 2: passed is \"maybe\"",
            ),
            ("candidate_id\nc1\nc1\n", "line 3: \"c1\" appears twice"),
            ("candidate_id,passed\n,true\n", "line 2: no candidate_id"),
        ] {
            let err = parse_passes(bad).unwrap_err();
            assert!(err.message.contains(says), "{bad:?}: {}", err.message);
        }
    }
}
