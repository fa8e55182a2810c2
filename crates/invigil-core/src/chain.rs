//! The hash chain that makes a session's events tamper-evident.
//!
//! Every event of a chained session carries in `prev` the hash of the event
//! before it; the first event's `prev` is the session's origin hash. The
//! hash of an event is the SHA-256 of its canonical JSON (object keys sorted
//! at every level, no whitespace, `prev` included), so editing, dropping or
//! reordering any event breaks every link after it. Client and server both
//! use this module, so the two can never disagree about the encoding.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::Event;

/// The `prev` of a session's first event: SHA-256 of
/// `invigil-chain-v1:` followed by the session id, as lowercase hex.
pub fn origin(session_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"invigil-chain-v1:");
    h.update(session_id.as_bytes());
    hex(&h.finalize())
}

/// The hash of one event (including its `prev`), as lowercase hex.
pub fn event_hash(event: &Event) -> String {
    hex(&Sha256::digest(canonical_json(event).as_bytes()))
}

/// The canonical JSON text of an event: keys sorted at every level, no
/// whitespace. Independent of how `serde_json` is configured (its
/// `preserve_order` feature changes `to_string`, not this).
pub fn canonical_json(event: &Event) -> String {
    let value = serde_json::to_value(event).expect("events always serialise");
    let mut out = String::with_capacity(256);
    write_canonical(&value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Links events into a chain as they are produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    head: String,
}

impl Chain {
    /// A new chain for `session_id`.
    pub fn new(session_id: &str) -> Self {
        Self {
            head: origin(session_id),
        }
    }

    /// A chain that continues after an event whose hash is `head`.
    pub fn after(head: String) -> Self {
        Self { head }
    }

    /// The hash the next event must carry in `prev`.
    pub fn head(&self) -> &str {
        &self.head
    }

    /// Sets `event.prev` to the current head and moves the head to the
    /// event's hash.
    pub fn link(&mut self, event: &mut Event) {
        event.prev = Some(std::mem::take(&mut self.head));
        self.head = event_hash(event);
    }
}

/// Why a batch cannot be appended to a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// An event the holder already has under this seq, with other content.
    Altered { seq: u64 },
    /// The next event is not the one expected: missing or out of order.
    Gap { expected: u64, got: u64 },
    /// The event does not carry the hash of the event before it.
    Broken { seq: u64, expected_prev: String },
}

/// What appending a batch comes to.
#[derive(Clone, Debug, PartialEq)]
pub struct Appended {
    /// Events new to the holder, each with its hash, in seq order.
    pub fresh: Vec<(Event, String)>,
    /// Events the holder already has, byte for byte (a re-sent batch).
    pub duplicates: u64,
    /// The hash of the last event after the batch.
    pub head: String,
}

/// Checks a batch against a chain whose holder has events `0..next_seq`
/// ending in `head`, and whose stored hashes for the seqs the batch repeats
/// are in `known` (seq -> hash): events already held must be identical,
/// new ones must follow without a gap, each carrying the hash of the one
/// before in `prev`. The whole batch is refused at the first fault.
pub fn append(
    next_seq: u64,
    head: &str,
    known: &std::collections::HashMap<u64, String>,
    events: Vec<Event>,
) -> Result<Appended, Rejection> {
    let mut head = head.to_owned();
    let mut fresh: Vec<(Event, String)> = Vec::new();
    let mut duplicates = 0u64;
    for e in events {
        let hash = event_hash(&e);
        let next = next_seq + fresh.len() as u64;
        if e.seq < next {
            let held = known
                .get(&e.seq)
                .or_else(|| fresh.iter().find(|(f, _)| f.seq == e.seq).map(|(_, h)| h));
            if held == Some(&hash) {
                duplicates += 1;
                continue;
            }
            return Err(Rejection::Altered { seq: e.seq });
        }
        if e.seq > next {
            return Err(Rejection::Gap {
                expected: next,
                got: e.seq,
            });
        }
        if e.prev.as_deref() != Some(head.as_str()) {
            return Err(Rejection::Broken {
                seq: e.seq,
                expected_prev: head,
            });
        }
        head = hash.clone();
        fresh.push((e, hash));
    }
    Ok(Appended {
        fresh,
        duplicates,
        head,
    })
}

