//! Simulated candidates against one or more server nodes, and a proctor's
//! alert stream on one of them: what the load benchmark measures
//! (`scripts/bench-nodes`, docs/performance.md "Several nodes") and what
//! its short pass in the test suite checks (`tests/nodes.rs`).
//!
//! Each candidate opens a session, then until the end sends events one
//! batch each at random times (a Poisson process at `events_per_min`, half
//! of them warnings, which are alerts), a heartbeat after 30 s without
//! contact, a clip (`clip_bytes`, with its `clip_saved` event) every
//! `clip_every_s` at a random phase, and answers the server's spot-check
//! requests with a snapshot when given one; then it ends the session.
//! Requests go to the nodes in turn (a balancer spreading requests); a
//! failed request is retried on the next node after 250 ms, as the client
//! does, so nothing is skipped. Every event carries the time it was sent
//! (`data.sent_ms`), so the proctor side measures each alert's latency.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use invigil_core::chain::Chain;
use invigil_core::{Event, EventKind, EVENT_SCHEMA_VERSION};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// How a candidate behaves and how many there are.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Where candidates' requests go, in turn.
    pub candidate_urls: Vec<String>,
    /// The node the proctor's alert stream is on.
    pub proctor_url: String,
    pub proctor_user: String,
    pub proctor_password: String,
    pub candidates: usize,
    /// From the first session opened to the last event sent.
    pub duration: Duration,
    /// Candidates start spread over this much of the run.
    pub ramp: Duration,
    pub events_per_min: f64,
    /// 0: no clips.
    pub clip_every_s: f64,
    pub clip_bytes: usize,
    /// The session policy's `spot_check_s` (0: off).
    pub spot_check_s: f64,
    /// A JPEG to answer spot checks with (a few random bytes are appended
    /// each time so that no two snapshots are the same body).
    pub snapshot: Option<Vec<u8>>,
    /// Names the exam (and prefixes candidate ids).
    pub exam: String,
}

/// What happened, for the report.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub sessions: usize,
    pub batches: usize,
    pub events_stored: usize,
    pub heartbeats: usize,
    pub clips: usize,
    pub clip_bytes: u64,
    pub snapshots: usize,
    /// Failed attempts (each retried), by what went wrong.
    pub errors: BTreeMap<String, usize>,
    /// Milliseconds from sending a batch to its 200 (`session_ended`
    /// batches apart: every candidate sends one at the end at once).
    pub ingest_ms: Vec<f64>,
    /// The same for the `session_ended` batches.
    pub end_ms: Vec<f64>,
    pub alerts_expected: usize,
    pub alerts_received: usize,
    /// Alerts that came more than once, or out of order in their session.
    pub alerts_doubled: usize,
    pub alerts_out_of_order: usize,
    /// Milliseconds from sending an alerting event to the proctor's stream
    /// delivering it.
    pub alert_ms: Vec<f64>,
    /// From the first session opened to the last alert awaited.
    pub elapsed: Duration,
    /// While candidates were sending.
    pub sending: Duration,
}

/// The `q`-quantile of `samples` (sorted in place), or NaN when empty.
pub fn quantile(samples: &mut [f64], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(f64::total_cmp);
    let i = ((samples.len() - 1) as f64 * q).round() as usize;
    samples[i]
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

fn unit() -> f64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// An exponential wait with mean `mean_s`.
fn exp_wait(mean_s: f64) -> Duration {
    Duration::from_secs_f64(-mean_s * (1.0 - unit()).ln())
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).unwrap();
    b
}

/// Shared by the candidates: the nodes in turn, and the tallies.
struct Shared {
    cfg: LoadConfig,
    http: reqwest::Client,
    next: AtomicUsize,
    report: Mutex<LoadReport>,
    /// Alerting events acknowledged: (session, seq).
    alerting: Mutex<HashSet<(String, u64)>>,
}

impl Shared {
    fn url(&self, path: &str) -> String {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.cfg.candidate_urls.len();
        format!("{}{path}", self.cfg.candidate_urls[i])
    }

    fn error(&self, what: String) {
        *self.report.lock().unwrap().errors.entry(what).or_default() += 1;
    }

