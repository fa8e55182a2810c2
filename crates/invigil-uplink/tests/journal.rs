//! The journal on a real filesystem: reopen, compaction, torn writes,
//! damage, a full disk, and a writer killed with SIGKILL.

use std::path::Path;
use std::time::Duration;

use invigil_core::{Event, EventKind, EVENT_SCHEMA_VERSION};
use invigil_uplink::{Item, Journal, JournalError};

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

fn seq_of(item: &Item) -> u64 {
    match item {
        Item::Event(e) => e.seq,
        Item::Media(_) => u64::MAX,
    }
}

#[test]
fn records_survive_reopening_and_ids_continue() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(dir.path()).unwrap();
    for s in 0..5 {
        assert_eq!(j.append_event(&event(s)).unwrap(), s + 1);
    }
    let media = j
        .append_media(
            invigil_core::protocol::MediaKind::Clip,
            "clip.mp4",
            "video/mp4",
            b"not really mp4",
        )
        .unwrap();
    drop(j);
    let mut j = Journal::open(dir.path()).unwrap();
    let pending = j.pending().unwrap();
    assert_eq!(pending.len(), 6);
    assert_eq!(pending[5].id, media);
    let Item::Media(invigil_uplink::Media { sha256, bytes, .. }) = &pending[5].item else {
        panic!("media record");
    };
    assert_eq!(*bytes, 14);
    assert_eq!(
        std::fs::read(j.media_path(sha256)).unwrap(),
        b"not really mp4"
    );
    assert_eq!(j.append_event(&event(5)).unwrap(), 7);
    let status = j.status().unwrap();
    assert_eq!(
        (
            status.pending_events,
            status.pending_media,
            status.pending_media_bytes
        ),
        (6, 1, 14)
    );
}

#[test]
fn acknowledged_records_are_compacted_away() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open_with_segment_bytes(dir.path(), 300).unwrap();
    let mut ids = Vec::new();
    for s in 0..20 {
        ids.push(j.append_event(&event(s)).unwrap());
    }
    let media = j
        .append_media(
            invigil_core::protocol::MediaKind::FacePhoto,
            "face.jpg",
            "image/jpeg",
            b"jpeg bytes",
        )
        .unwrap();
    let segments = j.segment_first_ids().len();
    assert!(segments > 3, "{segments}");
    j.ack(ids[9]).unwrap();
    assert!(j.segment_first_ids().len() < segments);
    let pending = j.pending().unwrap();
    assert_eq!(pending.first().unwrap().id, ids[10]);
    j.ack(media).unwrap();
    assert!(j.pending().unwrap().is_empty());
    // The media body went with its segment once a newer one exists.
    j.append_event(&event(20)).unwrap();
    j.append_event(&event(21)).unwrap();
    j.ack(j.status().unwrap().next_id - 1).unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path().join("media")).unwrap().count(),
        0
    );
    // Acknowledgement survives reopening.
    drop(j);
    let j = Journal::open_with_segment_bytes(dir.path(), 300).unwrap();
    assert!(j.pending().unwrap().is_empty());
    assert_eq!(j.status().unwrap().next_id, 24);
}

#[test]
fn a_torn_tail_is_cut_and_writing_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(dir.path()).unwrap();
    for s in 0..3 {
        j.append_event(&event(s)).unwrap();
    }
    drop(j);
    let seg = only_segment(dir.path());
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, b'{', b'"']);
    std::fs::write(&seg, &bytes).unwrap();
    let mut j = Journal::open(dir.path()).unwrap();
    assert_eq!(j.pending().unwrap().len(), 3);
    assert_eq!(j.append_event(&event(3)).unwrap(), 4);
    drop(j);
    let j = Journal::open(dir.path()).unwrap();
    let seqs: Vec<u64> = j
        .pending()
        .unwrap()
        .iter()
        .map(|r| seq_of(&r.item))
        .collect();
    assert_eq!(seqs, [0, 1, 2, 3]);
}

