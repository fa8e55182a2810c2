//! `invigil badge verify` and `invigil badge keys` (docs/badges.md).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use invigil_badges::bake;
use invigil_badges::verify::{self, Lookup, Options, Verdict};
use serde_json::{json, Value};

use crate::args::{BadgeKeysArgs, BadgeVerifyArgs};

/// Exit status: the badge could not be read at all.
const UNREADABLE: u8 = 2;
/// Largest document fetched (a baked PNG, a status list, a DID document).
const MAX_FETCH: usize = 16 << 20;

fn client() -> Result<reqwest::blocking::Client, String> {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!("invigil-badge-verify/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

fn fetch(client: &reqwest::blocking::Client, url: &str) -> Result<(Vec<u8>, String), String> {
    let res = client
        .get(url)
        .send()
        .map_err(|e| format!("cannot fetch {url}: {e}"))?;
    let status = res.status();
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    let content_type = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if res.content_length().is_some_and(|n| n as usize > MAX_FETCH) {
        return Err(format!("{url} is larger than {} MiB", MAX_FETCH >> 20));
    }
    let mut body = Vec::new();
    use std::io::Read;
    res.take(MAX_FETCH as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| format!("cannot read {url}: {e}"))?;
    if body.len() > MAX_FETCH {
        return Err(format!("{url} is larger than {} MiB", MAX_FETCH >> 20));
    }
    Ok((body, content_type))
}

fn json_of(bytes: &[u8], what: &str) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("{what} is not JSON: {e}"))
}

/// Fetches DID documents and status lists over HTTPS (plain HTTP only for
/// a server on this machine: `did:web:localhost%3A8480`, tests).
struct Http {
    client: reqwest::blocking::Client,
}

fn loopback(url: &str) -> bool {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split(['/', ':']).next().unwrap_or("");
    matches!(host, "localhost" | "127.0.0.1") || rest.starts_with("[::1]")
}

impl Lookup for Http {
    fn did_document(&mut self, _did: &str, url: &str) -> Result<Value, String> {
        let url = if loopback(url) {
            url.replacen("https://", "http://", 1)
        } else {
            url.to_owned()
        };
        let (body, _) = fetch(&self.client, &url)?;
        json_of(&body, &url)
    }
    fn status_list(&mut self, url: &str) -> Result<Value, String> {
        if !(url.starts_with("https://") || (url.starts_with("http://") && loopback(url))) {
            return Err(format!("{url}: status lists are fetched over https only"));
        }
        let (body, _) = fetch(&self.client, url)?;
        json_of(&body, url)
    }
}

/// The credential in a JSON or baked PNG's bytes.
fn credential_in(bytes: &[u8], what: &str) -> Result<Value, String> {
    if bytes.starts_with(b"\x89PNG") {
        let text = bake::unbake(bytes)
            .map_err(|e| format!("{what}: {e}"))?
            .ok_or_else(|| {
                format!("{what} is a PNG with no badge baked in (no openbadgecredential chunk)")
            })?;
        return json_of(text.as_bytes(), &format!("the credential baked in {what}"));
    }
    let trimmed = String::from_utf8_lossy(&bytes[..bytes.len().min(64)])
        .trim_start()
        .to_owned();
    if trimmed.starts_with('{') {
        return json_of(bytes, what);
    }
    Err(format!(
        "{what} is neither a credential (JSON) nor a baked badge (PNG)"
    ))
}

fn read_source(source: &str, offline: bool) -> Result<Value, String> {
    if source.starts_with("https://") || source.starts_with("http://") {
        if offline {
            return Err(format!("{source}: --offline fetches nothing; give a file"));
        }
        let client = client()?;
        let (bytes, content_type) = fetch(&client, source)?;
        if content_type.starts_with("text/html") {
            // A badge page: its credential is beside it.
            let url = format!("{}/credential.json", source.trim_end_matches('/'));
            let (bytes, _) = fetch(&client, &url)?;
            return credential_in(&bytes, &url);
        }
        return credential_in(&bytes, source);
    }
    let bytes = std::fs::read(source).map_err(|e| format!("cannot read {source}: {e}"))?;
    if bytes.len() > MAX_FETCH {
        return Err(format!("{source} is larger than {} MiB", MAX_FETCH >> 20));
    }
    credential_in(&bytes, source)
}

pub fn verify(args: &BadgeVerifyArgs) -> ExitCode {
    let doc = match read_source(&args.source, args.offline) {
        Ok(doc) => doc,
        Err(e) => {
            if args.json {
                println!("{}", json!({ "verdict": "unreadable", "error": e }));
            } else {
                eprintln!("invigil: {e}");
            }
            return ExitCode::from(UNREADABLE);
        }
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let options = Options {
        email: args.email.clone(),
        now_ms,
        skip_status: args.offline,
    };
    let v = if args.offline {
        verify::verify(&doc, &options, &mut verify::Offline)
    } else {
        match client() {
            Ok(client) => verify::verify(&doc, &options, &mut Http { client }),
            Err(e) => {
                eprintln!("invigil: cannot start an HTTP client: {e}");
                return ExitCode::from(UNREADABLE);
            }
        }
    };
    if args.json {
        println!("{}", serde_json::to_string(&v).unwrap_or_default());
    } else {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{}: {}",
            v.verdict.as_str().to_uppercase(),
            v.achievement.as_deref().unwrap_or("(no achievement)")
        );
        if let Some(issuer) = &v.issuer {
            let _ = writeln!(
                out,
                "  issuer:  {} ({issuer})",
                v.issuer_name.as_deref().unwrap_or("unnamed")
            );
        }
        if let Some(from) = &v.valid_from {
            let _ = writeln!(
                out,
                "  issued:  {from}{}",
                v.valid_until
                    .as_ref()
                    .map(|u| format!(", valid until {u}"))
                    .unwrap_or_default()
            );
        }
        for c in &v.checks {
            let mark = match c.ok {
                Some(true) => "ok  ",
                Some(false) => "FAIL",
                None => "--  ",
            };
            let _ = writeln!(out, "  [{mark}] {:<9} {}", c.check, c.detail);
        }
    }
    if v.verdict == Verdict::Valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub fn keys(args: &BadgeKeysArgs) -> anyhow::Result<ExitCode> {
    use invigil_server::badges::BadgeKeys;
    if args.rotate {
        let id = BadgeKeys::rotate(&args.data)?;
        eprintln!("invigil: added {id}; it signs new badges once the server restarts (older keys stay published)");
    }
    let keys = BadgeKeys::load(&args.data)?;
    if keys.all().is_empty() {
        eprintln!(
            "invigil: no badge keys in {} (the server makes the first at start; --rotate makes one now)",
            args.data.join(invigil_server::badges::KEYS_DIR).display()
        );
        return Ok(ExitCode::from(1));
    }
    let current = keys.current().0.to_owned();
    for (id, key) in keys.all() {
        let mark = if *id == current {
            "  (signs new badges)"
        } else {
            ""
        };
        println!("{id}  {}{mark}", key.public().did_key());
    }
    Ok(ExitCode::SUCCESS)
}