    /// Sends until answered with a success (a new node each attempt);
    /// `None` once `give_up` has passed.
    async fn send(
        &self,
        give_up: Instant,
        make: impl Fn(String) -> reqwest::RequestBuilder,
        path: &str,
    ) -> Option<reqwest::Response> {
        loop {
            match make(self.url(path)).send().await {
                Ok(r) if r.status().is_success() => return Some(r),
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    let code = serde_json::from_str::<Value>(&body)
                        .ok()
                        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
                        .unwrap_or_default();
                    self.error(format!("{} {code}", status.as_u16()));
                }
                Err(e) => self.error(if e.is_connect() {
                    "connect".into()
                } else {
                    "connection".into()
                }),
            }
            if Instant::now() > give_up {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

struct Candidate {
    id: String,
    token: String,
    chain: Chain,
    seq: u64,
    warn_next: bool,
    last_contact: Instant,
}

impl Candidate {
    async fn open(shared: &Shared, n: usize, give_up: Instant) -> Option<Self> {
        let body = json!({
            "exam_id": shared.cfg.exam,
            "candidate_id": format!("{}-{n}", shared.cfg.exam),
            "policy": {"spot_check_s": shared.cfg.spot_check_s},
        });
        let r = shared
            .send(
                give_up,
                |u| shared.http.post(u).json(&body),
                "/api/v1/sessions",
            )
            .await?;
        let v: Value = r.json().await.ok()?;
        let id = v["session_id"].as_str()?.to_owned();
        let mut c = Candidate {
            chain: Chain::new(&id),
            token: v["token"].as_str()?.to_owned(),
            id,
            seq: 0,
            warn_next: true,
            last_contact: Instant::now(),
        };
        shared.report.lock().unwrap().sessions += 1;
        c.event(shared, EventKind::SessionStarted, Map::new(), give_up)
            .await?;
        Some(c)
    }

    /// Chains and sends one event; answers a spot check the reply asks for.
    async fn event(
        &mut self,
        shared: &Shared,
        kind: EventKind,
        mut data: Map<String, Value>,
        give_up: Instant,
    ) -> Option<()> {
        data.insert("sent_ms".into(), json!(now_ms() as u64));
        let mut e = Event {
            v: EVENT_SCHEMA_VERSION,
            seq: self.seq,
            t_ms: self.seq * 1000,
            kind,
            severity: kind.severity(),
            data,
            prev: None,
        };
        self.chain.link(&mut e);
        self.seq += 1;
        let body = serde_json::to_vec(&json!({ "events": [e] })).unwrap();
        let path = format!("/api/v1/sessions/{}/events", self.id);
        let sent = Instant::now();
        let r = shared
            .send(
                give_up,
                |u| {
                    shared
                        .http
                        .post(u)
                        .bearer_auth(&self.token)
                        .header("content-type", "application/json")
                        .body(body.clone())
                },
                &path,
            )
            .await?;
        self.last_contact = Instant::now();
        {
            let mut report = shared.report.lock().unwrap();
            report.batches += 1;
            report.events_stored += 1;
            let ms = sent.elapsed().as_secs_f64() * 1000.0;
            if kind == EventKind::SessionEnded {
                report.end_ms.push(ms);
            } else {
                report.ingest_ms.push(ms);
            }
        }
        if e.severity >= invigil_core::Severity::Warning {
            shared
                .alerting
                .lock()
                .unwrap()
                .insert((self.id.clone(), e.seq));
        }
        self.spot_check(shared, &r, give_up).await;
        Some(())
    }

    async fn spot_check(&mut self, shared: &Shared, r: &reqwest::Response, give_up: Instant) {
        let Some(jpeg) = &shared.cfg.snapshot else {
            return;
        };
        let Some(request) = r
            .headers()
            .get("invigil-snapshot")
            .and_then(|v| v.to_str().ok())
        else {
            return;
        };
        let request = request.to_owned();
        let mut body = jpeg.clone();
        body.extend(random_bytes(16));
        let Some(sha) = self.upload(shared, "snapshot", body, give_up).await else {
            return;
        };
        shared.report.lock().unwrap().snapshots += 1;
        let data =
            json!({"request": request, "sha256": sha, "faces": 1, "width": 320, "height": 240});
        let data = data.as_object().unwrap().clone();
        Box::pin(self.event(shared, EventKind::SnapshotTaken, data, give_up)).await;
    }

    async fn upload(
        &self,
        shared: &Shared,
        kind: &str,
        body: Vec<u8>,
        give_up: Instant,
    ) -> Option<String> {
        let sha = invigil_core::chain::hex(&Sha256::digest(&body));
        let (name, ctype) = if kind == "clip" {
            ("clip.mp4", "video/mp4")
        } else {
            ("snapshot.jpg", "image/jpeg")
        };
        let path = format!("/api/v1/sessions/{}/media/{sha}", self.id);
        let body = bytes::Bytes::from(body);
        shared
            .send(
                give_up,
                |u| {
                    shared
                        .http
                        .put(u)
                        .query(&[("name", name), ("kind", kind)])
                        .bearer_auth(&self.token)
                        .header("content-type", ctype)
                        .body(body.clone())
                },
                &path,
            )
            .await?;
        Some(sha)
    }

    async fn clip(&mut self, shared: &Shared, give_up: Instant) -> Option<()> {
        // An MP4's first box (what the server sniffs), then noise.
        let mut body = vec![0, 0, 0, 0x18];
        body.extend_from_slice(b"ftypisom\0\0\x02\0isomiso2");
        body.extend(random_bytes(
            shared.cfg.clip_bytes.saturating_sub(body.len()),
        ));
        let bytes = body.len();
        let sha = self.upload(shared, "clip", body, give_up).await?;
        {
            let mut report = shared.report.lock().unwrap();
            report.clips += 1;
            report.clip_bytes += bytes as u64;
        }
        let data = json!({"sha256": sha, "bytes": bytes, "event_seq": self.seq.saturating_sub(1)});
        self.event(
            shared,
            EventKind::ClipSaved,
            data.as_object().unwrap().clone(),
            give_up,
        )
        .await
    }

    async fn heartbeat(&mut self, shared: &Shared, give_up: Instant) {
        let path = format!("/api/v1/sessions/{}", self.id);
        if let Some(r) = shared
            .send(
                give_up,
                |u| shared.http.head(u).bearer_auth(&self.token),
                &path,
            )
            .await
        {
            self.last_contact = Instant::now();
            shared.report.lock().unwrap().heartbeats += 1;
            self.spot_check(shared, &r, give_up).await;
        }
    }
}

/// One candidate's whole session.
async fn candidate(shared: Arc<Shared>, n: usize, start: Instant, end: Instant) {
    let give_up = end + Duration::from_secs(60);
    let stagger = shared
        .cfg
        .ramp
        .mul_f64(n as f64 / shared.cfg.candidates.max(1) as f64);
    tokio::time::sleep_until((start + stagger).into()).await;
    let Some(mut c) = Candidate::open(&shared, n, give_up).await else {
        return;
    };
    let events_mean_s = 60.0 / shared.cfg.events_per_min.max(1e-6);
    let mut next_event = Instant::now() + exp_wait(events_mean_s);
    let clip_every = shared.cfg.clip_every_s;
    let mut next_clip =
        (clip_every > 0.0).then(|| Instant::now() + Duration::from_secs_f64(clip_every * unit()));
    loop {
        let heartbeat = c.last_contact + Duration::from_secs(30);
        let wake = [Some(next_event), next_clip, Some(heartbeat), Some(end)]
            .into_iter()
            .flatten()
            .min()
            .unwrap();
        tokio::time::sleep_until(wake.into()).await;
        let now = Instant::now();
        if now >= end {
            break;
        }
        if now >= next_event {
            let kind = if c.warn_next {
                EventKind::AbsenceWarning
            } else {
                EventKind::CandidateReturned
            };
            c.warn_next = !c.warn_next;
            if c.event(&shared, kind, Map::new(), give_up).await.is_none() {
                return;
            }
            next_event = Instant::now() + exp_wait(events_mean_s);
        } else if next_clip.is_some_and(|t| now >= t) {
            if c.clip(&shared, give_up).await.is_none() {
                return;
            }
            next_clip = Some(now + Duration::from_secs_f64(clip_every));
        } else if now >= heartbeat {
            c.heartbeat(&shared, give_up).await;
        }
    }
    let _ = c
        .event(&shared, EventKind::SessionEnded, Map::new(), give_up)
        .await;
}

/// The proctor's alert stream: `(session, seq)` → when it came, and the
/// latency of each alert whose event says when it was sent.
type Seen = Arc<
    Mutex<(
        HashMap<(String, u64), usize>,
        Vec<f64>,
        HashMap<String, u64>,
        usize,
    )>,
>;

async fn follow(
    http: reqwest::Client,
    cfg: LoadConfig,
    token: String,
    seen: Seen,
    exam: String,
) -> anyhow::Result<()> {
    let r = http
        .get(format!("{}/api/v1/alerts", cfg.proctor_url))
        .bearer_auth(token)
        .send()
        .await?;
    anyhow::ensure!(r.status() == 200, "alert stream: {}", r.status());
    let mut stream = r.bytes_stream();
    let mut text = String::new();
    let mut is_alert = false;
    while let Some(chunk) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk?));
        // Whole lines only; what was read is dropped once per chunk (not
        // per line: that is quadratic when a chunk holds many alerts).
        let mut start = 0;
        while let Some(len) = text[start..].find('\n') {
            let line = &text[start..start + len];
            start += len + 1;
            if let Some(kind) = line.strip_prefix("event: ") {
                is_alert = kind == "alert";
            } else if let (true, Some(data)) = (is_alert, line.strip_prefix("data: ")) {
                let Ok(alert) = serde_json::from_str::<Value>(data) else {
                    continue;
                };
                if alert["exam_id"].as_str() != Some(exam.as_str()) {
                    continue;
                }
                let at = now_ms();
                let session = alert["session_id"].as_str().unwrap_or("").to_owned();
                let seq = alert["event"]["seq"].as_u64().unwrap_or(0);
                let mut s = seen.lock().unwrap();
                let (counts, latency, last, out_of_order) = &mut *s;
                *counts.entry((session.clone(), seq)).or_default() += 1;
                if last.get(&session).is_some_and(|&l| l >= seq) {
                    *out_of_order += 1;
                }
                last.insert(session, seq);
                if let Some(sent) = alert["event"]["data"]["sent_ms"].as_f64() {
                    latency.push(at - sent);
                }
            }
        }
        text.drain(..start);
    }
    Ok(())
}

