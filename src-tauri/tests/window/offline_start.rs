//! A launch link with its offline ticket, opened while the exam server
//! cannot be reached: the start screen does not stop the candidate, the
//! exam runs with the policy the server signed into the link, what it
//! records waits on this computer, and once the server is back the code is
//! redeemed and the whole session delivered.

use std::time::Duration;

use serde_json::json;

use crate::harness::*;

#[test]
fn an_offline_start_from_a_launch_link_in_the_real_window() {
    if tools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut backend = Backend::start(&dir.path().join("server"));
    let (code, ticket) = backend.issue_with(
        "exam-offline",
        "cand-offline",
        json!({
            "checkin": {"face": false, "id": false, "room": false},
            "policy": {"absence_flag_s": 6.0}
        }),
    );
    let link = format!(
        "invigil://launch?server={}&code={code}&ticket={ticket}",
        backend.base.replace(':', "%3A").replace('/', "%2F"),
    );
    backend.stop();

    let scenario = root().join("tests/scenarios/leaves_and_returns.toml");
    let app = launch(&[
        ("INVIGIL_SOURCE", scenario.as_os_str()),
        ("INVIGIL_LAUNCH_LINK", link.as_ref()),
        ("INVIGIL_DATA_DIR", dir.path().join("app").as_os_str()),
    ])
    .unwrap();
    let d = &app.driver;
    d.click("#start");
    // The server does not answer: after a short wait the system check
    // comes anyway (the backend item failing), and the exam starts.
    d.wait_for("#checks", Duration::from_secs(60));
    assert!(
        d.find("li[data-check='backend'][data-ok='false']")
            .is_some(),
        "{}",
        d.text("#checks")
    );
    d.screenshot("offline-1-system-check");
    d.click("#begin-exam");
    d.wait_for("#selfview", Duration::from_secs(30));
    d.wait_text(
        "#connection",
        "kept on this computer",
        Duration::from_secs(30),
    );
    d.screenshot("offline-2-exam-offline");

    // The server comes back mid-exam: the code is redeemed with the ticket.
    backend.restart();
    d.wait_text("#connection", "Connected", Duration::from_secs(60));
    d.wait_for("#receipt", Duration::from_secs(90));
    drop(app);

    let session_id = backend.session_of("exam-offline", "cand-offline");
    let tl = backend.timeline(&session_id);
    let kinds = kinds(&tl);
    for k in ["session_started", "candidate_absent", "session_ended"] {
        assert!(kinds.contains(&k.to_owned()), "{k} missing: {kinds:?}");
    }
    let started = &tl["events"][0];
    assert_eq!(
        started["data"]["policy"]["absence_flag_s"], 6.0,
        "{started}"
    );
    let notes: Vec<&str> = tl["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(notes, ["started_offline"], "{}", tl["notes"]);
}
