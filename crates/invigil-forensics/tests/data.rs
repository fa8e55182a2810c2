//! Reading exam results: both layouts give the same responses, and every
//! malformed file is refused with an error naming the file, the line and
//! the column.

use std::path::Path;

use invigil_forensics::data::{parse_candidates, parse_items, parse_responses};

const LONG: &str = "\u{feff}candidate_id,item_id,response,score,rt_s,position,changes
c1,q1,B,1,31.5,1,0
c1,q2,,0,,2,
c2,q1,A,0,12,2,1
c2,q2,\"C, or D\",0.5,40,1,2

";

const WIDE: &str = "candidate_id,q1.response,q1.score,q1.rt_s,q1.position,q1.changes,q2.score,q2.response,q2.rt_s,q2.position,q2.changes
c1,B,1,31.5,1,0,0,,,2,
c2,A,0,12,2,1,0.5,\"C, or D\",40,1,2
c3,,,,,,1,D,8,,
";

fn path() -> &'static Path {
    Path::new("results.csv")
}

#[test]
fn long_and_wide_files_read_alike() {
    let long = parse_responses(path(), LONG).unwrap();
    assert_eq!(long.candidates, ["c1", "c2"]);
    assert_eq!(long.items, ["q1", "q2"]);
    assert_eq!(long.rows.len(), 4);
    let r = &long.rows[1];
    assert_eq!((r.response.as_deref(), r.score, r.rt_s), (None, 0.0, None));
    let r = &long.rows[3];
    assert_eq!(r.response.as_deref(), Some("C, or D"));
    assert_eq!(
        (r.score, r.rt_s, r.position, r.changes),
        (0.5, Some(40.0), Some(1), Some(2))
    );

    let wide = parse_responses(path(), WIDE).unwrap();
    // c3 had no q1 on its form: no row for it.
    assert_eq!(wide.candidates, ["c1", "c2", "c3"]);
    assert_eq!(wide.rows.len(), 5);
    assert_eq!(wide.rows[..4], long.rows[..]);
}

