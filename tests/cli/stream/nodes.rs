//! Three `invigil serve` processes on one PostgreSQL database and one S3
//! bucket, behind a round-robin TCP balancer: candidates stream through
//! different nodes, a proctor watches alerts on a node of its own, one node
//! is killed with SIGKILL mid-stream, and every session arrives whole, once,
//! with its alerts once and in order and its clips in the bucket
//! (docs/deploy.md, "Several nodes"). Skipped (loudly) without
//! `INVIGIL_TEST_POSTGRES`; scripts/test always sets it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::*;

#[path = "../../../crates/invigil-server/tests/common/s3.rs"]
#[allow(dead_code)]
mod s3;

/// A TCP load balancer: each new connection goes to the next backend in
/// turn; a backend that refuses the connection is skipped (a balancer's
/// passive health check), so clients of a dead node reconnect to the others.
struct Balancer {
    addr: std::net::SocketAddr,
    /// Connections handed to each backend so far.
    handed: Arc<Vec<AtomicUsize>>,
    /// Connections open to each backend now.
    open: Arc<Vec<AtomicUsize>>,
}

impl Balancer {
    fn start(backends: Vec<std::net::SocketAddr>) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let counters = || Arc::new((0..backends.len()).map(|_| AtomicUsize::new(0)).collect());
        let (handed, open): (Arc<Vec<AtomicUsize>>, Arc<Vec<AtomicUsize>>) =
            (counters(), counters());
        let (h, o) = (handed.clone(), open.clone());
        std::thread::spawn(move || {
            let mut next = 0;
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let mut picked = None;
                for _ in 0..backends.len() {
                    let i = next % backends.len();
                    next += 1;
                    let timeout = Duration::from_millis(500);
                    if let Ok(server) = TcpStream::connect_timeout(&backends[i], timeout) {
                        picked = Some((i, server));
                        break;
                    }
                }
                let Some((i, server)) = picked else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                h[i].fetch_add(1, Ordering::SeqCst);
                o[i].fetch_add(1, Ordering::SeqCst);
                let open = o.clone();
                std::thread::spawn(move || {
                    pipe(client, server);
                    open[i].fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self { addr, handed, open }
    }

    fn counts(of: &[AtomicUsize]) -> Vec<usize> {
        of.iter().map(|c| c.load(Ordering::SeqCst)).collect()
    }
}

/// Copies both ways until either side closes, then closes both.
fn pipe(client: TcpStream, server: TcpStream) {
    let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let upstream = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c_read, &mut s_write);
        let _ = s_write.shutdown(Shutdown::Write);
    });
    let (mut s_read, mut c_write) = (server, client);
    let _ = std::io::copy(&mut s_read, &mut c_write);
    // The server went away (or answered and closed): the client must see it.
    let _ = c_write.shutdown(Shutdown::Both);
    let _ = s_read.shutdown(Shutdown::Both);
    let _ = upstream.join();
}

/// A database of its own on the test PostgreSQL server, dropped at the end;
/// the test database itself when its role may not create databases.
struct ScratchDb {
    admin_url: String,
    name: Option<String>,
    url: String,
    rt: Arc<tokio::runtime::Runtime>,
}

impl ScratchDb {
    fn create(admin_url: &str, rt: Arc<tokio::runtime::Runtime>) -> Self {
        use sqlx::Connection;
        let name = format!("invigil_nodes_{}", std::process::id());
        let created = rt.block_on(async {
            let mut c = sqlx::PgConnection::connect(admin_url).await.unwrap();
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                .execute(&mut c)
                .await;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut c)
                .await
        });
        let (base, _) = admin_url.rsplit_once('/').unwrap();
        let (name, url) = match created {
            Ok(_) => (Some(name.clone()), format!("{base}/{name}")),
            Err(e) => {
                eprintln!("three nodes: using the shared test database ({e})");
                (None, admin_url.to_owned())
            }
        };
        Self {
            admin_url: admin_url.to_owned(),
            name,
            url,
            rt,
        }
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        use sqlx::Connection;
        let Some(name) = &self.name else { return };
        self.rt.block_on(async {
            if let Ok(mut c) = sqlx::PgConnection::connect(&self.admin_url).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut c)
                    .await;
            }
        });
    }
}