#[test]
fn damage_before_the_tail_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open_with_segment_bytes(dir.path(), 100).unwrap();
    for s in 0..6 {
        j.append_event(&event(s)).unwrap();
    }
    drop(j);
    let mut segs: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    segs.sort();
    let mut bytes = std::fs::read(&segs[0]).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x20;
    std::fs::write(&segs[0], &bytes).unwrap();
    let err = Journal::open_with_segment_bytes(dir.path(), 100)
        .and_then(|j| j.pending())
        .unwrap_err();
    assert!(matches!(err, JournalError::Corrupt { .. }));
    let msg = err.to_string();
    assert!(msg.contains("seg-") && msg.contains("checksum"), "{msg}");
}

#[test]
fn a_full_disk_is_reported_and_leaves_the_journal_usable() {
    let dir = tempfile::tempdir().unwrap();
    let seg = dir.path().join("seg-00000000000000000001.log");
    std::os::unix::fs::symlink("/dev/full", &seg).unwrap();
    let mut j = Journal::open(dir.path()).unwrap();
    let err = j.append_event(&event(0)).unwrap_err().to_string();
    assert!(err.contains("seg-00000000000000000001.log"), "{err}");
    assert!(err.to_lowercase().contains("space"), "{err}");
    let bad = dir.path().join("not-a-dir");
    std::fs::write(&bad, "x").unwrap();
    let err = Journal::open(&bad.join("journal"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not-a-dir"), "{err}");
}

#[test]
fn acknowledging_the_future_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(dir.path()).unwrap();
    j.append_event(&event(0)).unwrap();
    let err = j.ack(5).unwrap_err().to_string();
    assert!(err.contains("record 5"), "{err}");
    assert_eq!(j.pending().unwrap().len(), 1);
}

/// The writer half of `a_writer_killed_mid_append_loses_nothing_written`.
#[test]
fn crash_writer() {
    let Ok(dir) = std::env::var("INVIGIL_JOURNAL_CRASH_DIR") else {
        return;
    };
    let mut j = Journal::open_with_segment_bytes(Path::new(&dir), 4096).unwrap();
    let mut s = j.status().unwrap().next_id - 1;
    loop {
        j.append_event(&event(s)).unwrap();
        s += 1;
    }
}

#[test]
fn a_writer_killed_mid_append_loses_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..3 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_writer", "--nocapture", "--test-threads=1"])
            .env("INVIGIL_JOURNAL_CRASH_DIR", dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300 + 100 * round));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let j = Journal::open_with_segment_bytes(dir.path(), 4096).unwrap();
        let records = j.pending().unwrap();
        assert!(
            !records.is_empty(),
            "round {round}: the writer wrote nothing"
        );
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r.id, i as u64 + 1, "round {round}: ids without gaps");
            assert_eq!(seq_of(&r.item), i as u64, "round {round}: payload intact");
        }
    }
}

fn only_segment(dir: &Path) -> std::path::PathBuf {
    let segs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    assert_eq!(segs.len(), 1);
    segs[0].clone()
}

#[test]
fn a_damaged_length_with_intact_records_after_it_is_corruption_not_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(dir.path()).unwrap();
    for s in 0..6 {
        j.append_event(&event(s)).unwrap();
    }
    drop(j);
    let seg = only_segment(dir.path());
    let before = std::fs::read(&seg).unwrap();
    // The third record's length made larger: it now seems to run past the
    // end, and three intact records follow it.
    let mut third = 0;
    for _ in 0..2 {
        third += 8 + u32::from_le_bytes(before[third..third + 4].try_into().unwrap()) as usize;
    }
    let mut damaged = before.clone();
    damaged[third..third + 4].copy_from_slice(&(60_000u32).to_le_bytes());
    std::fs::write(&seg, &damaged).unwrap();
    for open in [
        Journal::open(dir.path()),
        Journal::open_read_only(dir.path()),
    ] {
        match open {
            Err(JournalError::Corrupt {
                offset, problem, ..
            }) => {
                assert_eq!(offset, third as u64);
                assert!(problem.contains("intact record follows"), "{problem}");
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a damaged journal opened"),
        }
    }
    assert_eq!(std::fs::read(&seg).unwrap(), damaged, "nothing was cut");
    // A checksum damaged the same way, smaller length: the same.
    let mut damaged = before.clone();
    damaged[third + 12] ^= 0xff;
    std::fs::write(&seg, &damaged).unwrap();
    assert!(matches!(
        Journal::open(dir.path()),
        Err(JournalError::Corrupt { .. })
    ));
    assert_eq!(std::fs::read(&seg).unwrap(), damaged);
}

