//! The public badge page (`/badges/{id}`): what an employer opens from a
//! résumé link. Plain HTML, no script, works without sign-in; shows the
//! badge, its issuer, dates and status, and checks a holder's email
//! against the hashed recipient. It shows nothing about the session, the
//! exam's events or the reason for a revocation.

use invigil_badges::verify::{self, Lookup, Options};
use serde_json::Value;

use crate::badges::BadgeRow;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn field<'a>(doc: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = doc;
    for p in path {
        match cur.get(p) {
            Some(v) => cur = v,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f5f6f8;color:#1b1f24;line-height:1.5}\
main{max-width:44rem;margin:2rem auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.15)}\
.top{display:flex;gap:1.5rem;align-items:center;flex-wrap:wrap}img{width:160px;height:160px}\
h1{font-size:1.6rem;margin:.2rem 0}dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}\
.status{display:inline-block;padding:.15rem .6rem;border-radius:4px;font-weight:700;border:2px solid}\
.valid{color:#0b5d1e;border-color:#0b5d1e;background:#e8f5ec}.revoked,.invalid{color:#8a1111;border-color:#8a1111;background:#fdecec}\
.suspended,.expired{color:#7a4b00;border-color:#7a4b00;background:#fff4e0}\
form{margin-top:1rem;display:flex;gap:.5rem;flex-wrap:wrap;align-items:end}label{display:block;font-weight:600}\
input{font-size:1rem;padding:.4rem;border:1px solid #6b7280;border-radius:4px;min-width:16rem}\
button{font-size:1rem;padding:.45rem 1rem;border-radius:4px;border:0;background:#1c5d99;color:#fff;cursor:pointer}\
button:focus,input:focus,a:focus{outline:3px solid #f59e0b;outline-offset:2px}.result{margin-top:1rem;padding:.8rem;border-radius:4px;border-left:6px solid}\
.muted{color:#4b5563;font-size:.9rem}a{color:#1c5d99}";

fn shell(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{}</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>",
        esc(title)
    )
}

/// The page for an id with no badge.
pub fn not_found(id: &str) -> String {
    shell(
        "Badge not found",
        &format!(
            "<h1>Badge not found</h1><p>No badge has the id <code>{}</code> on this server. \
             Check the link you were given.</p>",
            esc(id)
        ),
    )
}

/// The server's own view: its own DID document; the stored status is the
/// truth, so status lists are not read.
struct Local<'a> {
    did: Option<&'a (String, Value)>,
}

impl Lookup for Local<'_> {
    fn did_document(&mut self, did: &str, url: &str) -> Result<Value, String> {
        match self.did {
            Some((own, doc)) if own == did => Ok(doc.clone()),
            _ => Err(format!("not this server's DID: {url}")),
        }
    }
    fn status_list(&mut self, url: &str) -> Result<Value, String> {
        Err(format!("not fetched: {url}"))
    }
}

/// Renders a badge's page; with `email`, the result of checking it.
pub fn render(
    row: &BadgeRow,
    doc: &Value,
    email: Option<&str>,
    now_ms: i64,
    own_did: Option<&(String, Value)>,
) -> String {
    let name = field(doc, &["credentialSubject", "achievement", "name"]);
    let description = field(doc, &["credentialSubject", "achievement", "description"]);
    let criteria = field(
        doc,
        &["credentialSubject", "achievement", "criteria", "narrative"],
    );
    let issuer_name = field(doc, &["issuer", "name"]);
    let issuer_id = field(doc, &["issuer", "id"]);
    let issuer_url = field(doc, &["issuer", "url"]);
    let from = field(doc, &["validFrom"]);
    let until = field(doc, &["validUntil"]);
    let expired = row.valid_until_ms.is_some_and(|u| u <= now_ms);
    let (status_class, status_text) = match (row.status.as_str(), expired) {
        ("revoked", _) => ("revoked", "Revoked by its issuer"),
        ("suspended", _) => ("suspended", "Suspended by its issuer"),
        (_, true) => ("expired", "Expired"),
        _ => ("valid", "Valid"),
    };
    let day = |s: &str| s.get(..10).unwrap_or(s).to_owned();
    let mut body = format!(
        "<div class=\"top\"><img src=\"/badges/achievements/{exam}/image.png\" alt=\"Badge image for {name_attr}\">\
         <div><p class=\"muted\">Open Badges 3.0 credential</p><h1>{name}</h1>\
         <p>Status: <span class=\"status {status_class}\" id=\"status\">{status_text}</span></p></div></div>",
        exam = esc(&row.exam_id),
        name_attr = esc(name),
        name = esc(name),
    );
    body.push_str("<h2>About this badge</h2><dl>");
    if !description.is_empty() {
        body.push_str(&format!(
            "<dt>Description</dt><dd>{}</dd>",
            esc(description)
        ));
    }
    body.push_str(&format!("<dt>Criteria</dt><dd>{}</dd>", esc(criteria)));
    let issuer_html = if issuer_url.starts_with("https://") || issuer_url.starts_with("http://") {
        format!(
            "<a href=\"{}\" rel=\"noopener\">{}</a>",
            esc(issuer_url),
            esc(issuer_name)
        )
    } else {
        esc(issuer_name)
    };
    body.push_str(&format!(
        "<dt>Issued by</dt><dd>{issuer_html}<br><span class=\"muted\">{}</span></dd>\
         <dt>Issued on</dt><dd><time datetime=\"{}\">{}</time></dd>",
        esc(issuer_id),
        esc(from),
        esc(&day(from)),
    ));
    if !until.is_empty() {
        body.push_str(&format!(
            "<dt>Valid until</dt><dd><time datetime=\"{}\">{}</time></dd>",
            esc(until),
            esc(&day(until))
        ));
    }
    body.push_str(&format!(
        "<dt>Badge id</dt><dd><code>urn:uuid:{}</code></dd></dl>",
        esc(&row.id)
    ));

    body.push_str(
        "<h2>Verify the holder</h2><p>A badge names its earner only by a salted hash of their email. \
         Enter the email the holder gave you to check that the badge was issued to them.</p>",
    );
    body.push_str(&format!(
        "<form method=\"post\" action=\"/badges/{}\"><div><label for=\"email\">Holder's email</label>\
         <input id=\"email\" name=\"email\" type=\"email\" required autocomplete=\"off\" value=\"{}\"></div>\
         <button type=\"submit\">Verify</button></form>",
        esc(&row.id),
        esc(email.unwrap_or("")),
    ));
    if let Some(email) = email {
        let v = verify::verify(
            doc,
            &Options {
                email: Some(email.to_owned()),
                now_ms,
                skip_status: true,
            },
            &mut Local { did: own_did },
        );
        let recipient_ok = v
            .checks
            .iter()
            .any(|c| c.check == "recipient" && c.ok == Some(true));
        let signature_ok = v
            .checks
            .iter()
            .any(|c| c.check == "signature" && c.ok == Some(true));
        let (class, text) = if !signature_ok {
            (
                "invalid",
                "The badge's signature does not verify.".to_owned(),
            )
        } else if !recipient_ok {
            (
                "invalid",
                format!("This badge was not issued to {}.", esc(email.trim())),
            )
        } else if status_class == "valid" {
            (
                "valid",
                format!(
                    "This badge was issued to {} and is valid.",
                    esc(email.trim())
                ),
            )
        } else {
            (
                status_class,
                format!(
                    "This badge was issued to {}, but it is {}.",
                    esc(email.trim()),
                    status_text.to_lowercase()
                ),
            )
        };
        body.push_str(&format!(
            "<div class=\"result {class}\" id=\"result\" role=\"status\">{text}</div>"
        ));
    }
    body.push_str(&format!(
        "<h2>Check it yourself</h2><p>The credential is signed (Data Integrity, <code>eddsa-rdfc-2022</code>) \
         and carries its revocation status list; any Open Badges 3.0 verifier can check it without this server's word.</p>\
         <p><a href=\"/badges/{id}/credential.json\">Download the credential (JSON)</a> · \
         <a href=\"/badges/{id}/badge.png\">Download the badge image (PNG with the credential inside)</a></p>",
        id = esc(&row.id)
    ));
    shell(&format!("{name} — badge"), &body)
}
