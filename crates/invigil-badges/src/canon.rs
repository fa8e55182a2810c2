//! JSON-LD to canonical N-Quads (RDFC-1.0), offline.
//!
//! A credential is signed over its RDF meaning, not its JSON bytes: the
//! document is expanded with its `@context`s, turned into RDF quads, and the
//! quads are canonicalised (blank nodes named deterministically, sorted).
//! The contexts come only from the files bundled in `contexts/` (their
//! provenance is in docs/badges.md): nothing is fetched, so a credential
//! naming any other context is refused rather than half-understood.

use std::collections::HashMap;

use json_ld::rdf_types::{self, generator, Id, Object};
use json_ld::syntax::Parse;
use json_ld::{IriBuf, JsonLdProcessor, RemoteDocument};

use crate::BadgeError;

/// The W3C Verifiable Credentials Data Model v2.0 context.
pub const VC_V2: &str = "https://www.w3.org/ns/credentials/v2";
/// The Open Badges 3.0 context (version 3.0.3), which invigil issues with.
pub const OB_V3: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";

/// Every context a credential may name, with its bundled copy.
const BUNDLED: &[(&str, &str)] = &[
    (VC_V2, include_str!("../contexts/credentials-v2.jsonld")),
    (
        OB_V3,
        include_str!("../contexts/ob-v3p0-context-3.0.3.json"),
    ),
    (
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json",
        include_str!("../contexts/ob-v3p0-context-3.0.2.json"),
    ),
    (
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json",
        include_str!("../contexts/ob-v3p0-context-3.0.1.json"),
    ),
    (
        "https://purl.imsglobal.org/spec/ob/v3p0/context.json",
        include_str!("../contexts/ob-v3p0-context-3.0.0.json"),
    ),
];

/// Blank-node labelling gives up after this many hash-N-degree-quads
/// calls: a crafted document can make RDFC-1.0 exponential, and a real
/// credential needs a handful.
const HNDQ_CALL_LIMIT: usize = 4_000;

/// The URLs of the bundled contexts.
pub fn bundled_contexts() -> impl Iterator<Item = &'static str> {
    BUNDLED.iter().map(|(url, _)| *url)
}

/// The bundled contexts as a JSON-LD loader, parsed once per process.
fn loader() -> Result<&'static HashMap<IriBuf, RemoteDocument>, BadgeError> {
    static LOADER: std::sync::OnceLock<Option<HashMap<IriBuf, RemoteDocument>>> =
        std::sync::OnceLock::new();
    LOADER
        .get_or_init(|| {
            let mut map = HashMap::new();
            for (url, text) in BUNDLED {
                let iri = IriBuf::new(url.to_string()).ok()?;
                let (value, _) = json_ld::syntax::Value::parse_str(text).ok()?;
                map.insert(iri.clone(), RemoteDocument::new(Some(iri), None, value));
            }
            Some(map)
        })
        .as_ref()
        .ok_or(BadgeError::Internal("a bundled context does not parse"))
}