#[test]
fn status_reads_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        Journal::open_read_only(dir.path()).is_err(),
        "no journal here"
    );
    assert!(!dir.path().join("media").exists(), "nothing created");
    let mut j = Journal::open(dir.path()).unwrap();
    for s in 0..3 {
        j.append_event(&event(s)).unwrap();
    }
    drop(j);
    let seg = only_segment(dir.path());
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, b'{']);
    std::fs::write(&seg, &bytes).unwrap();
    let j = Journal::open_read_only(dir.path()).unwrap();
    assert_eq!(j.status().unwrap().pending_events, 3);
    assert_eq!(
        std::fs::read(&seg).unwrap(),
        bytes,
        "the torn tail is left for the writer"
    );
}

#[test]
fn compaction_keeps_a_body_a_later_record_still_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open_with_segment_bytes(dir.path(), 200).unwrap();
    let body = b"the same photo twice";
    let first = j
        .append_media(
            invigil_core::protocol::MediaKind::FacePhoto,
            "face.jpg",
            "image/jpeg",
            body,
        )
        .unwrap();
    for s in 0..6 {
        j.append_event(&event(s)).unwrap();
    }
    let again = j
        .append_media(
            invigil_core::protocol::MediaKind::FacePhoto,
            "face-2.jpg",
            "image/jpeg",
            body,
        )
        .unwrap();
    j.append_event(&event(6)).unwrap();
    j.append_event(&event(7)).unwrap();
    // Everything up to the second record of the body is sent: the segment
    // holding the first is compacted away.
    j.ack(again - 1).unwrap();
    assert!(!j.segment_first_ids().contains(&first));
    let pending = j.pending().unwrap();
    let Item::Media(m) = &pending[0].item else {
        panic!("media first")
    };
    assert_eq!(pending[0].id, again);
    assert_eq!(
        std::fs::read(j.media_path(&m.sha256)).unwrap(),
        body,
        "the body is still there"
    );
}

#[test]
fn events_with_times_past_2_pow_53_are_damage() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(dir.path()).unwrap();
    let mut e = event(0);
    e.t_ms = u64::MAX;
    j.append_event(&e).unwrap();
    j.append_event(&event(1)).unwrap();
    drop(j);
    match Journal::open(dir.path()) {
        Err(JournalError::Corrupt {
            offset: 0, problem, ..
        }) => {
            assert!(problem.contains("out of range"), "{problem}")
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened"),
    }
}

#[cfg(unix)]
#[test]
fn the_session_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let meta = invigil_uplink::SessionMeta {
        server: "http://127.0.0.1:1".into(),
        session_id: "s-0000000001".into(),
        token: invigil_core::protocol::CandidateToken::parse(&format!("ivc_{}", "ab".repeat(32)))
            .unwrap(),
        exam_id: "e".into(),
        candidate_id: "c".into(),
        policy: Default::default(),
        created: false,
        next_seq: 0,
        head: invigil_core::chain::origin("s-0000000001"),
        last_t_ms: 0,
        ended: false,
        policy_from_server: false,
        exam: None,
        launch_code: None,
        ticket: None,
    };
    meta.save(dir.path()).unwrap();
    meta.save(dir.path()).unwrap();
    let mode = std::fs::metadata(invigil_uplink::SessionMeta::path(dir.path()))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
}
