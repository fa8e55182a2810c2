//! What the same-person check costs a whole session (docs/performance.md):
//! the same source analysed with and without a reference face, as fast as
//! the machine goes (file sources are analysed frame by frame on one
//! thread, so the time is the analysis CPU).
//!
//! ```sh
//! cargo run --release -p invigil-session --example identity_cost -- SOURCE REFERENCE_IMAGE [RUNS]
//! ```

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use invigil_session::{reference_from_image, Session, SessionOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [source, reference, rest @ ..] = args.as_slice() else {
        return Err("usage: identity_cost SOURCE REFERENCE_IMAGE [RUNS]".into());
    };
    let runs: usize = rest.first().map_or(Ok(3), |r| r.parse())?;
    let reference = reference_from_image(std::path::Path::new(reference))?;
    println!("identity\trun\tframes\tdetections\tmedia s\tanalysis s\tanalysis s per media minute");
    for on in [false, true] {
        for run in 1..=runs {
            let mut options = SessionOptions::new(source);
            options.reference_face = on.then(|| reference.clone());
            let session = Session::open(options)?;
            let started = Instant::now();
            let outcome = session.run(&AtomicBool::new(false), &mut ());
            let took = started.elapsed().as_secs_f64();
            let media_s = outcome
                .last_event
                .as_ref()
                .and_then(|e| e.data.get("duration_ms"))
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(0.0)
                / 1000.0;
            let (frames, detections) = outcome.analysed;
            println!(
                "{}\t{run}\t{frames}\t{detections}\t{media_s:.1}\t{took:.2}\t{:.2}",
                if on { "on" } else { "off" },
                took / media_s.max(1e-9) * 60.0
            );
        }
    }
    Ok(())
}
