//! The fuzz targets: every parser of bytes that come from a candidate's
//! machine or a file a user hands to invigil. Each returns a signature of
//! what happened (its outcome with numbers removed), which the fuzzer uses
//! to keep inputs that behave in a new way.

use std::io::Write;
use std::path::{Path, PathBuf};

use invigil_capture::{FrameSource, GifSource, MjpegSource, Mp4Source, Scenario, Y4mSource};
use invigil_core::Policy;
use invigil_uplink::Journal;

/// One fuzz target.
pub struct Target {
    pub name: &'static str,
    /// What it parses.
    pub about: &'static str,
    /// Runs the parser on one input in `scratch` (a directory of its own).
    pub run: fn(&Path, &[u8]) -> String,
    /// Words of its format, spliced into inputs.
    pub tokens: &'static [&'static [u8]],
    /// Longest input tried.
    pub max_len: usize,
}

pub const TARGETS: &[Target] = &[
    Target {
        name: "y4m",
        about: "Y4M video (header fields, frame headers, planes)",
        run: y4m,
        tokens: &[
            b"YUV4MPEG2 ",
            b"FRAME\n",
            b" W",
            b" H",
            b" F",
            b" C420jpeg",
            b" C444",
            b" Cmono",
            b" C422",
            b" Ip",
            b" A1:1",
            b"\n",
        ],
        max_len: 4096,
    },
    Target {
        name: "mjpeg",
        about: "Motion JPEG streams (marker splitting, JPEG decoding, EXIF orientation)",
        run: mjpeg,
        tokens: &[
            b"\xff\xd8",
            b"\xff\xd9",
            b"\xff\xe1",
            b"Exif\0\0",
            b"MM\0\x2a",
            b"\xff\xc0",
            b"\xff\xda",
            b"\xff\xdb",
            b"\xff\xc4",
        ],
        max_len: 16384,
    },
    Target {
        name: "gif",
        about: "animated GIFs (frames, delays, palettes)",
        run: gif,
        tokens: &[
            b"GIF89a",
            b"GIF87a",
            b"\x21\xf9\x04",
            b"\x2c",
            b"\x3b",
            b"NETSCAPE2.0",
        ],
        max_len: 16384,
    },
    Target {
        name: "mp4",
        about: "MP4 video through invigil's reader (boxes, sample tables, rotation, H.264 samples)",
        run: mp4,
        tokens: &[
            b"ftyp", b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd", b"avc1", b"avcC",
            b"stts", b"stsz", b"stco", b"co64", b"ctts", b"stss", b"mdat", b"tkhd", b"mdhd",
            b"hdlr", b"vide",
        ],
        max_len: 65536,
    },
    Target {
        name: "scenario",
        about: "QA scenario TOML (segments, expectations, the policy it sets)",
        run: scenario,
        tokens: &[
            b"[[segment]]\n",
            b"[[expect]]\n",
            b"[policy]\n",
            b"kind = \"",
            b"duration_s = ",
            b"fps = ",
            b"width = ",
            b"height = ",
            b"present",
            b"absent",
            b"dark",
            b"frozen",
            b"lost",
            b"image",
            b"video",
            b"at_s = ",
            b"within_s = ",
            b"\"\n",
            b"[",
            b"]",
            b"{",
            b"}",
            b"=",
            b"\"\"\"",
            b"'",
        ],
        max_len: 8192,
    },
    Target {
        name: "policy",
        about: "policy TOML (every rule key, as `invigil policy --check`)",
        run: policy,
        tokens: &[
            b"absence_flag_s = ",
            b"absence_warn_s = ",
            b"min_face_score = ",
            b"\n",
            b"= ",
            b"true",
            b"false",
            b"[",
            b"]",
            b"inf",
            b"nan",
            b"-",
            b"\"",
            b"1e999",
        ],
        max_len: 4096,
    },
    Target {
        name: "journal",
        about: "the uplink journal's segment files (records, checksums, torn tails, recovery)",
        run: journal,
        tokens: &[
            b"{\"id\":",
            b"\"type\":\"event\"",
            b"\"type\":\"media\"",
            b"\"seq\":",
            b"\"t_ms\":",
            b"\"sha256\":\"",
            b"}",
            b"\0\0\0\0",
        ],
        max_len: 8192,
    },
    Target {
        name: "batch",
        about: "the server's ingest of an event batch (strict JSON, limits, kinds, the hash chain)",
        run: batch,
        tokens: &[
            b"{\"events\":[",
            b"]}",
            b"\"seq\":",
            b"\"t_ms\":",
            b"\"kind\":\"",
            b"\"severity\":\"",
            b"\"prev\":\"",
            b"\"data\":{",
            b"\"v\":",
            b"null",
            b"1e400",
            b"-0",
            b"\\u0000",
            b"[[[[[[[[",
            b"{\"a\":{\"a\":",
        ],
        max_len: 16384,
    },
    Target {
        name: "badge",
        about: "badges a holder hands to `invigil badge verify`: baked PNG chunks, the credential's JSON-LD, its proof and status entries",
        run: badge,
        tokens: &[
            b"\x89PNG\r\n\x1a\n",
            b"iTXt",
            b"openbadgecredential\0\0\0\0\0",
            b"IEND",
            b"\"@context\"",
            b"\"@id\"",
            b"\"@type\"",
            b"\"@graph\"",
            b"\"@list\"",
            b"https://www.w3.org/ns/credentials/v2",
            b"\"proof\"",
            b"\"proofValue\":\"z",
            b"\"credentialStatus\"",
            b"did:key:z6Mk",
            b"did:web:",
        ],
        max_len: 16384,
    },
];

pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// An outcome with what varies from input to input folded away (digits,
/// quoted input, paths, everything after the first line), so that
/// `frame 3` and `frame 4` are one behaviour.
pub fn signature(outcome: &str) -> String {
    let first_line = outcome.lines().next().unwrap_or("");
    let mut unquoted = String::with_capacity(first_line.len());
    let mut quote: Option<char> = None;
    for c in first_line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '`' | '"' | '\'') => {
                quote = Some(c);
                unquoted.push('…');
            }
            None => unquoted.push(c),
        }
    }
    let words: Vec<String> = unquoted
        .split_whitespace()
        .map(|w| {
            if w.contains('/') {
                "<path>".to_owned()
            } else {
                let mut folded = String::new();
                for c in w.chars() {
                    if c.is_ascii_digit() {
                        if !folded.ends_with('#') {
                            folded.push('#');
                        }
                    } else {
                        folded.push(c);
                    }
                }
                folded
            }
        })
        .collect();
    words.join(" ").chars().take(100).collect()
}

fn write(scratch: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch.join(name);
    let mut f = std::fs::File::create(&path).expect("the scratch directory is writable");
    f.write_all(bytes)
        .expect("the scratch directory is writable");
    path
}

/// Reads up to `max` frames; `frames:N` or the error.
fn drain(source: Result<impl FrameSource, invigil_capture::CaptureError>, max: usize) -> String {
    let mut source = match source {
        Ok(s) => s,
        Err(e) => return format!("open: {e}"),
    };
    for n in 0..max {
        match source.next_frame() {
            Ok(Some(frame)) => {
                assert_eq!(
                    frame.rgb.len(),
                    frame.width as usize * frame.height as usize * 3,
                    "a frame's buffer matches its size"
                );
                assert!(
                    frame.t_ms <= invigil_core::MAX_T_MS,
                    "frame times are bounded"
                );
            }
            Ok(None) => return format!("frames:{}", bucket(n)),
            Err(e) => return format!("frame {n}: {e}"),
        }
    }
    format!("frames:{}+", bucket(max))
}

fn bucket(n: usize) -> usize {
    if n < 4 {
        n
    } else {
        n.next_power_of_two()
    }
}

fn y4m(scratch: &Path, bytes: &[u8]) -> String {
    let path = write(scratch, "in.y4m", bytes);
    drain(Y4mSource::open(&path), 32)
}

fn mjpeg(scratch: &Path, bytes: &[u8]) -> String {
    let path = write(scratch, "in.mjpeg", bytes);
    drain(MjpegSource::open(&path, 10.0), 8)
}

fn gif(scratch: &Path, bytes: &[u8]) -> String {
    let path = write(scratch, "in.gif", bytes);
    drain(GifSource::open(&path), 8)
}

fn mp4(scratch: &Path, bytes: &[u8]) -> String {
    let path = write(scratch, "in.mp4", bytes);
    drain(Mp4Source::open(&path), 8)
}

