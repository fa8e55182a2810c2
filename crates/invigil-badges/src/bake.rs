//! Baked badges: the credential inside the badge's PNG (Open Badges 3.0,
//! "Baking"): an `iTXt` chunk with the keyword `openbadgecredential`,
//! uncompressed, whose text is the credential's JSON.

use crate::BadgeError;

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
const KEYWORD: &[u8] = b"openbadgecredential";
/// A baked image larger than this is refused when read.
const MAX_PNG: usize = 16 * 1024 * 1024;

struct Chunk<'a> {
    kind: [u8; 4],
    data: &'a [u8],
    /// The whole chunk: length, type, data and CRC.
    raw: &'a [u8],
}

fn chunks(png: &[u8]) -> Result<Vec<Chunk<'_>>, BadgeError> {
    if png.len() > MAX_PNG {
        return Err(BadgeError::Image(format!(
            "larger than {} MiB",
            MAX_PNG >> 20
        )));
    }
    if png.len() < 8 || png[..8] != SIGNATURE {
        return Err(BadgeError::Image("not a PNG file (bad signature)".into()));
    }
    let mut out = Vec::new();
    let mut at = 8;
    loop {
        if at + 12 > png.len() {
            return Err(BadgeError::Image(format!("truncated chunk at byte {at}")));
        }
        let len = u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]) as usize;
        let end = at
            .checked_add(12)
            .and_then(|v| v.checked_add(len))
            .filter(|&e| e <= png.len())
            .ok_or_else(|| BadgeError::Image(format!("chunk at byte {at} runs past the end")))?;
        let kind = [png[at + 4], png[at + 5], png[at + 6], png[at + 7]];
        let data = &png[at + 8..at + 8 + len];
        let crc = u32::from_be_bytes([png[end - 4], png[end - 3], png[end - 2], png[end - 1]]);
        let mut h = crc32fast::Hasher::new();
        h.update(&kind);
        h.update(data);
        if h.finalize() != crc {
            return Err(BadgeError::Image(format!(
                "chunk {} at byte {at} has a bad CRC",
                String::from_utf8_lossy(&kind)
            )));
        }
        out.push(Chunk {
            kind,
            data,
            raw: &png[at..end],
        });
        at = end;
        if &kind == b"IEND" {
            return Ok(out);
        }
    }
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 12);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut h = crc32fast::Hasher::new();
    h.update(kind);
    h.update(data);
    out.extend_from_slice(&h.finalize().to_be_bytes());
    out
}

fn is_badge_chunk(c: &Chunk<'_>) -> bool {
    &c.kind == b"iTXt" && c.data.starts_with(KEYWORD) && c.data.get(KEYWORD.len()) == Some(&0)
}

/// `png` with `credential_json` baked in (replacing any earlier credential).
pub fn bake(png: &[u8], credential_json: &str) -> Result<Vec<u8>, BadgeError> {
    let parts = chunks(png)?;
    let mut text = Vec::with_capacity(credential_json.len() + KEYWORD.len() + 5);
    text.extend_from_slice(KEYWORD);
    // NUL, compression flag 0, method 0, empty language tag NUL, empty
    // translated keyword NUL.
    text.extend_from_slice(&[0, 0, 0, 0, 0]);
    text.extend_from_slice(credential_json.as_bytes());
    let mut out = SIGNATURE.to_vec();
    for c in &parts {
        if is_badge_chunk(c) {
            continue;
        }
        if &c.kind == b"IEND" {
            out.extend_from_slice(&chunk(b"iTXt", &text));
        }
        out.extend_from_slice(c.raw);
    }
    Ok(out)
}

/// The credential baked into `png`, if any.
pub fn unbake(png: &[u8]) -> Result<Option<String>, BadgeError> {
    for c in chunks(png)? {
        if !is_badge_chunk(&c) {
            continue;
        }
        let rest = &c.data[KEYWORD.len() + 1..];
        if rest.len() < 2 || rest[0] != 0 {
            return Err(BadgeError::Image(
                "the openbadgecredential chunk is compressed; invigil reads uncompressed ones"
                    .into(),
            ));
        }
        // Skip the language tag and translated keyword (NUL-terminated).
        let mut at = 2;
        for _ in 0..2 {
            let nul = rest[at..]
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| BadgeError::Image("malformed iTXt chunk".into()))?;
            at += nul + 1;
        }
        let text = std::str::from_utf8(&rest[at..])
            .map_err(|_| BadgeError::Image("the baked credential is not UTF-8".into()))?;
        return Ok(Some(text.to_string()));
    }
    Ok(None)
}

