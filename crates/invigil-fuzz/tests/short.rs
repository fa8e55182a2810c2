//! The short pass CI runs: every target a few thousand runs from its
//! committed corpus, no findings; and the fuzzer finds a planted bug.

use invigil_fuzz::{run, Options, Target, TARGETS};

#[test]
fn every_target_runs_clean_for_a_short_pass() {
    let runs: u64 = std::env::var("INVIGIL_FUZZ_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let mut failed = Vec::new();
    for t in TARGETS {
        let corpus = invigil_fuzz::load_corpus(t, &Options::new(0).corpus_dir);
        assert!(!corpus.is_empty(), "{}: no corpus", t.name);
        let mut options = Options::new(runs);
        options.findings_dir = std::env::temp_dir().join("invigil-fuzz-findings");
        let report = run(t, &options);
        eprintln!("{report}");
        assert_eq!(report.runs, runs);
        assert!(
            report.outcomes >= 2,
            "{}: every input did the same: {report}",
            t.name
        );
        if !report.findings.is_empty() {
            failed.push(format!("{}: {}", t.name, report.findings[0].message));
        }
    }
    assert!(failed.is_empty(), "findings: {failed:#?}");
}

fn planted(_: &std::path::Path, bytes: &[u8]) -> String {
    // A parser with a bug behind two steps of its format.
    if bytes.starts_with(b"HDR") {
        if let Some(i) = bytes.iter().position(|&b| b == b'#') {
            let n = bytes.get(i + 1).copied().unwrap_or(0);
            if n == 0xff {
                panic!("planted bug");
            }
            return format!("field {n}");
        }
        return "header".into();
    }
    "other".into()
}

static PLANTED: Target = Target {
    name: "planted",
    about: "a parser with a planted bug",
    run: planted,
    tokens: &[b"#"],
    max_len: 64,
};

#[test]
fn the_fuzzer_finds_a_planted_bug() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("planted")).unwrap();
    std::fs::write(dir.path().join("planted").join("seed"), b"HDR body").unwrap();
    let mut options = Options::new(20_000);
    options.corpus_dir = dir.path().to_owned();
    options.findings_dir = dir.path().join("findings");
    let report = run(&PLANTED, &options);
    assert!(!report.findings.is_empty(), "{report}");
    let f = &report.findings[0];
    assert!(f.message.contains("planted bug"), "{}", f.message);
    assert!(f.saved.as_ref().is_some_and(|p| p.exists()));
}
