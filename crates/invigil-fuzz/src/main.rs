//! `invigil-fuzz`: runs the fuzz targets (docs/security.md).
//!
//! ```text
//! invigil-fuzz list
//! invigil-fuzz seed                       # write the generated seeds to corpus/
//! invigil-fuzz TARGET|all [--runs N] [--seed S] [--save-new] [--show-outcomes] [--hang-s S]
//! invigil-fuzz replay TARGET FILE...      # one input's outcome and time
//! ```

use std::process::ExitCode;
use std::time::Duration;

use invigil_fuzz::{run, Options, TARGETS};

fn usage() -> ExitCode {
    eprintln!(
        "usage: invigil-fuzz list | seed | replay TARGET FILE... | TARGET|all [--runs N] [--seed S] [--save-new] [--show-outcomes] [--hang-s S]\n\
         targets: {}",
        TARGETS.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(what) = args.first() else {
        return usage();
    };
    let mut options = Options::new(100_000);
    options.progress = Some(Duration::from_secs(10));
    let mut rest = if what == "replay" {
        [].iter()
    } else {
        args[1..].iter()
    };
    while let Some(flag) = rest.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            let value = rest.next().ok_or(format!("{name} needs a value"))?;
            value
                .replace('_', "")
                .parse()
                .map_err(|_| format!("{name} `{value}` is not a whole number"))
        };
        let parsed = match flag.as_str() {
            "--runs" => number("--runs").map(|n| options.runs = n),
            "--seed" => number("--seed").map(|n| options.seed = n),
            "--hang-s" => number("--hang-s").map(|n| options.hang = Duration::from_secs(n.max(1))),
            "--save-new" => {
                options.save_new = true;
                Ok(())
            }
            "--show-outcomes" => {
                options.show_outcomes = true;
                Ok(())
            }
            other => Err(format!("unknown option `{other}`")),
        };
        if let Err(e) = parsed {
            eprintln!("error: {e}");
            return usage();
        }
    }
    match what.as_str() {
        "replay" => {
            // invigil-fuzz replay TARGET FILE...: one input's outcome.
            let (Some(name), files) = (args.get(1), args.get(2..).unwrap_or_default()) else {
                return usage();
            };
            let Some(t) = invigil_fuzz::target(name) else {
                eprintln!("error: no fuzz target `{name}`");
                return usage();
            };
            let scratch = match tempfile::tempdir() {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("error: no scratch directory: {e}");
                    return ExitCode::FAILURE;
                }
            };
            for file in files {
                let input = match std::fs::read(file) {
                    Ok(b) => b,
                    Err(e) => {
                        eprintln!("error: cannot read {file}: {e}");
                        return ExitCode::FAILURE;
                    }
                };
                let started = std::time::Instant::now();
                let outcome = (t.run)(scratch.path(), &input);
                println!(
                    "{file}: {outcome} ({:.3} s)",
                    started.elapsed().as_secs_f64()
                );
            }
            ExitCode::SUCCESS
        }
        "list" => {
            for t in TARGETS {
                println!("{:<9} {}", t.name, t.about);
            }
            ExitCode::SUCCESS
        }
        "seed" => {
            for t in TARGETS {
                let dir = options.corpus_dir.join(t.name);
                if let Err(e) = std::fs::create_dir_all(&dir) {
                    eprintln!("error: cannot create {}: {e}", dir.display());
                    return ExitCode::FAILURE;
                }
                let seeds = invigil_fuzz::seeds::seeds(t.name);
                for (i, seed) in seeds.iter().enumerate() {
                    let path = dir.join(format!("seed-{i:02}"));
                    if let Err(e) = std::fs::write(&path, seed) {
                        eprintln!("error: cannot write {}: {e}", path.display());
                        return ExitCode::FAILURE;
                    }
                }
                println!("{}: {} seeds in {}", t.name, seeds.len(), dir.display());
            }
            ExitCode::SUCCESS
        }
        name => {
            let targets: Vec<_> = if name == "all" {
                TARGETS.iter().collect()
            } else {
                match invigil_fuzz::target(name) {
                    Some(t) => vec![t],
                    None => {
                        eprintln!("error: no fuzz target `{name}`");
                        return usage();
                    }
                }
            };
            let mut findings = 0;
            for t in targets {
                eprintln!("{}: {} runs ({})", t.name, options.runs, t.about);
                let report = run(t, &options);
                println!("{report}");
                findings += report.findings.len();
            }
            if findings == 0 {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "{findings} finding(s); inputs under {}",
                    options.findings_dir.display()
                );
                ExitCode::FAILURE
            }
        }
    }
}
