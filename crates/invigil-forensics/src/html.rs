//! The analysis as one self-contained HTML page (no script, no external
//! resource): the flags, score against time, a graph of the flagged pairs,
//! and each item's response-time distribution, as inline SVG. Every id
//! from the files is escaped: they come from candidates' machines.

use std::fmt::Write;

use crate::analyze::Report;

/// `s` with `& < > " '` escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;\
color:#1b1f24}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;\
padding:4px 6px;text-align:left;vertical-align:top}tr.invalidation td{background:#fde8e8}\
svg{background:#fafafa;border:1px solid #ddd}.note{color:#7a4b00}small{color:#555}";

/// The page.
pub fn render(report: &Report, title: &str) -> String {
    let mut h = String::new();
    let l = &report.levels;
    let _ = write!(
        h,
        "<!doctype html><html lang=en><meta charset=utf-8><title>{t}</title><style>{STYLE}</style>\
         <h1>{t}</h1><p>{} candidates, {} items. {} flagged for review, {} meeting the \
         invalidation conditions. Forensics does not invalidate by itself: a person reviews each \
         flag beside the candidate's proctoring record and decides.</p>",
        report.candidates,
        report.items,
        report.flags.len(),
        report.invalidations,
        t = escape(title),
    );
    let _ = write!(
        h,
        "<p><small>Budget {:.0e} per candidate: pairs at p ≤ {:.2e} ({} partners{}), each of \
         {} at p ≤ {:.2e}; a second independent piece of evidence (the other kind of data at \
         p ≤ {:.0e}, or a proctoring violation) is required. Review level {:.0e} per index \
         ({:.2e} per pair). See docs/forensics.md.</small></p>",
        l.budget,
        l.pair_invalidation,
        l.partners,
        if l.within_centres {
            ", within test centres"
        } else {
            ""
        },
        escape(&l.person_indices.join(", ")),
        l.person_invalidation,
        l.review,
        l.review,
        l.pair_review,
    );
    for note in &report.notes {
        let _ = write!(h, "<p class=note>{}</p>", escape(note));
    }
    let _ = write!(
        h,
        "<h2>Models</h2><ul>{}</ul>",
        report
            .models
            .iter()
            .map(|m| format!(
                "<li>{}: {} in {} iterations</li>",
                escape(&m.model),
                if m.converged {
                    "converged"
                } else {
                    "<b>not converged</b>"
                },
                m.iterations
            ))
            .collect::<String>()
    );

    h.push_str("<h2>Flags</h2>");
    if report.flags.is_empty() {
        h.push_str("<p>None.</p>");
    } else {
        h.push_str(
            "<table><tr><th>Candidates<th>Index<th>Statistic<th>p<th>Invalidation<th>What it \
             shows<th>Second evidence</tr>",
        );
        for f in &report.flags {
            let _ = write!(
                h,
                "<tr{}><td>{}<td>{}{}<td>{:.3}<td>{:.2e}<td>{}<td>{}<td>{}</tr>",
                if f.invalidation {
                    " class=invalidation"
                } else {
                    ""
                },
                escape(&f.candidates.join(" · ")),
                escape(&f.index),
                if f.calibrated {
                    ""
                } else {
                    " <small>(nominal)</small>"
                },
                f.statistic,
                f.p,
                if f.invalidation { "<b>yes</b>" } else { "no" },
                escape(&f.detail),
                escape(f.corroboration.as_deref().unwrap_or("")),
            );
        }
        h.push_str("</table>");
    }

    h.push_str("<h2>Score against time</h2>");
    scatter(&mut h, report);
    h.push_str("<h2>Flagged pairs</h2>");
    pairs(&mut h, report);
    h.push_str("<h2>Response times by item</h2>");
    boxes(&mut h, report);
    h.push_str("</html>\n");
    h
}

fn flagged(report: &Report, id: &str) -> (bool, bool) {
    let mut any = false;
    let mut invalid = false;
    for f in &report.flags {
        if f.candidates.iter().any(|c| c == id) {
            any = true;
            invalid |= f.invalidation;
        }
    }
    (any, invalid)
}

/// Each candidate's total score against total minutes.
fn scatter(h: &mut String, report: &Report) {
    let (w, ht, pad) = (700.0, 360.0, 40.0);
    let cs = &report.candidate_summaries;
    let max_s = cs.iter().map(|c| c.score).fold(1.0, f64::max);
    let max_t = cs.iter().map(|c| c.seconds / 60.0).fold(1.0, f64::max);
    let _ = write!(
        h,
        "<svg width={w} height={ht} role=img aria-label='score against time'>\
         <text x={pad} y=20>score (up) against minutes (right); red: invalidation, orange: \
         review</text>"
    );
    for c in cs {
        let x = pad + (c.seconds / 60.0) / max_t * (w - 2.0 * pad);
        let y = ht - pad - c.score / max_s * (ht - 2.0 * pad);
        let (any, invalid) = flagged(report, &c.candidate_id);
        let (r, fill) = match (any, invalid) {
            (_, true) => (5, "#c62828"),
            (true, _) => (4, "#ef8f00"),
            _ => (2, "#5a6b7b"),
        };
        let _ = write!(
            h,
            "<circle cx={x:.1} cy={y:.1} r={r} fill='{fill}'><title>{}: {:.1}, {:.1} min</title>\
             </circle>",
            escape(&c.candidate_id),
            c.score,
            c.seconds / 60.0
        );
    }
    let _ = write!(
        h,
        "<text x={pad} y={} >0</text><text x={} y={}>{max_t:.0} min</text>\
         <text x=4 y={}>{max_s:.0}</text></svg>",
        ht - 8.0,
        w - pad - 40.0,
        ht - 8.0,
        pad + 4.0
    );
}

/// Flagged pairs as a graph: candidates on a circle, an edge per pair.
fn pairs(h: &mut String, report: &Report) {
    let edges: Vec<_> = report
        .flags
        .iter()
        .filter(|f| f.candidates.len() == 2)
        .collect();
    if edges.is_empty() {
        h.push_str("<p>None.</p>");
        return;
    }
    let mut nodes: Vec<&str> = Vec::new();
    for f in &edges {
        for c in &f.candidates {
            if !nodes.contains(&c.as_str()) {
                nodes.push(c);
            }
        }
    }
    let (size, r) = (460.0, 180.0);
    let pos = |k: usize| {
        let a = std::f64::consts::TAU * k as f64 / nodes.len() as f64;
        (size / 2.0 + r * a.cos(), size / 2.0 + r * a.sin())
    };
    let at = |id: &str| pos(nodes.iter().position(|n| *n == id).unwrap_or(0));
    let _ = write!(
        h,
        "<svg width={size} height={size} role=img aria-label='flagged pairs'>"
    );
    for f in &edges {
        let ((x1, y1), (x2, y2)) = (at(&f.candidates[0]), at(&f.candidates[1]));
        let width = (-f.p.max(1e-300).log10() / 3.0).clamp(1.0, 8.0);
        let colour = if f.invalidation { "#c62828" } else { "#ef8f00" };
        let _ = write!(
            h,
            "<line x1={x1:.1} y1={y1:.1} x2={x2:.1} y2={y2:.1} stroke='{colour}' \
             stroke-width={width:.1}><title>{} p {:.2e}</title></line>",
            escape(&f.detail),
            f.p
        );
    }
    for (k, n) in nodes.iter().enumerate() {
        let (x, y) = pos(k);
        let _ = write!(
            h,
            "<circle cx={x:.1} cy={y:.1} r=5 fill='#1b1f24'/><text x={:.1} y={:.1}>{}</text>",
            x + 7.0,
            y - 7.0,
            escape(n)
        );
    }
    h.push_str("</svg>");
}

/// Each item's seconds: 5-95 % whisker, 25-75 % box, median, on a log
/// scale; compromised items in red.
fn boxes(h: &mut String, report: &Report) {
    let items: Vec<_> = report
        .item_summaries
        .iter()
        .filter_map(|it| it.seconds.map(|s| (it, s)))
        .collect();
    if items.is_empty() {
        h.push_str("<p>No times recorded.</p>");
        return;
    }
    let lo = items
        .iter()
        .map(|(_, s)| s[0])
        .fold(f64::MAX, f64::min)
        .max(0.1)
        .ln();
    let hi = items
        .iter()
        .map(|(_, s)| s[4])
        .fold(0.1, f64::max)
        .ln()
        .max(lo + 1e-3);
    let (row, left, w) = (14.0, 90.0, 700.0);
    let ht = row * items.len() as f64 + 30.0;
    let x = |s: f64| left + (s.max(0.1).ln() - lo) / (hi - lo) * (w - left - 20.0);
    let _ = write!(
        h,
        "<svg width={w} height={ht} role=img aria-label='response times by item'>\
         <text x={left} y=12>seconds, log scale: {:.1} to {:.0}</text>",
        lo.exp(),
        hi.exp()
    );
    for (k, (it, s)) in items.iter().enumerate() {
        let y = 22.0 + row * k as f64;
        let colour = if it.compromised { "#c62828" } else { "#37474f" };
        let _ = write!(
            h,
            "<text x=2 y={:.1} font-size=11>{}</text>\
             <line x1={:.1} x2={:.1} y1={y:.1} y2={y:.1} stroke='{colour}'/>\
             <rect x={:.1} y={:.1} width={:.1} height=8 fill='{colour}' opacity=0.5>\
             <title>{}: {:.1} / {:.1} / {:.1} / {:.1} / {:.1} s</title></rect>\
             <line x1={m:.1} x2={m:.1} y1={:.1} y2={:.1} stroke='#000'/>",
            y + 4.0,
            escape(&it.item_id),
            x(s[0]),
            x(s[4]),
            x(s[1]),
            y - 4.0,
            (x(s[3]) - x(s[1])).max(1.0),
            escape(&it.item_id),
            s[0],
            s[1],
            s[2],
            s[3],
            s[4],
            y - 5.0,
            y + 5.0,
            m = x(s[2]),
        );
    }
    h.push_str("</svg>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{analyze, Options};
    use crate::sim::{exam, Cheat};

    #[test]
    fn the_page_shows_the_flags_and_escapes_ids() {
        let mut r = exam(120, 30, &[(5, Cheat::Speeder { items: 12 })], 4);
        r.candidates[5] = "<script>alert(1)</script>".into();
        let report = analyze(&r, None, None, &Options::default()).unwrap();
        let page = render(&report, "Exam <1>");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains("<script>"));
        assert!(page.contains("<h1>Exam &lt;1&gt;</h1>"));
        assert!(page.contains("fast_items"), "the speeder's flag");
        assert_eq!(
            page.matches("<svg").count(),
            2 + usize::from(report.flags.iter().any(|f| f.candidates.len() == 2))
        );
    }
}
