//! A check of an MP4 file's box structure before the `mp4` crate reads it.
//!
//! The `mp4` crate (0.14) loops forever on a box inside a container whose
//! size field is 0 or under its own header (it seeks back to where it
//! started); fuzzing found it with a 1.2 KB file. So every box of the
//! containers the crate walks must be at least its header long and end
//! within its parent; only a top-level box may say "to the end of the
//! file" (size 0).

use std::io::{Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Boxes whose contents are boxes (and that the `mp4` crate walks).
const CONTAINERS: [&[u8; 4]; 11] = [
    b"moov", b"trak", b"mdia", b"minf", b"dinf", b"stbl", b"edts", b"mvex", b"moof", b"traf",
    b"udta",
];
/// How deep containers may nest (real files: 5).
const MAX_DEPTH: usize = 16;
/// Most boxes looked at (a real file's header has a few dozen).
const MAX_BOXES: usize = 100_000;

/// Walks the boxes of `file` (`len` bytes); an error says what is wrong
/// and where.
pub(super) fn check_boxes(file: &mut (impl Read + Seek), len: u64) -> Result<(), String> {
    let mut seen = 0;
    walk(file, 0, len, 0, &mut seen)
}

fn walk(
    file: &mut (impl Read + Seek),
    start: u64,
    end: u64,
    depth: usize,
    seen: &mut usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "boxes nested over {MAX_DEPTH} deep at byte {start}"
        ));
    }
    let mut at = start;
    while at < end {
        *seen += 1;
        if *seen > MAX_BOXES {
            return Err(format!("over {MAX_BOXES} boxes"));
        }
        if end - at < 8 {
            // Trailing bytes too short for a box: the crate stops there too.
            return if depth == 0 {
                Ok(())
            } else {
                Err(format!(
                    "{} stray bytes at byte {at} inside a box",
                    end - at
                ))
            };
        }
        let mut head = [0u8; 16];
        file.seek(SeekFrom::Start(at)).map_err(|e| e.to_string())?;
        let want = (end - at).min(16) as usize;
        file.read_exact(&mut head[..want])
            .map_err(|e| e.to_string())?;
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let kind: [u8; 4] = [head[4], head[5], head[6], head[7]];
        let (size, header) = match size32 {
            0 if depth == 0 => (end - at, 8),
            0 => {
                return Err(format!(
                    "box `{}` at byte {at} has size 0 inside a box",
                    name(&kind)
                ))
            }
            1 => {
                if want < 16 {
                    return Err(format!(
                        "box `{}` at byte {at}: truncated 64-bit size",
                        name(&kind)
                    ));
                }
                let mut big = [0u8; 8];
                big.copy_from_slice(&head[8..16]);
                (u64::from_be_bytes(big), 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header {
            return Err(format!(
                "box `{}` at byte {at} is {size} bytes, shorter than its {header}-byte header",
                name(&kind)
            ));
        }
        let box_end = at.checked_add(size).filter(|e| *e <= end);
        let Some(box_end) = box_end else {
            return if depth == 0 {
                // A top-level box cut short (a recording that was stopped):
                // the crate reads what is there.
                Ok(())
            } else {
                Err(format!(
                    "box `{}` at byte {at} runs past the box holding it",
                    name(&kind)
                ))
            };
        };
        if CONTAINERS.contains(&&kind) {
            walk(file, at + header, box_end, depth + 1, seen)?;
        }
        at = box_end;
    }
    Ok(())
}

/// A reader that gives up after reading (or seeking) several times the
/// file's size: the `mp4` crate's box loops, wherever one goes round
/// without moving forward on a damaged file, end in an error instead. The
/// limit is lifted ([`Budgeted::unlimit`]) once the header is read.
pub(super) struct Budgeted<R> {
    inner: R,
    left: Arc<AtomicU64>,
}

impl<R> Budgeted<R> {
    /// Allows `4 * len + 1 MiB` bytes of reads; a seek costs 16.
    pub(super) fn new(inner: R, len: u64) -> (Self, Arc<AtomicU64>) {
        let left = Arc::new(AtomicU64::new(
            len.saturating_mul(4).saturating_add(1 << 20),
        ));
        (
            Self {
                inner,
                left: Arc::clone(&left),
            },
            left,
        )
    }

    /// No limit from now on.
    pub(super) fn unlimit(left: &AtomicU64) {
        left.store(u64::MAX, Ordering::Relaxed);
    }

    fn spend(&mut self, n: u64) -> std::io::Result<()> {
        let left = self.left.load(Ordering::Relaxed);
        if left == u64::MAX {
            return Ok(());
        }
        match left.checked_sub(n.max(1)) {
            Some(rest) => {
                self.left.store(rest, Ordering::Relaxed);
                Ok(())
            }
            None => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "reading its header went round in circles: the box structure is damaged",
            )),
        }
    }
}

