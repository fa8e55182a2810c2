//! Frames as JPEG, for previews and check-in photos.

use invigil_core::Frame;

/// The frame as JPEG, scaled down (area filter) to at most `max_width`.
pub(crate) fn jpeg(frame: &Frame, max_width: u32, quality: u8) -> Option<Vec<u8>> {
    let scale = (f64::from(max_width) / f64::from(frame.width)).min(1.0);
    let w = ((f64::from(frame.width) * scale) as u32).max(2) & !1;
    let h = ((f64::from(frame.height) * scale) as u32).max(2) & !1;
    // Scaled through the clip path's area filter, then back to RGB.
    let yuv = invigil_core::clip::to_i420(frame, w, h);
    let rgb = i420_to_rgb(&yuv, w as usize, h as usize);
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
    image::ImageEncoder::write_image(encoder, &rgb, w, h, image::ExtendedColorType::Rgb8).ok()?;
    Some(out)
}

fn i420_to_rgb(yuv: &[u8], w: usize, h: usize) -> Vec<u8> {
    let (y_plane, rest) = yuv.split_at(w * h);
    let (u_plane, v_plane) = rest.split_at(w * h / 4);
    let mut rgb = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let c = i32::from(y_plane[y * w + x]) - 16;
            let i = (y / 2) * (w / 2) + x / 2;
            let d = i32::from(u_plane[i]) - 128;
            let e = i32::from(v_plane[i]) - 128;
            let clamp = |v: i32| ((v + 128) >> 8).clamp(0, 255) as u8;
            rgb.push(clamp(298 * c + 409 * e));
            rgb.push(clamp(298 * c - 100 * d - 208 * e));
            rgb.push(clamp(298 * c + 516 * d));
        }
    }
    rgb
}

/// A JPEG as a `data:` URL, for an `<img>` in the UI.
pub fn data_url(jpeg: &[u8]) -> String {
    use base64::Engine;
    format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(jpeg)
    )
}
