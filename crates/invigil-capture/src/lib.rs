//! invigil-capture: frame sources (webcam, image folders, Y4M, MP4, MJPEG, GIF,
//! other videos through FFmpeg, scripted scenarios) and the `watch` pipeline that drives a source through
//! an analyzer and the rule engine.

pub mod clip_mp4;
mod error;
mod ffmpeg;
mod files;
mod gif_source;
mod image_dir;
mod mjpeg;
mod mp4_source;
pub mod pipeline;
mod resize;
pub mod scenario;
mod y4m;

#[cfg(feature = "camera")]
mod camera;

pub use error::CaptureError;
pub use ffmpeg::{ffmpeg_available, FfmpegSource};
pub use files::load_image;
pub use gif_source::GifSource;
pub use image_dir::{list_images, ImageDirSource};
pub use mjpeg::MjpegSource;
pub use mp4_source::Mp4Source;
pub use scenario::{Scenario, ScenarioSource};
pub use y4m::{write_y4m, Y4mSource};

#[cfg(feature = "camera")]
pub use camera::{list_cameras, CameraDescription, CameraSource};

use std::path::Path;

use invigil_core::Frame;

/// Describes a source for logs, progress lines and `session_started`.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceInfo {
    /// What the user asked for, e.g. `camera:0` or a file path.
    pub name: String,
    /// `camera`, `images`, `y4m`, `mjpeg`, `gif`, `mp4`, `video` (through
    /// FFmpeg) or `scenario`.
    pub kind: &'static str,
    /// Nominal frame rate, when known.
    pub fps: Option<f64>,
    /// Frames expected in all, when known (files), for progress bars.
    pub frames: Option<u64>,
    /// A live source delivers frames in real time and cannot wait for the
    /// analysis: frames are dropped when analysis falls behind.
    pub live: bool,
}

/// Anything that produces frames with media timestamps.
pub trait FrameSource: Send {
    fn info(&self) -> &SourceInfo;

    /// The next frame, `Ok(None)` at the end of the stream. A camera that
    /// goes away returns [`CaptureError::Disconnected`].
    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError>;

    /// The next frame at or after media time `not_before_ms` (`None` at
    /// the end), and how many earlier frames were passed over. The default
    /// decodes every frame and drops the early ones; sources that know a
    /// frame's time before decoding it (Y4M) pass over them undecoded.
    fn next_frame_from(
        &mut self,
        not_before_ms: u64,
    ) -> Result<(Option<Frame>, u64), CaptureError> {
        let mut skipped = 0;
        loop {
            match self.next_frame()? {
                Some(f) if f.t_ms < not_before_ms => skipped += 1,
                f => return Ok((f, skipped)),
            }
        }
    }
}

/// Options for opening a source from a `--source` string.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// Frame rate for image folders and MJPEG files (they carry none).
    pub fps: f64,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self { fps: 10.0 }
    }
}

/// Video containers read through FFmpeg when it is installed.
const FFMPEG_EXTENSIONS: [&str; 11] = [
    "webm", "mkv", "avi", "wmv", "flv", "mpg", "mpeg", "ts", "m2ts", "3gp", "ogv",
];

/// A source opened from a `--source` string, with the scenario it plays
/// when it is one (whose `[policy]` and expectations the caller needs).
pub struct Opened {
    pub source: Box<dyn FrameSource>,
    pub scenario: Option<Scenario>,
}

/// Opens a source from a `--source` string: `camera`, `camera:N`, a
/// directory of images, or a `.y4m`, `.mp4`/`.m4v`/`.mov`, `.mjpeg`/`.mjpg`,
/// `.gif` or scenario `.toml` file; other video files through FFmpeg.
pub fn open_source(
    spec: &str,
    options: &OpenOptions,
) -> Result<Box<dyn FrameSource>, CaptureError> {
    open(spec, options).map(|o| o.source)
}