impl<R: Read> Read for Budgeted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.spend(buf.len() as u64)?;
        self.inner.read(buf)
    }
}

impl<R: Seek> Seek for Budgeted<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.spend(16)?;
        self.inner.seek(pos)
    }
}

fn name(kind: &[u8; 4]) -> String {
    kind.iter()
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    fn check(bytes: &[u8]) -> Result<(), String> {
        check_boxes(&mut std::io::Cursor::new(bytes), bytes.len() as u64)
    }

    #[test]
    fn sound_trees_pass_and_broken_sizes_inside_containers_do_not() {
        let dref = boxed(b"dref", &[0; 8]);
        let good = [
            boxed(b"ftyp", b"isomiso2"),
            boxed(
                b"moov",
                &boxed(
                    b"trak",
                    &boxed(b"mdia", &boxed(b"minf", &boxed(b"dinf", &dref))),
                ),
            ),
            boxed(b"mdat", &[1, 2, 3]),
        ]
        .concat();
        assert_eq!(check(&good), Ok(()));
        // The fuzz finding: a zero-size box inside `dinf`.
        let mut zero = boxed(b"dinf", &[0, 0, 0, 0, b'u', b'r', b'l', b' ']);
        zero = boxed(
            b"moov",
            &boxed(b"trak", &boxed(b"mdia", &boxed(b"minf", &zero))),
        );
        assert!(check(&zero).unwrap_err().contains("size 0"));
        let short = boxed(b"moov", &[0, 0, 0, 4, b'f', b'r', b'e', b'e']);
        assert!(check(&short).unwrap_err().contains("shorter than its"));
        let over = boxed(b"moov", &[0, 0, 1, 0, b'f', b'r', b'e', b'e']);
        assert!(check(&over).unwrap_err().contains("runs past"));
        let tiny64 = boxed(
            b"moov",
            &[0, 0, 0, 1, b'f', b'r', b'e', b'e', 0, 0, 0, 0, 0, 0, 0, 9],
        );
        assert!(check(&tiny64).unwrap_err().contains("shorter"));
        // Top level: size 0 runs to the end, a cut-short last box is read.
        let to_end = [
            boxed(b"ftyp", b"isom"),
            vec![0, 0, 0, 0, b'm', b'd', b'a', b't', 9, 9],
        ]
        .concat();
        assert_eq!(check(&to_end), Ok(()));
        let cut = [
            boxed(b"ftyp", b"isom"),
            vec![0, 0, 9, 0, b'm', b'd', b'a', b't', 9],
        ]
        .concat();
        assert_eq!(check(&cut), Ok(()));
        let (mut budget, left) = Budgeted::new(std::io::Cursor::new(vec![0u8; 10]), 10);
        let mut buf = [0u8; 4];
        let mut calls = 0;
        while budget.read(&mut buf).is_ok() && budget.seek(SeekFrom::Start(0)).is_ok() {
            calls += 1;
        }
        assert!(calls > 1000 && calls < 100_000, "{calls}");
        Budgeted::<()>::unlimit(&left);
        assert!(budget.read(&mut buf).is_ok());
        let mut deep = dref;
        for _ in 0..20 {
            deep = boxed(b"moov", &deep);
        }
        assert!(check(&deep).unwrap_err().contains("nested"));
    }
}
