//! Reading a segment file record by record, and the file-system helpers
//! the journal shares.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::{io, JournalError, Record, MAX_RECORD};

/// Reads a segment's records. In the last segment (`tolerate_tail`), a torn
/// or damaged tail ends the read; elsewhere it is an error. Returns the
/// records and the length of the good prefix.
pub(super) fn read_segment(
    path: &Path,
    tolerate_tail: bool,
) -> Result<(Vec<Record>, u64), JournalError> {
    let file = File::open(path).map_err(io(path))?;
    let total = file.metadata().map_err(io(path))?.len();
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut offset = 0u64;
    loop {
        let mut head = [0u8; 8];
        match read_full(&mut reader, &mut head).map_err(io(path))? {
            0 => break,
            8 => {}
            _ if tolerate_tail => break,
            _ => return Err(corrupt(path, offset, "truncated record header")),
        }
        let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(head[4..].try_into().expect("4 bytes"));
        if len > MAX_RECORD || offset + 8 + u64::from(len) > total {
            if tolerate_tail {
                break;
            }
            return Err(corrupt(
                path,
                offset,
                "record runs past the end of the file",
            ));
        }
        let mut body = vec![0u8; len as usize];
        reader.read_exact(&mut body).map_err(io(path))?;
        if crc32fast::hash(&body) != crc {
            if tolerate_tail && offset + 8 + u64::from(len) == total {
                break;
            }
            return Err(corrupt(path, offset, "checksum mismatch"));
        }
        let record: Record = serde_json::from_slice(&body)
            .map_err(|e| corrupt(path, offset, &format!("unreadable record: {e}")))?;
        records.push(record);
        offset += 8 + u64::from(len);
    }
    Ok((records, offset))
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn corrupt(path: &Path, offset: u64, problem: &str) -> JournalError {
    JournalError::Corrupt {
        path: path.to_owned(),
        offset,
        problem: problem.to_owned(),
    }
}

pub(super) fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    // Makes renames and new files durable; not supported everywhere.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