/// [`open_source`], keeping the scenario (read once) when the source is one.
pub fn open(spec: &str, options: &OpenOptions) -> Result<Opened, CaptureError> {
    if !(options.fps.is_finite() && options.fps > 0.0 && options.fps <= 1000.0) {
        return Err(CaptureError::InvalidOption(format!(
            "--fps must be between 0 and 1000, got {}",
            options.fps
        )));
    }
    if Path::new(spec)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
        && Path::new(spec).is_file()
    {
        let scenario = Scenario::load(Path::new(spec))?;
        return Ok(Opened {
            source: Box::new(ScenarioSource::new(scenario.clone())?),
            scenario: Some(scenario),
        });
    }
    open_plain(spec, options).map(|source| Opened {
        source,
        scenario: None,
    })
}

fn open_plain(spec: &str, options: &OpenOptions) -> Result<Box<dyn FrameSource>, CaptureError> {
    if spec == "camera" || spec.starts_with("camera:") {
        return open_camera(spec);
    }
    let path = Path::new(spec);
    if path.is_dir() {
        return Ok(Box::new(ImageDirSource::open(path, options.fps)?));
    }
    if !path.exists() {
        return Err(CaptureError::NotFound(path.to_owned()));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "y4m" => Ok(Box::new(Y4mSource::open(path)?)),
        "mjpeg" | "mjpg" => Ok(Box::new(MjpegSource::open(path, options.fps)?)),
        "gif" => Ok(Box::new(GifSource::open(path)?)),
        "mp4" | "m4v" | "mov" => match mp4_source::Mp4Source::try_open(path) {
            Ok(source) => Ok(Box::new(source)),
            Err(mp4_source::OpenFailure::Codec(why)) => {
                if ffmpeg_available() {
                    tracing::info!("{}: {why}; decoding with FFmpeg", path.display());
                    Ok(Box::new(FfmpegSource::open(path)?))
                } else {
                    Err(CaptureError::Unsupported {
                        path: path.to_owned(),
                        message: why,
                    })
                }
            }
            Err(mp4_source::OpenFailure::Other(e)) => Err(e),
        },
        e if FFMPEG_EXTENSIONS.contains(&e) => Ok(Box::new(FfmpegSource::open(path)?)),
        _ => Err(CaptureError::Unsupported {
            path: path.to_owned(),
            message: "not a known source: use a directory of images, a .y4m, .mjpeg/.mjpg, \
                      .gif, .mp4/.m4v/.mov (H.264; other codecs and .webm, .mkv, .avi need \
                      FFmpeg) or scenario .toml file, or camera / camera:N"
                .into(),
        }),
    }
}

#[cfg(feature = "camera")]
fn open_camera(spec: &str) -> Result<Box<dyn FrameSource>, CaptureError> {
    let index = parse_camera_index(spec)?;
    Ok(Box::new(CameraSource::open(index, spec)?))
}

#[cfg(not(feature = "camera"))]
fn open_camera(spec: &str) -> Result<Box<dyn FrameSource>, CaptureError> {
    parse_camera_index(spec)?;
    Err(CaptureError::NoCamera(
        "this build of invigil has no camera support (built without the `camera` feature)".into(),
    ))
}

fn parse_camera_index(spec: &str) -> Result<u32, CaptureError> {
    match spec.strip_prefix("camera:") {
        None => Ok(0),
        Some(n) => n.parse().map_err(|_| {
            CaptureError::InvalidOption(format!(
                "`{spec}`: expected camera:N with N a device number, e.g. camera:0"
            ))
        }),
    }
}

/// Media time of frame `index` at `fps`, in whole milliseconds; saturates
/// far in the future, where `Frame::new` refuses it.
pub(crate) fn frame_time_ms(index: u64, fps: f64) -> u64 {
    // `as` saturates on overflow (and maps NaN to 0).
    (index as f64 * 1000.0 / fps).round() as u64
}
