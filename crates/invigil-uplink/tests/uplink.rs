//! The uplink without a server to talk to: events are chained and
//! journaled, the shipper reports the server offline and retries, and a
//! full disk is reported without stopping the session.

use std::time::{Duration, Instant};

use invigil_core::{Event, EventKind, EVENT_SCHEMA_VERSION};
use invigil_uplink::{Connection, SessionRequest, Start, Uplink};

fn event(seq: u64) -> Event {
    Event {
        v: EVENT_SCHEMA_VERSION,
        seq,
        t_ms: seq * 100,
        kind: EventKind::AbsenceWarning,
        severity: EventKind::AbsenceWarning.severity(),
        data: Default::default(),
        prev: None,
    }
}

fn enrol() -> SessionRequest {
    SessionRequest::Enrol {
        // Nothing listens on the discard port.
        server: "http://127.0.0.1:9".into(),
        exam_id: "exam".into(),
        candidate_id: "cand".into(),
        policy: Default::default(),
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn offline_events_are_chained_journaled_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let uplink = Uplink::open(dir.path(), enrol(), Duration::ZERO).unwrap();
    assert_eq!(uplink.start(), &Start::New);
    let session = uplink.session_id();
    let mut events: Vec<Event> = (0..3).map(event).collect();
    for e in &mut events {
        uplink.record(e);
    }
    assert_eq!(
        events[0].prev.as_deref(),
        Some(invigil_core::chain::origin(&session).as_str())
    );
    assert_eq!(
        events[2].prev,
        Some(invigil_core::chain::event_hash(&events[1]))
    );
    wait_for("two retries", || uplink.status().retries >= 2);
    let s = uplink.status();
    assert_eq!(s.connection, Connection::Offline);
    assert!(s.last_error.is_some(), "the network error is reported");
    let s = uplink.finish(Duration::from_millis(100));
    assert_eq!(s.sent_events, 0);

    // A second run on the journal continues the session and the chain.
    let again = Uplink::open(dir.path(), enrol(), Duration::ZERO).unwrap();
    assert_eq!(
        again.start(),
        &Start::Resume {
            next_seq: 3,
            after_t_ms: 200
        }
    );
    assert_eq!(again.session_id(), session);
    let mut next = event(3);
    again.record(&mut next);
    assert_eq!(next.prev, Some(invigil_core::chain::event_hash(&events[2])));
    let j = invigil_uplink::Journal::open(dir.path());
    drop(again);
    assert_eq!(j.unwrap().pending().unwrap().len(), 4);
}

#[test]
fn a_full_disk_is_reported_and_the_session_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let seg = dir.path().join("seg-00000000000000000001.log");
    std::os::unix::fs::symlink("/dev/full", &seg).unwrap();
    let uplink = Uplink::open(dir.path(), enrol(), Duration::ZERO).unwrap();
    let mut e0 = event(0);
    let mut e1 = event(1);
    uplink.record(&mut e0);
    uplink.record(&mut e1);
    let s = uplink.status();
    assert_eq!(s.held_in_memory, 2);
    let err = s.journal_error.expect("the failure is reported");
    assert!(
        err.contains("seg-00000000000000000001.log") && err.to_lowercase().contains("space"),
        "{err}"
    );
    // Space comes back: the next event takes the held ones with it, in order.
    std::fs::remove_file(&seg).unwrap();
    std::fs::write(&seg, b"").unwrap();
    let mut e2 = event(2);
    uplink.record(&mut e2);
    let s = uplink.status();
    assert_eq!((s.held_in_memory, s.journal_error), (0, None));
    drop(uplink);
    let pending = invigil_uplink::Journal::open(dir.path())
        .unwrap()
        .pending()
        .unwrap();
    let seqs: Vec<u64> = pending
        .iter()
        .map(|r| match &r.item {
            invigil_uplink::Item::Event(e) => e.seq,
            _ => u64::MAX,
        })
        .collect();
    assert_eq!(seqs, [0, 1, 2]);
}

#[test]
fn bad_urls_and_foreign_journals_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bad = SessionRequest::Enrol {
        server: "127.0.0.1:8480".into(),
        exam_id: "e".into(),
        candidate_id: "c".into(),
        policy: Default::default(),
    };
    let err = Uplink::open(dir.path(), bad, Duration::ZERO)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("http://"), "{err}");
    drop(Uplink::open(dir.path(), enrol(), Duration::ZERO).unwrap());
    let other = SessionRequest::Enrol {
        server: "http://elsewhere.invalid".into(),
        exam_id: "e".into(),
        candidate_id: "c".into(),
        policy: Default::default(),
    };
    let err = Uplink::open(dir.path(), other, Duration::ZERO)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("elsewhere.invalid") && err.contains("127.0.0.1:9"),
        "{err}"
    );
}