/// A plain badge image (a medal in the given colour), `size` pixels
/// square, for achievements that bring no image of their own.
pub fn default_image(size: u32, rgb: [u8; 3]) -> Vec<u8> {
    use std::io::Write;
    let size = size.clamp(16, 1024);
    let c = (size as f32 - 1.0) / 2.0;
    let mut raw = Vec::with_capacity((size * (size * 4 + 1)) as usize);
    for y in 0..size {
        raw.push(0); // filter: none
        for x in 0..size {
            let (dx, dy) = (x as f32 - c, y as f32 - c);
            let r = (dx * dx + dy * dy).sqrt() / c;
            let (px, alpha) = if r > 1.0 {
                ([0, 0, 0], 0)
            } else if r > 0.86 || (0.62..0.68).contains(&r) {
                (rgb.map(|v| (v as u16 * 3 / 5) as u8), 255)
            } else {
                (rgb, 255)
            };
            raw.extend_from_slice(&[px[0], px[1], px[2], alpha]);
        }
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = z.write_all(&raw);
    let idat = z.finish().unwrap_or_default();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&size.to_be_bytes());
    ihdr.extend_from_slice(&size.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]); // 8-bit RGBA
    let mut out = SIGNATURE.to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    out.extend(chunk(b"IDAT", &idat));
    out.extend(chunk(b"IEND", &[]));
    out
}

/// Whether `png` is a well-formed PNG (signature, chunk CRCs, IHDR first,
/// IEND last): what an uploaded badge image must be.
pub fn check_png(png: &[u8]) -> Result<(u32, u32), BadgeError> {
    let parts = chunks(png)?;
    let first = parts
        .first()
        .filter(|c| &c.kind == b"IHDR" && c.data.len() == 13);
    let ihdr = first.ok_or_else(|| BadgeError::Image("the first chunk is not IHDR".into()))?;
    let w = u32::from_be_bytes([ihdr.data[0], ihdr.data[1], ihdr.data[2], ihdr.data[3]]);
    let h = u32::from_be_bytes([ihdr.data[4], ihdr.data[5], ihdr.data[6], ihdr.data[7]]);
    if w == 0 || h == 0 {
        return Err(BadgeError::Image("zero width or height".into()));
    }
    Ok((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bake_and_unbake() {
        let png = default_image(64, [30, 90, 160]);
        assert_eq!(check_png(&png).unwrap(), (64, 64));
        assert_eq!(unbake(&png).unwrap(), None);
        let baked = bake(&png, r#"{"id":"urn:uuid:1","name":"Ünïcode"}"#).unwrap();
        assert_eq!(check_png(&baked).unwrap(), (64, 64));
        assert_eq!(
            unbake(&baked).unwrap().as_deref(),
            Some(r#"{"id":"urn:uuid:1","name":"Ünïcode"}"#)
        );
        // Baking again replaces the credential.
        let again = bake(&baked, "{}").unwrap();
        assert_eq!(unbake(&again).unwrap().as_deref(), Some("{}"));
        assert_eq!(again.len(), png.len() + 12 + KEYWORD.len() + 5 + 2);
    }

    #[test]
    fn broken_images_are_refused() {
        let png = default_image(32, [1, 2, 3]);
        assert!(unbake(b"GIF89a").is_err());
        assert!(unbake(&png[..png.len() - 3]).is_err());
        let mut bad_crc = png.clone();
        let n = bad_crc.len();
        bad_crc[n - 20] ^= 1;
        assert!(unbake(&bad_crc).is_err());
        let mut huge_len = png.clone();
        huge_len[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(unbake(&huge_len).is_err());
    }
}
