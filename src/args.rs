//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// On-device online proctoring: face presence, exam rules and scripted
/// webcam scenarios.
#[derive(Parser, Debug)]
#[command(name = "invigil", version, about, long_about = None)]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug); or set INVIGIL_LOG.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Detect faces in still images.
    Detect(DetectArgs),
    /// Run the whole pipeline on a camera, file or scenario and write events.
    Watch(WatchArgs),
    /// QA: run scripted scenarios and check the events they produce.
    Qa {
        #[command(subcommand)]
        command: QaCommand,
    },
    /// List attached cameras.
    Cameras,
    /// Print the default policy as TOML, or check a policy file.
    Policy(PolicyArgs),
    /// The on-disk journal of events and media waiting to be sent.
    Uplink {
        #[command(subcommand)]
        command: UplinkCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum UplinkCommand {
    /// Show what is waiting to be sent.
    Status(UplinkStatusArgs),
}

#[derive(Args, Debug)]
pub struct UplinkStatusArgs {
    /// Journal directory.
    #[arg(long, value_name = "DIR", default_value = "invigil-journal")]
    pub journal: PathBuf,
    /// Print the status as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum QaCommand {
    /// Run scenario files (or directories of them) and check expectations.
    Run(QaRunArgs),
    /// Write a scenario's frames as a Y4M video, e.g. for Chromium's fake
    /// webcam (--use-file-for-fake-video-capture) or another runtime.
    Render(QaRenderArgs),
}

#[derive(Args, Debug)]
pub struct QaRenderArgs {
    /// The scenario to render.
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Output .y4m file (4:2:0, the scenario's size and fps).
    #[arg(long, value_name = "FILE")]
    pub y4m: PathBuf,
}

/// Which face detector(s) to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelChoice {
    /// Full-range 256 px model, up to 4 detections a second: finds faces
    /// from ~5% of the frame width up, at any usual webcam framing.
    Back,
    /// Short-range 128 px model, up to 10 detections a second, with the
    /// full-range model only when it finds nobody (and once a second for
    /// further faces): about half the CPU, but it relies on the fallback
    /// whenever the face is under ~20% of the frame width.
    Front,
}

#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Face detector.
    #[arg(long, value_enum, default_value_t = ModelChoice::Back)]
    pub model: ModelChoice,
    /// Load the main model (--model back: the full-range one; --model front:
    /// the short-range one) from this ONNX file instead of the built-in copy.
    #[arg(long, value_name = "FILE")]
    pub model_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct DetectArgs {
    /// Images to analyse (PNG, JPEG, BMP, GIF).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// One JSON object per image per line.
    #[arg(long)]
    pub json: bool,
    /// Report faces scoring at least this. Higher than the rules' presence
    /// threshold (0.6), which prefers a missed absence to a false one.
    #[arg(long, default_value_t = 0.7, value_name = "SCORE")]
    pub min_score: f32,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// `camera`, `camera:N`, a directory of images, a .y4m, .mjpeg/.mjpg or
    /// .gif file, or a scenario .toml.
    #[arg(long, value_name = "SRC")]
    pub source: String,
    /// Frame rate for image directories and MJPEG files.
    #[arg(long, default_value_t = 10.0, value_name = "N")]
    pub fps: f64,
    /// Exam policy (TOML); defaults apply to missing keys. A scenario's own
    /// [policy] overrides are applied on top.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Where to write events as JSON lines; `-` is stdout.
    #[arg(long, default_value = "-", value_name = "FILE|-")]
    pub events: String,
    /// Pace file sources like a camera, dropping frames when analysis is
    /// behind (cameras always run this way).
    #[arg(long)]
    pub realtime: bool,
    /// No status line on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Args, Debug)]
pub struct QaRunArgs {
    /// Scenario files, or directories whose *.toml files are scenarios.
    #[arg(required = true, value_name = "SCENARIO")]
    pub scenarios: Vec<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Keep each scenario's events as DIR/<name>.jsonl.
    #[arg(long, value_name = "DIR")]
    pub events_dir: Option<PathBuf>,
    /// Base policy for every scenario (their [policy] tables apply on top).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Args, Debug)]
pub struct PolicyArgs {
    /// Validate this policy file and print it with defaults filled in.
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
}
