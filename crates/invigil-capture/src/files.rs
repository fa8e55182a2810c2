//! Decoding still images into frames.

use std::path::Path;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader};
use invigil_core::Frame;

use crate::CaptureError;

/// Decodes an image file (format from its content) into an RGB frame
/// stamped `t_ms`, turned upright as its EXIF orientation says: phones store
/// portrait photos sideways and tag them, and a face on its side is no face
/// to the detector.
pub fn load_image(path: &Path, t_ms: u64) -> Result<Frame, CaptureError> {
    let reader = ImageReader::open(path)
        .map_err(|e| CaptureError::io(path, e))?
        .with_guessed_format()
        .map_err(|e| CaptureError::io(path, e))?;
    if reader.format().is_none() {
        return Err(CaptureError::corrupt(
            path,
            "not an image (unrecognised format; PNG, JPEG, WebP, GIF and BMP are read)",
        ));
    }
    let cannot =
        |e: image::ImageError| CaptureError::corrupt(path, format!("cannot decode image: {e}"));
    let mut decoder = reader.into_decoder().map_err(cannot)?;
    // A damaged EXIF block must not cost the picture: keep it as stored.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(cannot)?;
    img.apply_orientation(orientation);
    let img = img.into_rgb8();
    let (w, h) = img.dimensions();
    Frame::new(t_ms, w, h, img.into_raw()).map_err(|e| CaptureError::corrupt(path, e.to_string()))
}

/// Decodes JPEG bytes (one MJPEG frame) into an RGB frame.
pub(crate) fn decode_jpeg(bytes: &[u8], t_ms: u64) -> Result<Frame, String> {
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg)
        .map_err(|e| e.to_string())?
        .into_rgb8();
    let (w, h) = img.dimensions();
    Frame::new(t_ms, w, h, img.into_raw()).map_err(|e| e.to_string())
}
