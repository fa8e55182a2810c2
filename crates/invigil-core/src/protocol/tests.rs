use serde_json::Map;

use super::*;
use crate::Event;

#[test]
fn candidate_tokens_are_checked_and_never_printed() {
    let good = format!("ivc_{}", "aB3".repeat(21) + "f");
    let t = CandidateToken::parse(&good).unwrap();
    assert_eq!(t.as_str(), good);
    assert!(!format!("{t:?}").contains("aB3"));
    for bad in [
        "",
        "ivc_",
        "ivp_".to_owned().as_str(),
        &good[..67],
        &format!("{good}0"),
    ] {
        assert!(CandidateToken::parse(bad).is_err(), "{bad}");
    }
    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(json, format!("\"{good}\""));
    let err = serde_json::from_str::<CandidateToken>("\"ivc_zz\"").unwrap_err();
    assert!(err.to_string().contains("64 hex digits"), "{err}");
    assert!(CandidateToken::from_random([7; 32])
        .as_str()
        .starts_with("ivc_0707"));
}

#[test]
fn kinds_and_actions_read_back_their_wire_names() {
    for k in MediaKind::ALL {
        assert_eq!(MediaKind::parse(k.as_str()), Some(k));
        assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
    }
    for a in DecisionAction::ALL {
        assert_eq!(DecisionAction::parse(a.as_str()), Some(a));
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            format!("\"{}\"", a.as_str())
        );
    }
    assert_eq!(MediaKind::parse("script"), None);
}

#[test]
fn a_stored_event_is_the_event_with_its_hash() {
    let e = Event {
        v: 1,
        seq: 3,
        t_ms: 40,
        kind: crate::EventKind::SessionStarted,
        severity: crate::Severity::Info,
        data: Map::new(),
        prev: Some("ab".into()),
    };
    let stored = StoredEvent {
        event: e,
        hash: "cd".into(),
        received_ms: 9,
    };
    let json = serde_json::to_value(&stored).unwrap();
    assert_eq!(json["seq"], 3);
    assert_eq!(json["hash"], "cd");
    let back: StoredEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, stored);
    let me: Me = serde_json::from_str(r#"{"role":"candidate","session_id":"s"}"#).unwrap();
    assert_eq!(
        me,
        Me::Candidate {
            session_id: "s".into()
        }
    );
}
