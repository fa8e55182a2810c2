//! A folder of still images played as a video.

use std::path::{Path, PathBuf};

use invigil_core::Frame;

use crate::files::load_image;
use crate::{frame_time_ms, CaptureError, FrameSource, SourceInfo};

const EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "webp", "bmp", "gif"];

/// Plays the images of a directory, sorted by file name, at a fixed rate.
pub struct ImageDirSource {
    info: SourceInfo,
    files: Vec<PathBuf>,
    next: usize,
    fps: f64,
}

impl ImageDirSource {
    pub fn open(dir: &Path, fps: f64) -> Result<Self, CaptureError> {
        let files = list_images(dir)?;
        Ok(Self {
            info: SourceInfo {
                name: dir.display().to_string(),
                kind: "images",
                fps: Some(fps),
                frames: Some(files.len() as u64),
                live: false,
            },
            files,
            next: 0,
            fps,
        })
    }
}

/// The image files of a directory, sorted by name.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>, CaptureError> {
    let entries = std::fs::read_dir(dir).map_err(|e| CaptureError::io(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| CaptureError::io(dir, e))?.path();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if path.is_file() && ext.is_some_and(|e| EXTENSIONS.contains(&e.as_str())) {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(CaptureError::EmptyDirectory(dir.to_owned()));
    }
    Ok(files)
}

impl FrameSource for ImageDirSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        let Some(path) = self.files.get(self.next) else {
            return Ok(None);
        };
        let frame = load_image(path, frame_time_ms(self.next as u64, self.fps))?;
        self.next += 1;
        Ok(Some(frame))
    }

    /// Images before `not_before_ms` are not read at all: their times come
    /// from the frame rate.
    fn next_frame_from(
        &mut self,
        not_before_ms: u64,
    ) -> Result<(Option<Frame>, u64), CaptureError> {
        let mut skipped = 0;
        while self.next < self.files.len()
            && frame_time_ms(self.next as u64, self.fps) < not_before_ms
        {
            self.next += 1;
            skipped += 1;
        }
        Ok((self.next_frame()?, skipped))
    }
}
