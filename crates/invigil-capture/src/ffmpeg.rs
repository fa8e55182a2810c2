//! Any other video file (WebM, Matroska, AVI, HEVC or VP9 in MP4, ...)
//! through an installed `ffmpeg`: it decodes the first video stream,
//! applies the file's rotation, and pipes 4:2:0 Y4M at a constant frame
//! rate to our Y4M reader. FFmpeg is optional: without it these files are
//! refused with a message that says how to convert them.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use invigil_core::Frame;

use crate::y4m::Y4mSource;
use crate::{CaptureError, FrameSource, SourceInfo};

/// The program run; `INVIGIL_FFMPEG` overrides it (a path, or empty to
/// never use FFmpeg).
fn program() -> Option<String> {
    match std::env::var("INVIGIL_FFMPEG") {
        Ok(p) if p.is_empty() => None,
        Ok(p) => Some(p),
        Err(_) => Some("ffmpeg".to_owned()),
    }
}

/// Whether FFmpeg can be run here.
pub fn ffmpeg_available() -> bool {
    program().is_some_and(|p| {
        Command::new(p)
            .arg("-version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Frames of a video file decoded by an FFmpeg child process.
pub struct FfmpegSource {
    info: SourceInfo,
    path: PathBuf,
    child: Child,
    y4m: Y4mSource,
    stderr: Arc<Mutex<String>>,
    done: bool,
}

impl FfmpegSource {
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let unsupported = |message: String| CaptureError::Unsupported {
            path: path.to_owned(),
            message,
        };
        let Some(program) = program() else {
            return Err(unsupported(
                "this video format needs FFmpeg, which is switched off (INVIGIL_FFMPEG is empty); \
                 convert the file elsewhere: ffmpeg -i IN -pix_fmt yuv420p OUT.y4m"
                    .into(),
            ));
        };
        let mut child = Command::new(&program)
            .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-i"])
            .arg(path)
            .args([
                "-map",
                "0:v:0",
                "-an",
                "-sn",
                "-f",
                "yuv4mpegpipe",
                "-pix_fmt",
                "yuv420p",
                "-",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                unsupported(format!(
                    "this video format needs FFmpeg, which could not be run ({program}: {e}); \
                     install it (apt install ffmpeg) or convert the file: \
                     ffmpeg -i IN -pix_fmt yuv420p OUT.y4m"
                ))
            })?;
        // Drain stderr on a thread so a chatty FFmpeg never blocks.
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&text);
                }
            });
        }
        let stdout = child.stdout.take().expect("stdout is piped");
        let y4m = match Y4mSource::from_reader(path, Box::new(BufReader::new(stdout)), None) {
            Ok(y) => y,
            Err(_) => {
                // FFmpeg wrote no stream: its own message says why.
                let _ = child.wait();
                let why = wait_for_text(&stderr);
                return Err(CaptureError::corrupt(
                    path,
                    format!(
                        "FFmpeg could not decode a video stream: {}",
                        first_line(&why, path)
                    ),
                ));
            }
        };
        let info = SourceInfo {
            name: path.display().to_string(),
            kind: "video",
            fps: y4m.info().fps,
            frames: None,
            live: false,
        };
        Ok(Self {
            info,
            path: path.to_owned(),
            child,
            y4m,
            stderr,
            done: false,
        })
    }
}

impl FrameSource for FfmpegSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        let frame = self.y4m.next_frame();
        if matches!(frame, Ok(Some(_))) {
            return frame;
        }
        self.done = true;
        if let Err(e) = frame {
            // We stop reading: FFmpeg must not be left blocked on the pipe.
            let _ = self.child.kill();
            let _ = self.child.wait();
            return Err(e);
        }
        let status = self
            .child
            .wait()
            .map_err(|e| CaptureError::io(&self.path, e))?;
        if !status.success() {
            let why = wait_for_text(&self.stderr);
            return Err(CaptureError::corrupt(
                &self.path,
                format!(
                    "FFmpeg stopped decoding ({status}): {}",
                    first_line(&why, &self.path)
                ),
            ));
        }
        frame
    }
}

impl Drop for FfmpegSource {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// FFmpeg's stderr once its drain thread has it (the process has exited).
fn wait_for_text(text: &Arc<Mutex<String>>) -> String {
    for _ in 0..50 {
        if let Ok(t) = text.lock() {
            if !t.is_empty() {
                return t.clone();
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    "no message".to_owned()
}

/// FFmpeg's first message line, without the file name it starts with
/// (our error names the file already).
fn first_line(text: &str, path: &Path) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(text)
        .trim();
    let line = line
        .strip_prefix(&format!("{}: ", path.display()))
        .unwrap_or(line);
    line.chars().take(300).collect()
}
