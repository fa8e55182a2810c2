//! `invigil demo`: the whole system on one machine. Starts the server with
//! its console and an embedded SQLite database, creates a proctor account,
//! streams candidate sessions (the webcam, or bundled scenarios when there
//! is none) and prints where to watch them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use invigil_core::protocol::{
    Aids, BreakClock, Breaks, CheckinRequirements, LaunchCode, NewEnrolment, NewExam,
};
use invigil_server::{Config, Server};
use invigil_session::{Monitor, SessionOptions, StreamOptions};
use invigil_uplink::SessionRequest;

use crate::args::DemoArgs;
use crate::serve::{runtime, shutdown_signal};

/// Scenarios a demo runs when there is no webcam: incidents of every kind.
const SCENARIOS: [&str; 3] = [
    "exam_with_incidents.toml",
    "leaves_and_returns.toml",
    "second_person.toml",
];

/// The bundled scenarios: next to the sources this binary was built from,
/// or under the current directory.
fn scenario_dir() -> Option<PathBuf> {
    [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios"),
        PathBuf::from("tests/scenarios"),
    ]
    .into_iter()
    .find(|d| d.join(SCENARIOS[0]).is_file())
}

fn default_sources() -> anyhow::Result<Vec<String>> {
    #[cfg(feature = "camera")]
    if invigil_capture::list_cameras().is_ok_and(|c| !c.is_empty()) {
        eprintln!("invigil demo: using the webcam for one candidate");
        return Ok(vec!["camera".into()]);
    }
    let dir = scenario_dir().context(
        "no webcam found and the bundled scenarios (tests/scenarios) are not here: \
         run the demo from the source tree, or give --source",
    )?;
    eprintln!(
        "invigil demo: no webcam found; {} candidates from bundled scenarios",
        SCENARIOS.len()
    );
    Ok(SCENARIOS
        .iter()
        .map(|s| dir.join(s).display().to_string())
        .collect())
}

fn password() -> String {
    // 96 random bits, as letters and digits people can type.
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY34679";
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// The link that opens the desktop app on a launch code
/// (docs/exams.md): `invigil://launch?server=...&code=...`, and
/// `&ticket=...` when it carries the code's offline ticket.
pub(crate) fn launch_link(server: &str, code: &LaunchCode, ticket: Option<&str>) -> String {
    let enc = crate::exams::seg;
    let mut link = format!(
        "invigil://launch?server={}&code={}",
        enc(server),
        enc(&code.to_string())
    );
    if let Some(t) = ticket {
        link.push_str("&ticket=");
        link.push_str(&enc(t));
    }
    link
}

pub fn run(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let sources = if args.sources.is_empty() {
        default_sources()?
    } else {
        args.sources.clone()
    };
    let rt = runtime()?;
    let config = Config::new(&args.data, args.listen);
    let server = rt.block_on(Server::start(config)).with_context(|| {
        format!(
            "cannot start the server (is {} in use? try --listen 127.0.0.1:0)",
            args.listen
        )
    })?;
    let addr = server.addr();
    let host = if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    };
    let base = format!("http://{host}");
    let password = password();
    rt.block_on(invigil_server::set_proctor(
        server.state().db(),
        &args.user,
        &password,
    ))?;

    // Every alert, as proctors get it.
    let mut alerts = server.state().subscribe_alerts();
    rt.spawn(async move {
        while let Ok(a) = alerts.recv().await {
            eprintln!(
                "  alert: {:<9} {:<22} {} at {:.1} s",
                a.event.severity.as_str(),
                a.event.kind.as_str(),
                a.candidate_id,
                a.event.t_ms as f64 / 1000.0
            );
        }
    });

    // The institution's part: an exam, a roster, launch codes (one spare,
    // for a person joining from the desktop app).
    let run_id = invigil_server::now_ms();
    let api = crate::exams::Api::signed_in(&base, &args.user, &password)?;
    let exam_id = format!("demo-{run_id}");
    api.create_exam(&NewExam {
        id: Some(exam_id.clone()),
        title: "invigil demo exam".into(),
        opens_ms: run_id - 60_000,
        closes_ms: run_id + 4 * 3_600_000,
        policy: Default::default(),
        // The scripted candidates run no check-in (the server would note
        // each as `checkin_missing`); a person joining from the app goes
        // straight to the exam.
        checkin: CheckinRequirements {
            face: false,
            id: false,
            room: false,
            liveness: false,
        },
        aids: Aids {
            scratch_paper: true,
            books: false,
            breaks: Some(Breaks {
                count: 1,
                minutes: 10.0,
                clock: BreakClock::Paused,
            }),
        },
    })
    .context("cannot create the demo exam")?;
    let mut roster: Vec<NewEnrolment> = (1..=sources.len())
        .map(|i| NewEnrolment {
            candidate_id: format!("candidate-{i}"),
            name: format!("Demo candidate {i}"),
            email: String::new(),
            overrides: Default::default(),
        })
        .collect();
    roster.push(NewEnrolment {
        candidate_id: "guest".into(),
        name: "You, from the desktop app".into(),
        email: String::new(),
        overrides: Default::default(),
    });
    let issued = api
        .enrol(&exam_id, roster)
        .context("cannot enrol the demo candidates")?;
    let code_of = |candidate: &str| {
        issued
            .codes
            .iter()
            .find(|c| c.candidate_id == candidate)
            .map(|c| c.code.clone())
            .context("the server issued no code for a demo candidate")
    };

    let mut monitors = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let candidate = format!("candidate-{}", i + 1);
        let mut options = SessionOptions::live(source);
        options.drain = Duration::from_secs(30);
        options.stream = Some(StreamOptions::new(
            SessionRequest::Launch {
                server: base.clone(),
                code: code_of(&candidate)?,
                ticket: None,
            },
            args.data
                .join("journals")
                .join(format!("{run_id}-{candidate}")),
        ));
        let monitor = Monitor::start(options)
            .with_context(|| format!("cannot start {candidate} on {source}"))?;
        monitors.push((candidate, source.clone(), monitor));
    }

    println!();
    println!("invigil demo is running.");
    println!("  Console:   {base}/");
    println!("  Sign in:   user `{}`, password `{password}`", args.user);
    println!("  Data:      {}", args.data.display());
    println!("  Exam:      {exam_id} (candidates started with launch codes)");
    for (candidate, source, _) in &monitors {
        println!("  {candidate}: {source}");
    }
    let spare = code_of("guest")?;
    println!("  Join from the desktop app with launch code {spare}");
    println!("    (or open {})", launch_link(&base, &spare, None));
    println!("Alerts appear in the console as they happen (and below). Ctrl-C stops.");
    println!();

    let stopped = rt.block_on(async {
        let all_done = async {
            while !monitors.iter().all(|(_, _, m)| m.finished()) {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        };
        tokio::select! {
            _ = all_done => false,
            _ = shutdown_signal() => true,
        }
    });
    for (candidate, _, monitor) in monitors {
        let r = monitor.stop();
        eprintln!(
            "  {candidate}: ended ({}), {} events, {}",
            r.reason,
            r.events,
            if r.connection.pending == 0 {
                "all delivered".to_owned()
            } else {
                format!("{} items still waiting to be sent", r.connection.pending)
            }
        );
    }
    if !stopped && !args.once {
        println!("The candidate sessions have ended; the console stays up at {base}/ for review. Ctrl-C stops.");
        rt.block_on(shutdown_signal());
    }
    rt.block_on(server.shutdown())?;
    Ok(ExitCode::SUCCESS)
}