/// Runs the load; `progress` is called every few seconds with a line.
pub async fn run(cfg: LoadConfig, progress: impl Fn(String)) -> anyhow::Result<LoadReport> {
    anyhow::ensure!(!cfg.candidate_urls.is_empty(), "no node to send to");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(60))
        .build()?;
    let r = http
        .post(format!("{}/api/v1/auth/login", cfg.proctor_url))
        .json(&json!({"username": cfg.proctor_user, "password": cfg.proctor_password}))
        .send()
        .await?;
    anyhow::ensure!(
        r.status() == 200,
        "proctor sign-in on {}: {}",
        cfg.proctor_url,
        r.status()
    );
    let token = r.json::<Value>().await?["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let seen: Seen = Default::default();
    let stream_http = reqwest::Client::new();
    let follower = tokio::spawn(follow(
        stream_http,
        cfg.clone(),
        token,
        seen.clone(),
        cfg.exam.clone(),
    ));
    // The stream is open before the first alert.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let shared = Arc::new(Shared {
        cfg: cfg.clone(),
        http,
        next: AtomicUsize::new(0),
        report: Mutex::new(LoadReport::default()),
        alerting: Mutex::new(HashSet::new()),
    });
    let start = Instant::now();
    let end = start + cfg.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..cfg.candidates {
        tasks.spawn(candidate(shared.clone(), n, start, end));
    }
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    loop {
        tokio::select! {
            done = tasks.join_next() => if done.is_none() { break },
            _ = tick.tick() => {
                let r = shared.report.lock().unwrap();
                let errors: usize = r.errors.values().sum();
                let alerts = seen.lock().unwrap().0.len();
                progress(format!(
                    "{:>4.0} s: {} sessions, {} events, {} clips, {} snapshots, {} alerts seen, {} errors",
                    start.elapsed().as_secs_f64(), r.sessions, r.events_stored, r.clips, r.snapshots, alerts, errors
                ));
            }
        }
    }
    let sending = start.elapsed();
    // The last alerts on their way.
    let expected = shared.alerting.lock().unwrap().clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let have = {
            let s = seen.lock().unwrap();
            expected.iter().filter(|k| s.0.contains_key(*k)).count()
        };
        if have == expected.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    follower.abort();
    let mut report = std::mem::take(&mut *shared.report.lock().unwrap());
    let s = seen.lock().unwrap();
    report.alerts_expected = expected.len();
    report.alerts_received = expected.iter().filter(|k| s.0.contains_key(*k)).count();
    report.alerts_doubled = s.0.values().filter(|&&n| n > 1).count();
    report.alerts_out_of_order = s.3;
    report.alert_ms = s.1.clone();
    report.elapsed = start.elapsed();
    report.sending = sending;
    Ok(report)
}