/// Every `@context` entry of `doc` that is a URL must be bundled.
fn check_contexts(doc: &serde_json::Value) -> Result<(), BadgeError> {
    let ctx = doc
        .get("@context")
        .ok_or_else(|| BadgeError::Malformed("no \"@context\": not a JSON-LD document".into()))?;
    let entries: Vec<&serde_json::Value> = match ctx {
        serde_json::Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    for entry in entries {
        match entry {
            serde_json::Value::String(url) => {
                if !BUNDLED.iter().any(|(known, _)| known == url) {
                    return Err(BadgeError::Malformed(format!(
                        "context {url:?} is not one invigil knows (it verifies offline with: {})",
                        bundled_contexts().collect::<Vec<_>>().join(", ")
                    )));
                }
            }
            serde_json::Value::Object(_) => {}
            _ => {
                return Err(BadgeError::Malformed(
                    "\"@context\" entries must be URLs or objects".into(),
                ))
            }
        }
    }
    Ok(())
}

/// The canonical N-Quads of a JSON-LD document (RDFC-1.0 with SHA-256).
pub fn canonical_nquads(doc: &serde_json::Value) -> Result<String, BadgeError> {
    check_contexts(doc)?;
    let text = serde_json::to_string(doc).map_err(|e| BadgeError::Malformed(e.to_string()))?;
    let (value, _) = json_ld::syntax::Value::parse_str(&text)
        .map_err(|e| BadgeError::Malformed(format!("not JSON: {e}")))?;
    let input = RemoteDocument::new(None, None, value);
    let loader = loader()?;
    let mut blanks = generator::Blank::new_with_prefix("b".to_string());
    let mut rdf = futures::executor::block_on(input.to_rdf(&mut blanks, loader))
        .map_err(|e| BadgeError::Malformed(format!("JSON-LD: {e}")))?;
    let mut dataset = oxrdf::Dataset::new();
    for rdf_types::Quad(s, p, o, g) in rdf.cloned_quads() {
        let subject: oxrdf::Subject = match id_term(&s)? {
            IdTerm::Iri(n) => n.into(),
            IdTerm::Blank(b) => b.into(),
        };
        let predicate = match id_term(&p)? {
            IdTerm::Iri(n) => n,
            IdTerm::Blank(_) => continue, // generalized RDF is not produced
        };
        let object: oxrdf::Term = match o {
            Object::Id(id) => match id_term(&id)? {
                IdTerm::Iri(n) => n.into(),
                IdTerm::Blank(b) => b.into(),
            },
            Object::Literal(lit) => literal(lit)?.into(),
        };
        let graph: oxrdf::GraphName = match g {
            None => oxrdf::GraphName::DefaultGraph,
            Some(id) => match id_term(&id)? {
                IdTerm::Iri(n) => n.into(),
                IdTerm::Blank(b) => b.into(),
            },
        };
        dataset.insert(&oxrdf::Quad::new(subject, predicate, object, graph));
    }
    canonicalize_dataset(&dataset)
}

/// RDFC-1.0 (SHA-256) of an RDF dataset as canonical N-Quads, giving up
/// on graphs that need more than a few thousand blank-node hashing steps.
pub fn canonicalize_dataset(dataset: &oxrdf::Dataset) -> Result<String, BadgeError> {
    let options = rdf_canon::CanonicalizationOptions {
        hndq_call_limit: Some(HNDQ_CALL_LIMIT),
    };
    rdf_canon::canonicalize_with::<sha2::Sha256>(dataset, &options)
        .map_err(|e| BadgeError::Malformed(format!("RDF canonicalisation: {e}")))
}

enum IdTerm {
    Iri(oxrdf::NamedNode),
    Blank(oxrdf::BlankNode),
}

fn id_term(id: &Id<IriBuf, json_ld::BlankIdBuf>) -> Result<IdTerm, BadgeError> {
    match id {
        Id::Iri(iri) => oxrdf::NamedNode::new(iri.as_str())
            .map(IdTerm::Iri)
            .map_err(|e| BadgeError::Malformed(format!("IRI {:?}: {e}", iri.as_str()))),
        Id::Blank(b) => {
            let label = b.as_str().trim_start_matches("_:");
            oxrdf::BlankNode::new(label)
                .map(IdTerm::Blank)
                .map_err(|e| BadgeError::Malformed(format!("blank node {label:?}: {e}")))
        }
    }
}

fn literal(lit: rdf_types::Literal) -> Result<oxrdf::Literal, BadgeError> {
    match lit.type_ {
        rdf_types::LiteralType::Any(ty) => {
            let ty = oxrdf::NamedNode::new(ty.as_str())
                .map_err(|e| BadgeError::Malformed(format!("datatype {:?}: {e}", ty.as_str())))?;
            Ok(oxrdf::Literal::new_typed_literal(lit.value, ty))
        }
        rdf_types::LiteralType::LangString(tag) => {
            oxrdf::Literal::new_language_tagged_literal(lit.value, tag.as_str())
                .map_err(|e| BadgeError::Malformed(format!("language tag {:?}: {e}", tag.as_str())))
        }
    }
}