#[test]
fn malformed_responses_name_the_line_and_column() {
    let header = "candidate_id,item_id,response,score,rt_s\n";
    let cases: &[(&str, &str)] = &[
        ("", "empty or has no header"),
        (
            "candidate_id,item_id,response,score\nc1,q1,A,1\n",
            "no `rt_s` column",
        ),
        (
            "candidate_id,item_id,response,score,rt_s,colour\n",
            "unknown column `colour`",
        ),
        (
            "candidate_id,item_id,response,score,score,rt_s\n",
            "`score` is given twice",
        ),
        (
            "candidate_id,q1.response,q1.score\nc1,A,1\n",
            "no `q1.rt_s` column",
        ),
        ("candidate_id,q1.answer\n", "`answer` is not one of"),
        ("id,q1.response,q1.score,q1.rt_s\n", "unknown column `id`"),
        ("candidate_id,item_id,response,score,rt_s\n", "no responses"),
        (
            "candidate_id,item_id,response,score,rt_s\n\n\n",
            "no responses",
        ),
    ];
    for (text, needle) in cases {
        let err = parse_responses(path(), text).unwrap_err().to_string();
        assert!(err.contains(needle), "{text:?}: {err}");
        assert!(err.starts_with("results.csv"), "{err}");
    }
    let rows: &[(&str, &str)] = &[
        (
            "c1,q1,A,yes,3\n",
            "line 2, column `score`: `yes` is not a score",
        ),
        (
            "c1,q1,A,1.5,3\n",
            "column `score`: `1.5` is not a score from 0 to 1",
        ),
        ("c1,q1,A,NaN,3\n", "column `score`"),
        ("c1,q1,A,,3\n", "column `score`: empty; expected a score"),
        ("c1,q1,A,1,-2\n", "column `rt_s`: `-2` is not seconds"),
        ("c1,q1,A,1,1e9\n", "column `rt_s`"),
        ("c1,q1,A,1,inf\n", "column `rt_s`"),
        (",q1,A,1,3\n", "column `candidate_id`: the id is empty"),
        ("c1,q1,A,1\n", "line 2: 4 fields where the header has 5"),
        (
            "c1,q1,A,1,3\nc2,q1,B,0,4\nc1,q1,C,0,5\n",
            "line 4: candidate `c1` and item `q1` were already given on line 2",
        ),
        ("c1,q1,\"A\u{7}\",1,3\n", "column `response`"),
        ("c1,q1,\"unclosed,1,3\n", "line 2"),
    ];
    for (body, needle) in rows {
        let err = parse_responses(path(), &format!("{header}{body}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{body:?}: {err}");
    }
    let long_id = format!("{header}{},q1,A,1,3\n", "x".repeat(201));
    let err = parse_responses(path(), &long_id).unwrap_err().to_string();
    assert!(err.contains("longer than 200"), "{err}");
    let position = "candidate_id,item_id,response,score,rt_s,position\nc1,q1,A,1,3,0\n";
    let err = parse_responses(path(), position).unwrap_err().to_string();
    assert!(
        err.contains("column `position`: `0` is not the item's place"),
        "{err}"
    );
}

#[test]
fn not_utf8_and_missing_files_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("latin1.csv");
    std::fs::write(
        &bad,
        b"candidate_id,item_id,response,score,rt_s\nc\xe9,q1,A,1,3\n",
    )
    .unwrap();
    let err = invigil_forensics::read_responses(&bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not UTF-8"), "{err}");
    let err = invigil_forensics::read_responses(&dir.path().join("nope.csv"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot read") && err.contains("nope.csv"),
        "{err}"
    );
}

#[test]
fn item_and_candidate_files() {
    let items = parse_items(
        Path::new("items.csv"),
        "item_id,key,options,compromised\nq1,B,4,1\nq2,,,\nq3,D,5,no\n",
    )
    .unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(
        (
            items[0].key.as_deref(),
            items[0].options,
            items[0].compromised
        ),
        (Some("B"), Some(4), true)
    );
    assert_eq!(
        (
            items[1].key.as_deref(),
            items[1].options,
            items[1].compromised
        ),
        (None, None, false)
    );
    let cases: &[(&str, &str)] = &[
        ("item_id,key,weight\n", "unknown column `weight`"),
        ("key\nB\n", "no `item_id` column"),
        (
            "item_id,options\nq1,1\n",
            "column `options`: `1` is not the number of options",
        ),
        (
            "item_id,compromised\nq1,maybe\n",
            "column `compromised`: `maybe` is not 1/0",
        ),
        (
            "item_id\nq1\nq1\n",
            "line 3, column `item_id`: `q1` was already given on line 2",
        ),
    ];
    for (text, needle) in cases {
        let err = parse_items(Path::new("items.csv"), text)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(needle) && err.starts_with("items.csv"),
            "{text:?}: {err}"
        );
    }
    let people = parse_candidates(
        Path::new("candidates.csv"),
        "candidate_id,centre,attempt\nc1,Leeds,1\nc2,,\n",
    )
    .unwrap();
    assert_eq!(people[0].centre.as_deref(), Some("Leeds"));
    assert_eq!(
        (people[1].centre.as_deref(), people[1].attempt),
        (None, None)
    );
    let err = parse_candidates(Path::new("candidates.csv"), "candidate_id,attempt\nc1,0\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("column `attempt`"), "{err}");
}

#[test]
fn results_written_long_read_back_the_same() {
    let r = invigil_forensics::sim::exam(60, 8, &[], 5);
    let text = invigil_forensics::data::to_long_csv(&r);
    let back =
        invigil_forensics::data::parse_responses(std::path::Path::new("r.csv"), &text).unwrap();
    assert_eq!(back, r);
}
