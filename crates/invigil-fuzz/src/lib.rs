//! Fuzzing invigil's parsers of untrusted bytes on the stable toolchain.
//!
//! `cargo-fuzz` needs a nightly compiler (sanitizer flags), which this
//! project does not use; so this crate carries its own mutational fuzzer:
//! inputs from a committed corpus (`corpus/<target>/`) are mutated
//! ([`mutate`]) and run; a panic, or a run longer than the hang limit, is a
//! finding, saved under `findings/`. Without coverage instrumentation, the
//! fuzzer keeps an input when its *outcome* is new (the parser's result or
//! error message, numbers folded), which steers it through the formats'
//! error paths. See docs/security.md.
//!
//! ```text
//! cargo run --release -p invigil-fuzz -- all --runs 1000000
//! ```

pub mod mutate;
pub mod seeds;
pub mod targets;

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub use targets::{target, Target, TARGETS};

/// Most inputs kept in memory per target.
const MAX_CORPUS: usize = 2000;

/// How a run goes.
#[derive(Clone, Debug)]
pub struct Options {
    pub runs: u64,
    pub seed: u64,
    /// The committed corpus (`corpus/<target>/` under it).
    pub corpus_dir: PathBuf,
    /// Where inputs that panic or hang are written.
    pub findings_dir: PathBuf,
    /// Add inputs with new outcomes to the corpus directory.
    pub save_new: bool,
    /// One input running longer than this is a hang.
    pub hang: Duration,
    /// Print progress this often (never when `None`).
    pub progress: Option<Duration>,
    /// Print each new outcome as it is first seen.
    pub show_outcomes: bool,
}

impl Options {
    pub fn new(runs: u64) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        Self {
            runs,
            seed: 0x1d_e5_7a_b1,
            corpus_dir: root.join("corpus"),
            findings_dir: root.join("findings"),
            save_new: false,
            hang: Duration::from_secs(10),
            progress: None,
            show_outcomes: false,
        }
    }
}

/// A panic (or hang) and the input that caused it.
#[derive(Clone, Debug)]
pub struct Finding {
    pub message: String,
    pub input: Vec<u8>,
    pub saved: Option<PathBuf>,
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub target: &'static str,
    pub runs: u64,
    pub elapsed: Duration,
    pub corpus_start: usize,
    pub corpus_end: usize,
    /// Distinct outcomes seen.
    pub outcomes: usize,
    pub findings: Vec<Finding>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} runs in {:.1} s ({:.0}/s), corpus {} -> {}, {} distinct outcomes, {} findings",
            self.target,
            self.runs,
            self.elapsed.as_secs_f64(),
            self.runs as f64 / self.elapsed.as_secs_f64().max(1e-9),
            self.corpus_start,
            self.corpus_end,
            self.outcomes,
            self.findings.len()
        )
    }
}

/// The corpus of a target: its committed files, else its generated seeds.
pub fn load_corpus(target: &Target, dir: &Path) -> Vec<Vec<u8>> {
    let mut inputs: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir.join(target.name))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
                .collect()
        })
        .unwrap_or_default();
    inputs.sort();
    if inputs.is_empty() {
        return seeds::seeds(target.name);
    }
    inputs.into_iter().map(|(_, b)| b).collect()
}

fn short_hash(bytes: &[u8]) -> String {
    invigil_core::chain::hex(&Sha256::digest(bytes))[..16].to_owned()
}

