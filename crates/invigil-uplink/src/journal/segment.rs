//! Reading a segment file record by record, and the file-system helpers
//! the journal shares.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::{io, Item, JournalError, Record, MAX_RECORD};

/// Reads a segment's records. In the last segment (`tolerate_tail`), a torn
/// record at the very end (what a crash leaves) ends the read; a damaged
/// record with an intact one after it is corruption, never a torn tail.
/// Elsewhere any damage is an error. Returns the records and the length of
/// the good prefix.
pub(super) fn read_segment(
    path: &Path,
    tolerate_tail: bool,
) -> Result<(Vec<Record>, u64), JournalError> {
    let file = File::open(path).map_err(io(path))?;
    let total = file.metadata().map_err(io(path))?.len();
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut offset = 0u64;
    // A damaged record: a torn tail when nothing valid follows it.
    let damaged = |offset: u64, problem: &str| -> Result<(), JournalError> {
        if !tolerate_tail {
            return Err(corrupt(path, offset, problem));
        }
        match valid_record_after(path, offset, total)? {
            None => Ok(()),
            Some(next) => Err(corrupt(
                path,
                offset,
                &format!(
                    "{problem}, yet an intact record follows at byte {next}: this is damage, not a record torn by a crash; nothing was changed"
                ),
            )),
        }
    };
    loop {
        let mut head = [0u8; 8];
        match read_full(&mut reader, &mut head).map_err(io(path))? {
            0 => break,
            8 => {}
            _ => {
                damaged(offset, "truncated record header")?;
                break;
            }
        }
        let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(head[4..].try_into().expect("4 bytes"));
        if len > MAX_RECORD || offset + 8 + u64::from(len) > total {
            damaged(offset, "record runs past the end of the file")?;
            break;
        }
        let mut body = vec![0u8; len as usize];
        reader.read_exact(&mut body).map_err(io(path))?;
        if crc32fast::hash(&body) != crc {
            damaged(offset, "checksum mismatch")?;
            break;
        }
        let record: Record = serde_json::from_slice(&body)
            .map_err(|e| corrupt(path, offset, &format!("unreadable record: {e}")))?;
        if let Item::Event(e) = &record.item {
            if e.seq > MAX_JSON_INT || e.t_ms > MAX_JSON_INT {
                return Err(corrupt(
                    path,
                    offset,
                    &format!(
                        "event seq {} at t_ms {} is out of range (at most 2^53 - 1)",
                        e.seq, e.t_ms
                    ),
                ));
            }
        }
        records.push(record);
        offset += 8 + u64::from(len);
    }
    Ok((records, offset))
}

/// Largest `seq` and `t_ms` a journaled event may carry (what the server
/// takes).
pub const MAX_JSON_INT: u64 = (1 << 53) - 1;

/// The offset of the first intact record (length in bounds, checksum
/// right, JSON) that starts after `bad`, if any.
fn valid_record_after(path: &Path, bad: u64, total: u64) -> Result<Option<u64>, JournalError> {
    // The file's length as it was opened, no more (a device reads forever).
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(total).read_to_end(&mut bytes))
        .map_err(io(path))?;
    let start = (bad as usize).saturating_add(1);
    for at in start..bytes.len().saturating_sub(8) {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes"));
        let Some(end) = (at + 8).checked_add(len as usize) else {
            continue;
        };
        // Records are JSON objects: a cheap test before the checksum.
        if len == 0 || len > MAX_RECORD || end > bytes.len() || bytes[at + 8] != b'{' {
            continue;
        }
        let body = &bytes[at + 8..end];
        if crc32fast::hash(body) == crc && serde_json::from_slice::<Record>(body).is_ok() {
            return Ok(Some(at as u64));
        }
    }
    Ok(None)
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
