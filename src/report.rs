//! Human-facing output: the live status line and the end-of-run summary.

use std::io::Write;

use invigil_capture::pipeline::Progress;
use invigil_capture::SourceInfo;
use std::time::{Duration, Instant};

/// A one-line status on stderr, redrawn at most 10 times a second.
pub struct StatusLine {
    enabled: bool,
    last: Option<Instant>,
    started: Instant,
}

impl StatusLine {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            last: None,
            started: Instant::now(),
        }
    }

    pub fn update(&mut self, p: &Progress, info: &SourceInfo, link: Option<&str>) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now - t < Duration::from_millis(100))
        {
            return;
        }
        self.last = Some(now);
        let of = info
            .frames
            .map(|n| format!("/{n} ({:.0}%)", 100.0 * p.frames as f64 / n.max(1) as f64))
            .unwrap_or_default();
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K{} {}  frame {}{of}  t={}  faces {}  events {}  violations {}  dropped {}{}",
            info.kind,
            short(&info.name),
            p.frames,
            clock(p.t_ms),
            p.faces,
            p.events,
            p.violations,
            p.dropped,
            link.map(|l| format!("  server: {l}")).unwrap_or_default()
        );
        let _ = err.flush();
    }

    pub fn finish(&mut self, p: &Progress) {
        if !self.enabled {
            return;
        }
        let secs = self.started.elapsed().as_secs_f64();
        let _ = writeln!(
            std::io::stderr(),
            "\r\x1b[2Kdone: {} frames ({} of media) in {secs:.1} s, {} events, {} violations, {} frames dropped",
            p.frames,
            clock(p.t_ms),
            p.events,
            p.violations,
            p.dropped
        );
    }
}

/// `m:ss.s` from milliseconds.
pub fn clock(ms: u64) -> String {
    format!("{}:{:04.1}", ms / 60_000, (ms % 60_000) as f64 / 1000.0)
}

fn short(name: &str) -> &str {
    let n = name.len();
    if n > 40 {
        let mut i = n - 37;
        while !name.is_char_boundary(i) {
            i += 1;
        }
        &name[i..]
    } else {
        name
    }
}