/// Lowercase hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventKind, EVENT_SCHEMA_VERSION};
    use serde_json::json;

    fn event(seq: u64, data: Value) -> Event {
        Event {
            v: EVENT_SCHEMA_VERSION,
            seq,
            t_ms: seq * 1000,
            kind: EventKind::AbsenceWarning,
            severity: EventKind::AbsenceWarning.severity(),
            data: data.as_object().unwrap().clone(),
            prev: None,
        }
    }

    /// The server hashes what it parsed: every float must survive the trip
    /// through JSON text bit for bit (serde_json's `float_roundtrip`).
    #[test]
    fn hashes_survive_a_json_round_trip_with_floats() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for seq in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from(f32::from_bits((x as u32 & 0x3FFF_FFFF) | 0x3000_0000));
            let g = (x >> 11) as f64 / (1u64 << 53) as f64 * 1000.0;
            let e = event(seq, json!({"a": f, "b": g, "c": [f * 3.7, g / 7.0]}));
            let text = serde_json::to_string(&e).unwrap();
            let back: Event = serde_json::from_str(&text).unwrap();
            assert_eq!(event_hash(&e), event_hash(&back), "{text}");
        }
    }

    #[test]
    fn canonical_form_sorts_keys_at_every_level() {
        let e = event(
            1,
            json!({"z": 1, "a": {"y": [2, {"d": 0, "c": 1}], "b": "x"}}),
        );
        assert_eq!(
            canonical_json(&e),
            r#"{"data":{"a":{"b":"x","y":[2,{"c":1,"d":0}]},"z":1},"kind":"absence_warning","seq":1,"severity":"warning","t_ms":1000,"v":1}"#
        );
    }

    #[test]
    fn chain_detects_edits_and_reorders() {
        let mut chain = Chain::new("s1");
        let mut events: Vec<Event> = (0..3).map(|i| event(i, json!({"n": i}))).collect();
        for e in &mut events {
            chain.link(e);
        }
        assert_eq!(events[0].prev.as_deref(), Some(origin("s1").as_str()));
        assert_eq!(events[1].prev, Some(event_hash(&events[0])));
        assert_eq!(chain.head(), event_hash(&events[2]));

        let mut edited = events[1].clone();
        edited.data.insert("n".into(), json!(7));
        assert_ne!(event_hash(&edited), event_hash(&events[1]));
        // Another session's origin differs.
        assert_ne!(origin("s1"), origin("s2"));
        // Known value, so the encoding cannot drift unnoticed.
        assert_eq!(origin("s1"), hex(&Sha256::digest(b"invigil-chain-v1:s1")));
    }

    #[test]
    fn a_batch_appends_only_along_the_chain() {
        let mut chain = Chain::new("s1");
        let mut events: Vec<Event> = (0..4).map(|i| event(i, json!({"n": i}))).collect();
        for e in &mut events {
            chain.link(e);
        }
        let none = std::collections::HashMap::new();
        let origin = origin("s1");
        let all = append(0, &origin, &none, events.clone()).unwrap();
        assert_eq!((all.fresh.len(), all.duplicates), (4, 0));
        assert_eq!(all.head, chain.head());
        // Re-sent: the first two are held already.
        let known: std::collections::HashMap<u64, String> = all.fresh[..2]
            .iter()
            .map(|(e, h)| (e.seq, h.clone()))
            .collect();
        let again = append(2, &all.fresh[1].1, &known, events.clone()).unwrap();
        assert_eq!((again.fresh.len(), again.duplicates), (2, 2));
        // Edited, missing, reordered, unchained.
        let mut edited = events.clone();
        edited[0].data.insert("n".into(), json!(9));
        assert_eq!(
            append(2, &all.fresh[1].1, &known, edited),
            Err(Rejection::Altered { seq: 0 })
        );
        assert_eq!(
            append(0, &origin, &none, vec![events[1].clone()]),
            Err(Rejection::Gap {
                expected: 0,
                got: 1
            })
        );
        let mut unchained = events[0].clone();
        unchained.prev = Some("0".repeat(64));
        assert_eq!(
            append(0, &origin, &none, vec![unchained]),
            Err(Rejection::Broken {
                seq: 0,
                expected_prev: origin.clone()
            })
        );
    }
}
