//! `invigil forensics analyze`: a simulated exam delivery with a candidate
//! who knew a third of the items (right and fast on them) exits 3 with an
//! invalidation; honest results exit 0; malformed files exit 2 naming the
//! line and column.

use super::*;
use invigil_forensics::sim::{exam, Cheat};

fn write_long(r: &invigil_forensics::Responses, path: &Path) {
    std::fs::write(path, invigil_forensics::data::to_long_csv(r)).unwrap();
}

#[test]
fn a_cheater_meets_the_invalidation_conditions_and_honest_results_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let known: Vec<usize> = (0..60).filter(|j| j % 3 == 2).collect();
    let cheated = exam(
        300,
        60,
        &[(
            7,
            Cheat::PreKnowledge {
                items: known.clone(),
            },
        )],
        21,
    );
    let responses = dir.path().join("responses.csv");
    write_long(&cheated, &responses);
    let mut items = String::from("item_id,key,options,compromised\n");
    for j in 0..60 {
        items.push_str(&format!("q{j:02},A,4,{}\n", u8::from(known.contains(&j))));
    }
    let item_file = dir.path().join("items.csv");
    std::fs::write(&item_file, items).unwrap();
    let out = dir.path().join("report");
    let o = invigil(&[
        "forensics",
        "analyze",
        "--responses",
        responses.to_str().unwrap(),
        "--items",
        item_file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains("300 candidates, 60 items"),
        "{}",
        stderr(&o)
    );
    let v: Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON object");
    assert_eq!(v["candidates"], 300);
    let flags = v["flags"].as_array().unwrap();
    let invalid: Vec<&Value> = flags.iter().filter(|f| f["invalidation"] == true).collect();
    assert!(!invalid.is_empty(), "{v}");
    for f in &invalid {
        assert_eq!(f["candidates"], serde_json::json!(["c0007"]), "{f}");
        assert!(f["p"].as_f64().unwrap() <= 1e-6, "{f}");
        assert!(f["index"].is_string() && f["statistic"].is_number(), "{f}");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("c0007") && html.contains("<svg"));
    let json: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["candidate_summaries"].as_array().unwrap().len(), 300);

    // The same exam without the cheat: nothing meets the conditions.
    write_long(&exam(300, 60, &[], 21), &responses);
    let o = invigil(&[
        "forensics",
        "analyze",
        "--responses",
        responses.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("0 meeting the invalidation conditions"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn malformed_files_are_refused_naming_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let responses = dir.path().join("bad.csv");
    std::fs::write(
        &responses,
        "candidate_id,item_id,response,score,rt_s\nc1,q1,A,1,12.5\nc1,q2,B,maybe,3\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let args = |file: &Path| {
        vec![
            "forensics".to_owned(),
            "analyze".to_owned(),
            "--responses".to_owned(),
            file.to_str().unwrap().to_owned(),
            "--out".to_owned(),
            out.to_str().unwrap().to_owned(),
        ]
    };
    let run = |a: Vec<String>| invigil(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let o = run(args(&responses));
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("bad.csv") && err.contains("line 3") && err.contains("`score`"),
        "{err}"
    );
    assert!(!out.exists(), "no report for a file that cannot be read");

    // Too few candidates to calibrate: said, exit 2.
    std::fs::write(
        &responses,
        "candidate_id,item_id,response,score,rt_s\nc1,q1,A,1,12.5\n",
    )
    .unwrap();
    let o = run(args(&responses));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("too few"), "{}", stderr(&o));

    let o = run(args(&dir.path().join("missing.csv")));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.csv"), "{}", stderr(&o));

    let mut bad_level = args(&responses);
    bad_level.extend(["--budget".to_owned(), "0.5".to_owned()]);
    let o = run(bad_level);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--budget"), "{}", stderr(&o));
}