/// Fuzzes one target.
pub fn run(target: &'static Target, options: &Options) -> Report {
    let mut corpus = load_corpus(target, &options.corpus_dir);
    let scratch = tempfile::Builder::new()
        .prefix("invigil-fuzz-")
        .tempdir_in(fast_tmp())
        .expect("a scratch directory");
    let mut report = Report {
        target: target.name,
        corpus_start: corpus.len(),
        ..Default::default()
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut rng = mutate::Rng::new(options.seed ^ fnv(target.name));

    // A watchdog: an input that runs too long is saved and ends the run.
    let current: Arc<Mutex<Vec<u8>>> = Arc::default();
    let done = Arc::new(AtomicU64::new(0));
    let watchdog = {
        let (current, done) = (Arc::clone(&current), Arc::clone(&done));
        let (hang, findings_dir, name) = (options.hang, options.findings_dir.clone(), target.name);
        std::thread::spawn(move || {
            let mut last = (u64::MAX, Instant::now());
            loop {
                std::thread::sleep(Duration::from_millis(250).min(hang));
                let n = done.load(Ordering::Relaxed);
                if n == u64::MAX {
                    return;
                }
                if n != last.0 {
                    last = (n, Instant::now());
                } else if last.1.elapsed() > hang {
                    let input = current.lock().map(|c| c.clone()).unwrap_or_default();
                    let path = save_finding(&findings_dir, name, "hang", &input);
                    eprintln!(
                        "{name}: an input ran for over {hang:?} (a hang), saved to {}",
                        path.map(|p| p.display().to_string()).unwrap_or_default()
                    );
                    std::process::exit(3);
                }
            }
        })
    };

    install_quiet_hook();
    QUIET.with(|q| q.set(true));
    let started = Instant::now();
    let mut last_progress = Instant::now();
    // The corpus as it is first, then mutations.
    let mut plan = (0..corpus.len())
        .map(|i| corpus[i].clone())
        .collect::<Vec<_>>()
        .into_iter();
    while report.runs < options.runs {
        let input = match plan.next() {
            Some(input) => input,
            None => {
                let mut input = corpus[rng.below(corpus.len())].clone();
                mutate::mutate(&mut rng, &mut input, &corpus, target.tokens, target.max_len);
                input
            }
        };
        if let Ok(mut c) = current.lock() {
            c.clone_from(&input);
        }
        let result =
            std::panic::catch_unwind(AssertUnwindSafe(|| (target.run)(scratch.path(), &input)));
        report.runs += 1;
        done.store(report.runs, Ordering::Relaxed);
        match result {
            Ok(outcome) => {
                let sig = targets::signature(&outcome);
                if options.show_outcomes && !seen.contains(&sig) {
                    eprintln!("  new outcome: {sig}");
                }
                if seen.insert(sig) && report.runs > report.corpus_start as u64 {
                    if options.save_new {
                        let dir = options.corpus_dir.join(target.name);
                        let _ = std::fs::create_dir_all(&dir);
                        let _ = std::fs::write(dir.join(short_hash(&input)), &input);
                    }
                    if corpus.len() < MAX_CORPUS {
                        corpus.push(input);
                    }
                }
            }
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                let saved = save_finding(&options.findings_dir, target.name, "panic", &input);
                eprintln!(
                    "{}: PANIC on a {}-byte input: {message}{}",
                    target.name,
                    input.len(),
                    saved
                        .as_ref()
                        .map(|p| format!(" (saved to {})", p.display()))
                        .unwrap_or_default()
                );
                report.findings.push(Finding {
                    message,
                    input,
                    saved,
                });
            }
        }
        if let Some(every) = options.progress {
            if last_progress.elapsed() >= every {
                last_progress = Instant::now();
                eprintln!(
                    "  {}: {} / {} runs, {:.0}/s, corpus {}, outcomes {}, findings {}",
                    target.name,
                    report.runs,
                    options.runs,
                    report.runs as f64 / started.elapsed().as_secs_f64(),
                    corpus.len(),
                    seen.len(),
                    report.findings.len()
                );
            }
        }
    }
    QUIET.with(|q| q.set(false));
    done.store(u64::MAX, Ordering::Relaxed);
    let _ = watchdog.join();
    report.elapsed = started.elapsed();
    report.corpus_end = corpus.len();
    report.outcomes = seen.len();
    report
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// `/dev/shm` when there is one (inputs are written as files), else the
/// system's temporary directory.
fn fast_tmp() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    }
}

fn save_finding(dir: &Path, target: &str, kind: &str, input: &[u8]) -> Option<PathBuf> {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(format!("{kind}-{}", short_hash(input)));
    std::fs::write(&path, input).ok()?;
    Some(path)
}

thread_local! {
    /// Whether this thread is fuzzing: its panics are findings, kept quiet.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Where this thread's last quiet panic happened.
    static PLACE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// One process-wide panic hook: quiet on fuzzing threads (a million runs
/// must not flood the terminal; the place is kept for the report), the
/// usual one everywhere else. Installed once, so runs on several threads
/// (tests) do not replace each other's hook.
fn install_quiet_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(|q| q.get()) {
                let place = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                PLACE.with(|p| *p.borrow_mut() = Some(place));
            } else {
                default(info);
            }
        }));
    });
}

/// A caught panic's message (from its payload) and place (from the hook).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into());
    let place = PLACE.with(|p| p.borrow_mut().take()).unwrap_or_default();
    format!("{message}{place}")
}
