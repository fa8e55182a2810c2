//! `invigil`: on-device online proctoring from the command line.

mod args;
mod badge;
mod checkin;
mod demo;
mod detect;
mod exams;
mod forensics;
mod identify;
mod qa;
mod report;
mod serve;
mod sessions;
mod setup;
mod watch;

use std::process::ExitCode;

use clap::Parser;

use args::{
    BadgeCommand, Cli, Command, ForensicsCommand, ProctorCommand, QaCommand, SessionsCommand,
    UplinkCommand,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A server logs its sign-ins, sessions and deletions by default.
    let server = matches!(cli.command, Command::Serve(_));
    init_logging(cli.verbose, server);
    let result = match cli.command {
        Command::Detect(a) => detect::run(&a),
        Command::Watch(a) => watch::run(&a),
        Command::Qa {
            command: QaCommand::Run(a),
        } => qa::run(&a),
        Command::Qa {
            command: QaCommand::Render(a),
        } => qa::render(&a),
        Command::Cameras => cameras(),
        Command::Policy(a) => policy(&a),
        Command::Uplink {
            command: UplinkCommand::Status(a),
        } => uplink_status(&a),
        Command::Uplink {
            command: UplinkCommand::Send(a),
        } => watch::uplink_send(&a),
        Command::Serve(a) => serve::serve(&a),
        Command::Demo(a) => demo::run(&a),
        Command::Proctor {
            command: ProctorCommand::Add(a),
        } => serve::proctor_add(&a),
        Command::Proctor {
            command: ProctorCommand::List(a),
        } => serve::proctor_list(&a),
        Command::Proctor {
            command: ProctorCommand::Remove(a),
        } => serve::proctor_remove(&a),
        Command::Checkin(a) => checkin::run(&a),
        Command::Identify(a) => identify::run(&a),
        Command::Exams { server, command } => exams::run(&server, &command),
        Command::Forensics {
            command: ForensicsCommand::Analyze(a),
        } => forensics::analyze(&a),
        Command::Badge {
            command: BadgeCommand::Verify(a),
        } => Ok(badge::verify(&a)),
        Command::Badge {
            command: BadgeCommand::Keys(a),
        } => badge::keys(&a),
        Command::Sessions {
            command: SessionsCommand::List(a),
        } => sessions::list(&a),
        Command::Sessions {
            command: SessionsCommand::Delete(a),
        } => sessions::delete(&a),
        Command::Sessions {
            command: SessionsCommand::Purge(a),
        } => sessions::purge(&a),
        Command::Sessions {
            command: SessionsCommand::Export(a),
        } => sessions::export(&a),
        Command::Sessions {
            command: SessionsCommand::Verify(a),
        } => sessions::verify(&a),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("invigil: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(verbose: u8, server: bool) {
    let default = match verbose {
        0 if server => "warn,invigil_server=info",
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("INVIGIL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(feature = "camera")]
fn cameras() -> anyhow::Result<ExitCode> {
    let cameras = invigil_capture::list_cameras()?;
    if cameras.is_empty() {
        eprintln!(
            "invigil: no cameras found (is a webcam attached, and may this user open /dev/video*?)"
        );
        return Ok(ExitCode::from(1));
    }
    for c in cameras {
        println!("camera:{}\t{}\t{}", c.index, c.name, c.description);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "camera"))]
fn cameras() -> anyhow::Result<ExitCode> {
    eprintln!("invigil: no cameras: this build has no camera support (feature `camera` is off)");
    Ok(ExitCode::from(1))
}

fn policy(a: &args::PolicyArgs) -> anyhow::Result<ExitCode> {
    let policy = setup::load_policy(a.check.as_deref())?;
    if let Some(path) = &a.check {
        eprintln!("{}: valid", path.display());
    }
    print!("{}", toml::to_string(&policy)?);
    Ok(ExitCode::SUCCESS)
}

fn uplink_status(a: &args::UplinkStatusArgs) -> anyhow::Result<ExitCode> {
    // Status only reads: it creates, cuts and writes nothing.
    let journal = invigil_uplink::Journal::open_read_only(&a.journal)?;
    let s = journal.status()?;
    if a.json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        println!("journal {}", a.journal.display());
        println!(
            "  waiting: {} events, {} media ({} bytes)",
            s.pending_events, s.pending_media, s.pending_media_bytes
        );
        println!(
            "  acknowledged up to record {}; next record {}; {} segment file(s)",
            s.acked, s.next_id, s.segments
        );
        if let Some(meta) = invigil_uplink::SessionMeta::load(&a.journal)? {
            println!(
                "  session {} on {} (exam {}, candidate {}): {} events journaled, {}{}",
                meta.session_id,
                meta.server,
                meta.exam_id,
                meta.candidate_id,
                meta.next_seq,
                if meta.created {
                    "known to the server"
                } else {
                    "not yet created on the server"
                },
                if meta.ended {
                    ", ended"
                } else {
                    ", unfinished"
                },
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