/// A proctor's alert stream, read on its own thread: `(session, seq)` of
/// every `alert` event, in the order they came.
fn follow_alerts(base: &str, user: &str) -> Arc<Mutex<Vec<(String, u64)>>> {
    let got = Arc::new(Mutex::new(Vec::new()));
    let r = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .unwrap()
        .get(format!("{base}/api/v1/alerts"))
        .basic_auth(user, Some(PASSWORD))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let sink = got.clone();
    std::thread::spawn(move || {
        let mut is_alert = false;
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { return };
            if let Some(kind) = line.strip_prefix("event: ") {
                is_alert = kind == "alert";
            } else if let Some(data) = line.strip_prefix("data: ") {
                if !is_alert {
                    continue;
                }
                let alert: Value = serde_json::from_str(data).unwrap();
                let session = alert["session_id"].as_str().unwrap().to_owned();
                let seq = alert["event"]["seq"].as_u64().unwrap();
                sink.lock().unwrap().push((session, seq));
            }
        }
    });
    got
}

const CANDIDATES: usize = 4;

#[test]
fn three_nodes_one_killed_mid_stream_lose_and_double_nothing() {
    let Ok(pg) = std::env::var("INVIGIL_TEST_POSTGRES") else {
        eprintln!("SKIPPED: three nodes need INVIGIL_TEST_POSTGRES (scripts/test sets it)");
        return;
    };
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    );
    let db = ScratchDb::create(&pg, rt.clone());
    let bucket = rt.block_on(s3::S3Server::start("exam-media"));
    let dir = tempfile::tempdir().unwrap();

    // One proctor account in the nodes' database.
    let proctor = "qa";
    add_proctor_with(&dir.path().join("admin"), &["--database", &db.url]);

    // Three nodes, each with its own --data (upload scratch space) holding
    // the same receipt key, as docs/deploy.md asks.
    let node_env = |cmd: &mut Command| {
        cmd.env("AWS_ACCESS_KEY_ID", s3::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", s3::SECRET_KEY)
            .env("AWS_ENDPOINT_URL", format!("http://{}", bucket.addr))
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ALLOW_HTTP", "true");
    };
    let media = "s3://exam-media/nodes";
    let mut nodes: Vec<ServerProc> = Vec::new();
    for i in 0..3 {
        let data = dir.path().join(format!("node{i}"));
        if i > 0 {
            std::fs::create_dir_all(&data).unwrap();
            std::fs::copy(
                dir.path().join("node0").join(invigil_server::KEY_FILE),
                data.join(invigil_server::KEY_FILE),
            )
            .unwrap();
        }
        let flags = [
            "--open-enrolment",
            "--database",
            db.url.as_str(),
            "--media",
            media,
        ];
        nodes.push(ServerProc::start_env(&data, free_port(), &flags, node_env));
    }
    let addrs: Vec<std::net::SocketAddr> = nodes
        .iter()
        .map(|n| n.base.trim_start_matches("http://").parse().unwrap())
        .collect();
    // Candidates reach nodes 0 and 1 through the balancer; the proctor
    // watches on node 2, which candidates never reach directly.
    let balancer = Balancer::start(addrs[..2].to_vec());
    let front = format!("http://{}", balancer.addr);
    let alerts = follow_alerts(&nodes[2].base, proctor);

    let mut clients = Vec::new();
    for c in 0..CANDIDATES {
        let journal = dir.path().join(format!("journal{c}"));
        let events = dir.path().join(format!("events{c}.jsonl"));
        let child = Command::new(env!("CARGO_BIN_EXE_invigil"))
            .current_dir(root())
            .args(["watch", "--quiet", "--realtime", "--source", SCENARIO])
            .args(["--server", &front, "--exam", "exam-nodes"])
            .args(["--candidate", &format!("cand-{c}"), "--journal"])
            .arg(&journal)
            .arg("--events")
            .arg(&events)
            .args(["--drain-timeout", "90"])
            .env_remove("INVIGIL_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        clients.push((child, journal, events));
    }

    // Kill node 0 during the first absence (8-15 s into the exam), once it
    // holds candidates' connections.
    std::thread::sleep(Duration::from_secs(12));
    let open_before = Balancer::counts(&balancer.open);
    assert!(
        open_before[0] > 0,
        "node 0 serves candidates when it is killed: {open_before:?}"
    );
    nodes[0].kill();
    let handed_at_kill = Balancer::counts(&balancer.handed);

    let mut sessions = Vec::new();
    for (child, journal, events) in clients {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "watch: {}", stderr(&out));
        sessions.push((session_id(&journal), read_events(&events), journal));
    }
    let handed = Balancer::counts(&balancer.handed);
    eprintln!(
        "three nodes: connections open at the kill {open_before:?}, handed out by then {handed_at_kill:?}, in all {handed:?}"
    );
    assert!(
        handed[1] > handed_at_kill[1],
        "clients reconnected to node 1 after the kill: {handed_at_kill:?} then {handed:?}"
    );

    // Every session: whole and once on the surviving nodes, each reading
    // the same database.
    let mut expected_alerts: HashMap<String, Vec<u64>> = HashMap::new();
    let mut receipt_keys = std::collections::HashSet::new();
    for (session, local, journal) in &sessions {
        for node in &nodes[1..] {
            let tl = timeline(&node.base, session);
            let events = assert_delivered_once(&tl, session, std::slice::from_ref(local));
            assert_eq!(
                &events, local,
                "{session}: the server holds what was written"
            );
            // Clips are in the bucket, under the prefix, by their SHA-256.
            let objects = bucket.objects("nodes");
            for m in tl["media"].as_array().unwrap() {
                let sha = m["sha256"].as_str().unwrap();
                let key = format!("nodes/{}/{sha}", &sha[..2]);
                assert!(objects.contains(&key), "{key} in the bucket: {objects:?}");
                let r = get(
                    &node.base,
                    &format!("/api/v1/sessions/{session}/media/{sha}"),
                );
                assert_eq!(r.status(), 200);
                let body = r.bytes().unwrap();
                assert_eq!(invigil_core::chain::hex(&Sha256::digest(&body)), sha);
            }
            // (Besides the clips, a spot-check snapshot may have been asked
            // for: the default policy checks every 60 s, at random.)
            let clips = tl["media"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["kind"] == "clip")
                .count();
            assert_eq!(
                clips,
                local.iter().filter(|e| e["kind"] == "clip_saved").count(),
                "{session}: every clip uploaded"
            );
        }
        expected_alerts.insert(
            session.clone(),
            local
                .iter()
                .filter(|e| matches!(e["severity"].as_str(), Some("warning" | "violation")))
                .map(|e| e["seq"].as_u64().unwrap())
                .collect(),
        );
        let receipts =
            std::fs::read_to_string(journal.join(invigil_uplink::RECEIPTS_FILE)).unwrap();
        for line in receipts.lines() {
            let r: Value = serde_json::from_str(line).unwrap();
            receipt_keys.insert(r["key_id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(
        receipt_keys.len(),
        1,
        "every node signs receipts with the one key: {receipt_keys:?}"
    );
    // No node kept a body on its own disk.
    for i in 0..3 {
        let media_dir = dir.path().join(format!("node{i}/media"));
        let held = std::fs::read_dir(&media_dir).map_or(0, |d| d.count());
        assert_eq!(held, 0, "{} holds no bodies", media_dir.display());
    }

    // The proctor on node 2 saw every alert of every session once, in
    // order, though candidates never spoke to node 2.
    let want: usize = expected_alerts.values().map(Vec::len).sum();
    assert!(
        want >= CANDIDATES * 3,
        "the scenario raises alerts ({want})"
    );
    let deadline = Instant::now() + Duration::from_secs(40);
    while alerts.lock().unwrap().len() < want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    // Doubles would come right behind.
    std::thread::sleep(Duration::from_millis(1500));
    let mut got: HashMap<String, Vec<u64>> = HashMap::new();
    for (session, seq) in alerts.lock().unwrap().iter() {
        // (A shared database carries other tests' sessions too.)
        if expected_alerts.contains_key(session) {
            got.entry(session.clone()).or_default().push(*seq);
        }
    }
    eprintln!("three nodes: {want} alerts of {CANDIDATES} sessions on node 2");
    assert_eq!(
        got, expected_alerts,
        "each alert once, in order per session"
    );
}