impl LoadReport {
    /// A human summary.
    pub fn summary(&mut self) -> String {
        let secs = self.sending.as_secs_f64().max(1e-9);
        let (i50, i99) = (
            quantile(&mut self.ingest_ms, 0.5),
            quantile(&mut self.ingest_ms, 0.99),
        );
        let (a50, a99) = (
            quantile(&mut self.alert_ms, 0.5),
            quantile(&mut self.alert_ms, 0.99),
        );
        let (e50, emax) = (
            quantile(&mut self.end_ms, 0.5),
            quantile(&mut self.end_ms, 1.0),
        );
        format!(
            "{} sessions; {} events in {:.0} s ({:.1}/s), {} heartbeats, {} clips ({:.1} MB), {} snapshots\n\
             ingest latency p50 {i50:.1} ms, p99 {i99:.1} ms; all ending at once: p50 {e50:.1} ms, max {emax:.1} ms\n\
             alerts {}/{} received, {} doubled, {} out of order; latency p50 {a50:.1} ms, p99 {a99:.1} ms\n\
             failed attempts (retried): {:?}",
            self.sessions,
            self.events_stored,
            secs,
            self.events_stored as f64 / secs,
            self.heartbeats,
            self.clips,
            self.clip_bytes as f64 / 1e6,
            self.snapshots,
            self.alerts_received,
            self.alerts_expected,
            self.alerts_doubled,
            self.alerts_out_of_order,
            self.errors,
        )
    }
}