fn scenario(_: &Path, bytes: &[u8]) -> String {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return "not utf-8".into();
    };
    match Scenario::parse(text, Path::new("fuzz.toml")) {
        Ok(s) => match s.policy(&Policy::default()) {
            Ok(_) => format!("ok: {} checks", bucket(s.check(&[]).len())),
            Err(e) => format!("policy: {e}"),
        },
        Err(e) => format!("parse: {e}"),
    }
}

fn policy(_: &Path, bytes: &[u8]) -> String {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return "not utf-8".into();
    };
    match Policy::from_toml(text, "fuzz.toml") {
        Ok(p) => {
            // What is accepted is usable: it prints and reads back the same.
            let again = toml::to_string(&p).expect("a policy prints");
            let back = Policy::from_toml(&again, "again").expect("a printed policy reads back");
            assert_eq!(back, p, "a policy survives printing");
            "ok".into()
        }
        Err(e) => format!("err: {e}"),
    }
}

fn journal(scratch: &Path, bytes: &[u8]) -> String {
    let dir = scratch.join("journal");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("media")).expect("scratch");
    let seg = write(&dir, "seg-00000000000000000001.log", bytes);
    let read = match Journal::open_read_only(&dir).and_then(|j| j.status()) {
        Ok(s) => format!(
            "read {}/{}",
            bucket(s.pending_events as usize),
            bucket(s.pending_media as usize)
        ),
        Err(e) => {
            // Damage is reported and nothing is changed.
            assert_eq!(
                std::fs::read(&seg).expect("still there"),
                bytes,
                "read-only open changed the file"
            );
            return format!("read: {e}");
        }
    };
    // The writer recovers (cutting a torn tail at most) and appends.
    let mut j = match Journal::open(&dir) {
        Ok(j) => j,
        Err(e) => return format!("{read}; open: {e}"),
    };
    let before = match j.pending() {
        Ok(p) => p.len(),
        Err(e) => return format!("{read}; pending: {e}"),
    };
    let event = invigil_core::Event {
        v: invigil_core::EVENT_SCHEMA_VERSION,
        seq: 0,
        t_ms: 0,
        kind: invigil_core::EventKind::SessionStarted,
        severity: invigil_core::EventKind::SessionStarted.severity(),
        data: Default::default(),
        prev: None,
    };
    match j.append_event(&event) {
        Ok(id) => {
            let after = j.pending().expect("a journal just written reads").len();
            assert_eq!(after, before + 1, "the append added one record");
            assert!(id >= 1);
            format!("{read}; appended")
        }
        Err(e) => format!("{read}; append: {e}"),
    }
}

fn batch(_: &Path, bytes: &[u8]) -> String {
    match invigil_server::check_batch("fuzz-session-0001", bytes) {
        Ok(n) => format!("ok {}", bucket(n as usize)),
        Err(e) => {
            // The field's shape: known names kept, anything else folded.
            const KNOWN: [&str; 9] = [
                "events", "v", "seq", "t_ms", "kind", "severity", "data", "prev", "body",
            ];
            let field: Vec<&str> = e
                .field
                .as_deref()
                .unwrap_or("")
                .split('.')
                .map(|part| {
                    let name = part.split('[').next().unwrap_or("");
                    KNOWN.iter().find(|k| **k == name).copied().unwrap_or("?")
                })
                .collect();
            format!("{} {}: {}", e.status.as_u16(), e.code, field.join("."))
        }
    }
}

fn badge(_: &Path, bytes: &[u8]) -> String {
    use invigil_badges::verify::{verify, Offline, Options};
    let text = if bytes.starts_with(b"\x89PNG") {
        match invigil_badges::bake::unbake(bytes) {
            Ok(Some(t)) => t,
            Ok(None) => return "png without badge".into(),
            Err(e) => return format!("png: {}", fold(&e.to_string())),
        }
    } else {
        match std::str::from_utf8(bytes) {
            Ok(t) => t.to_owned(),
            Err(_) => return "not utf-8".into(),
        }
    };
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
        return "not json".into();
    };
    let options = Options {
        email: Some("ada@example.org".into()),
        now_ms: 1_800_000_000_000,
        skip_status: true,
    };
    let v = verify(&doc, &options, &mut Offline);
    format!(
        "{:?}: {}",
        v.verdict,
        fold(&v.reason()).chars().take(60).collect::<String>()
    )
}

/// Digits folded, so that outcomes differ by kind rather than by number.
fn fold(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_digit() { '0' } else { c })
        .collect()
}
