//! The item-level results of an exam delivery, and the optional item and
//! candidate files, read strictly from CSV (docs/forensics.md has the
//! formats). Every error names the file, the line and the column.
//!
//! Responses come in one of two layouts, told apart by the header:
//! - **long**: one row per candidate and item, columns `candidate_id`,
//!   `item_id`, `response`, `score`, `rt_s`, and optionally `position`
//!   (the item's place in the candidate's form, from 1) and `changes`
//!   (how many times the answer was changed);
//! - **wide**: one row per candidate, column `candidate_id`, then for each
//!   item `ITEM.response`, `ITEM.score`, `ITEM.rt_s` (and optionally
//!   `ITEM.position`, `ITEM.changes`), in any order.
//!
//! `response` is the option chosen (any text; empty: not answered),
//! `score` the credit from 0 to 1 (0/1, or partial credit as a fraction),
//! `rt_s` the seconds spent on the item (empty: not recorded).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Longest identifier or response accepted (characters).
pub const MAX_TEXT: usize = 200;
/// Longest time on one item accepted (seconds): a day.
pub const MAX_RT_S: f64 = 86_400.0;

/// Why a file cannot be used.
#[derive(Debug, Error)]
pub enum DataError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The header: a column missing, unknown or given twice.
    #[error("{}, header: {message}", path.display())]
    Header { path: PathBuf, message: String },
    /// One value (`column` empty when the row as a whole is wrong).
    #[error("{}, line {line}{}: {message}", path.display(), if column.is_empty() { String::new() } else { format!(", column `{column}`") })]
    Value {
        path: PathBuf,
        line: u64,
        column: String,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
}

/// One candidate's result on one item.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// Index into [`Responses::candidates`].
    pub candidate: usize,
    /// Index into [`Responses::items`].
    pub item: usize,
    /// The option chosen; `None`: not answered.
    pub response: Option<String>,
    /// Credit from 0 to 1.
    pub score: f64,
    /// Seconds on the item; `None`: not recorded.
    pub rt_s: Option<f64>,
    /// The item's place in the candidate's form, from 1.
    pub position: Option<u32>,
    /// How many times the answer was changed.
    pub changes: Option<u32>,
}

/// The item-level results of one exam delivery.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Responses {
    /// Candidate ids, in order of first appearance.
    pub candidates: Vec<String>,
    /// Item ids, in order of first appearance.
    pub items: Vec<String>,
    pub rows: Vec<Response>,
}

/// An item of the item file.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub item_id: String,
    /// The correct option, when the file gives it.
    pub key: Option<String>,
    /// How many options the item has, when the file gives it.
    pub options: Option<u32>,
    /// Known to be compromised (leaked before the exam).
    pub compromised: bool,
}

/// A candidate of the candidate file.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub candidate_id: String,
    /// Test centre (pairs are compared within one when the exam is large).
    pub centre: Option<String>,
    /// Which attempt at the exam this is, from 1.
    pub attempt: Option<u32>,
}

/// The fields of one result, by name.
const FIELDS: [&str; 5] = ["response", "score", "rt_s", "position", "changes"];
const REQUIRED: [&str; 3] = ["response", "score", "rt_s"];

/// Reads a file of responses, long or wide.
pub fn read_responses(path: &Path) -> Result<Responses, DataError> {
    let text = read(path)?;
    parse_responses(path, &text)
}

/// Parses responses from `text` (`path` names it in errors).
pub fn parse_responses(path: &Path, text: &str) -> Result<Responses, DataError> {
    let mut reader = reader(text);
    let header = header(path, &mut reader)?;
    let layout = if header.iter().any(|h| h == "item_id") {
        Layout::long(path, &header)?
    } else {
        Layout::wide(path, &header)?
    };
    let mut out = Builder::default();
    for (line, record) in rows(path, &mut reader, header.len())? {
        let cell = |col: usize| Cell {
            path,
            line,
            column: &header[col],
            text: record[col].trim(),
        };
        match &layout {
            Layout::Long {
                candidate,
                item,
                fields,
            } => {
                let c = cell(*candidate).id()?;
                let i = cell(*item).id()?;
                let score = fields[1].expect("score is required");
                let result = read_fields(fields, &cell)?
                    .ok_or_else(|| cell(score).error("a score from 0 to 1"))?;
                out.add(path, line, c, i, result)?;
            }
            Layout::Wide { candidate, items } => {
                let c = cell(*candidate).id()?;
                for (item, fields) in items {
                    let result = read_fields(fields, &cell)?;
                    // An item the candidate's form did not have: every
                    // cell of it empty.
                    if let Some(result) = result {
                        out.add(path, line, c.clone(), item.clone(), result)?;
                    }
                }
            }
        }
    }
    if out.responses.rows.is_empty() {
        return Err(DataError::File {
            path: path.to_owned(),
            message: "no responses in it (only a header, or nothing)".into(),
        });
    }
    Ok(out.responses)
}

/// Reads an item file: `item_id`, and optionally `key`, `options`,
/// `compromised` (`1`/`0`, `true`/`false`, `yes`/`no`).
pub fn read_items(path: &Path) -> Result<Vec<Item>, DataError> {
    let text = read(path)?;
    parse_items(path, &text)
}

pub fn parse_items(path: &Path, text: &str) -> Result<Vec<Item>, DataError> {
    let rows = keyed_rows(path, text, "item_id", &["key", "options", "compromised"])?;
    rows.iter()
        .map(|row| {
            let get = |name: &str| row.get(path, name);
            let options = get("options")
                .filter(|c| !c.text.is_empty())
                .map(|c| {
                    c.integer(2, 1000)
                        .map_err(|()| c.error("the number of options, from 2 to 1000"))
                })
                .transpose()?;
            Ok(Item {
                item_id: row.id.clone(),
                key: get("key").map(|c| c.text_opt()).transpose()?.flatten(),
                options,
                compromised: match get("compromised") {
                    None => false,
                    Some(c) => c.flag()?,
                },
            })
        })
        .collect()
}

/// Writes results in the long layout (with `position` and `changes`),
/// quoting what needs it: what `invigil forensics analyze` reads back.
pub fn to_long_csv(r: &Responses) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "candidate_id",
        "item_id",
        "response",
        "score",
        "rt_s",
        "position",
        "changes",
    ];
    w.write_record(header).expect("writing to memory");
    for row in &r.rows {
        w.write_record([
            r.candidates[row.candidate].clone(),
            r.items[row.item].clone(),
            row.response.clone().unwrap_or_default(),
            row.score.to_string(),
            row.rt_s.map(|t| t.to_string()).unwrap_or_default(),
            row.position.map(|p| p.to_string()).unwrap_or_default(),
            row.changes.map(|c| c.to_string()).unwrap_or_default(),
        ])
        .expect("writing to memory");
    }
    String::from_utf8(w.into_inner().expect("in memory")).expect("CSV of UTF-8 text")
}

/// Reads a candidate file: `candidate_id`, and optionally `centre`,
/// `attempt`.
pub fn read_candidates(path: &Path) -> Result<Vec<Candidate>, DataError> {
    let text = read(path)?;
    parse_candidates(path, &text)
}

pub fn parse_candidates(path: &Path, text: &str) -> Result<Vec<Candidate>, DataError> {
    let rows = keyed_rows(path, text, "candidate_id", &["centre", "attempt"])?;
    rows.iter()
        .map(|row| {
            let get = |name: &str| row.get(path, name);
            Ok(Candidate {
                candidate_id: row.id.clone(),
                centre: get("centre").map(|c| c.text_opt()).transpose()?.flatten(),
                attempt: get("attempt")
                    .filter(|c| !c.text.is_empty())
                    .map(|c| {
                        c.integer(1, 1000)
                            .map_err(|()| c.error("an attempt number from 1 to 1000"))
                    })
                    .transpose()?,
            })
        })
        .collect()
}

// ------------------------------------------------------------ internals

fn read(path: &Path) -> Result<String, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Read {
        path: path.to_owned(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| DataError::File {
        path: path.to_owned(),
        message: format!(
            "not UTF-8 text (byte {} is not); save it as UTF-8 CSV",
            e.utf8_error().valid_up_to()
        ),
    })
}

fn reader(text: &str) -> csv::Reader<&[u8]> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes())
}

fn csv_error(path: &Path, e: &csv::Error) -> DataError {
    let line = e.position().map_or(0, |p| p.line());
    value_error(path, line, "", format!("not valid CSV ({e})"))
}

fn value_error(path: &Path, line: u64, column: &str, message: String) -> DataError {
    DataError::Value {
        path: path.to_owned(),
        line,
        column: column.to_owned(),
        message,
    }
}

fn header_error(path: &Path, message: String) -> DataError {
    DataError::Header {
        path: path.to_owned(),
        message,
    }
}

/// The header's column names, trimmed; none empty or repeated.
fn header(path: &Path, reader: &mut csv::Reader<&[u8]>) -> Result<Vec<String>, DataError> {
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, &e))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    if names.iter().all(String::is_empty) {
        return Err(header_error(
            path,
            "the file is empty or has no header row".into(),
        ));
    }
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(header_error(path, format!("column {} has no name", i + 1)));
        }
        if names[..i].contains(name) {
            return Err(header_error(
                path,
                format!("column `{name}` is given twice"),
            ));
        }
    }
    Ok(names)
}

/// The data rows with their lines: blank rows skipped, every other row
/// with as many fields as the header.
fn rows(
    path: &Path,
    reader: &mut csv::Reader<&[u8]>,
    width: usize,
) -> Result<Vec<(u64, csv::StringRecord)>, DataError> {
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, &e))?;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if record.len() != width {
            return Err(value_error(
                path,
                line,
                "",
                format!("{} fields where the header has {width}", record.len()),
            ));
        }
        out.push((line, record));
    }
    Ok(out)
}

/// Columns of one result's fields (`response`, `score`, ...).
type Fields = [Option<usize>; 5];

enum Layout {
    Long {
        candidate: usize,
        item: usize,
        fields: Fields,
    },
    Wide {
        candidate: usize,
        items: Vec<(String, Fields)>,
    },
}

impl Layout {
    fn long(path: &Path, header: &[String]) -> Result<Self, DataError> {
        let find = |name: &str| header.iter().position(|h| h == name);
        let mut fields: Fields = [None; 5];
        for (i, h) in header.iter().enumerate() {
            match FIELDS.iter().position(|f| f == h) {
                Some(f) => fields[f] = Some(i),
                None if h == "candidate_id" || h == "item_id" => {}
                None => {
                    return Err(header_error(
                        path,
                        format!("unknown column `{h}` (a long file has candidate_id, item_id, response, score, rt_s, and optionally position, changes)"),
                    ))
                }
            }
        }
        let candidate = find("candidate_id")
            .ok_or_else(|| header_error(path, "no `candidate_id` column".into()))?;
        let item = find("item_id").expect("long files have one");
        for name in REQUIRED {
            if find(name).is_none() {
                return Err(header_error(path, format!("no `{name}` column")));
            }
        }
        Ok(Layout::Long {
            candidate,
            item,
            fields,
        })
    }

    fn wide(path: &Path, header: &[String]) -> Result<Self, DataError> {
        let mut candidate = None;
        let mut items: Vec<(String, Fields)> = Vec::new();
        for (i, h) in header.iter().enumerate() {
            if h == "candidate_id" {
                candidate = Some(i);
                continue;
            }
            let Some((item, field)) = h.rsplit_once('.') else {
                return Err(header_error(
                    path,
                    format!("unknown column `{h}`: a wide file has candidate_id, then ITEM.response, ITEM.score, ITEM.rt_s (and optionally ITEM.position, ITEM.changes) per item; a long file has an item_id column"),
                ));
            };
            let Some(f) = FIELDS.iter().position(|x| *x == field) else {
                return Err(header_error(
                    path,
                    format!(
                        "column `{h}`: `{field}` is not one of {}",
                        FIELDS.join(", ")
                    ),
                ));
            };
            check_id(item)
                .map_err(|m| header_error(path, format!("column `{h}`: the item id {m}")))?;
            match items.iter_mut().find(|(id, _)| id == item) {
                Some((_, fields)) => fields[f] = Some(i),
                None => {
                    let mut fields: Fields = [None; 5];
                    fields[f] = Some(i);
                    items.push((item.to_owned(), fields));
                }
            }
        }
        let candidate = candidate.ok_or_else(|| {
            header_error(
                path,
                "no `candidate_id` column (and no `item_id`: neither a long nor a wide file)"
                    .into(),
            )
        })?;
        if items.is_empty() {
            return Err(header_error(
                path,
                "no item columns (ITEM.response, ITEM.score, ITEM.rt_s)".into(),
            ));
        }
        for (item, fields) in &items {
            for name in REQUIRED {
                let f = FIELDS.iter().position(|x| *x == name).expect("a field");
                if fields[f].is_none() {
                    return Err(header_error(
                        path,
                        format!("item `{item}` has no `{item}.{name}` column"),
                    ));
                }
            }
        }
        Ok(Layout::Wide { candidate, items })
    }
}

/// A result's values before its candidate and item are known.
struct Fieldwise {
    response: Option<String>,
    score: f64,
    rt_s: Option<f64>,
    position: Option<u32>,
    changes: Option<u32>,
}

/// One result's fields; `None` when every one of them is empty (wide
/// files: the item was not on this candidate's form).
fn read_fields<'a>(
    fields: &Fields,
    cell: &impl Fn(usize) -> Cell<'a>,
) -> Result<Option<Fieldwise>, DataError> {
    let get = |f: usize| fields[f].map(cell);
    if fields.iter().flatten().all(|&c| cell(c).text.is_empty()) {
        return Ok(None);
    }
    let score_cell = get(1).expect("score is required");
    let score = score_cell
        .number()
        .filter(|s| (0.0..=1.0).contains(s))
        .ok_or_else(|| {
            score_cell.error("a score from 0 to 1 (0/1, or partial credit as a fraction)")
        })?;
    let rt_s = match get(2).expect("rt_s is required") {
        c if c.text.is_empty() => None,
        c => Some(
            c.number()
                .filter(|t| (0.0..=MAX_RT_S).contains(t))
                .ok_or_else(|| c.error("seconds on the item, from 0 to 86400, or empty"))?,
        ),
    };
    let position = match get(3) {
        Some(c) if !c.text.is_empty() => Some(
            c.integer(1, 100_000)
                .map_err(|_| c.error("the item's place in the form, from 1"))?,
        ),
        _ => None,
    };
    let changes = match get(4) {
        Some(c) if !c.text.is_empty() => Some(
            c.integer(0, 100_000)
                .map_err(|_| c.error("how many times the answer changed, from 0"))?,
        ),
        _ => None,
    };
    let response = get(0).expect("response is required").text_opt()?;
    Ok(Some(Fieldwise {
        response,
        score,
        rt_s,
        position,
        changes,
    }))
}

#[derive(Default)]
struct Builder {
    responses: Responses,
    candidate_index: HashMap<String, usize>,
    item_index: HashMap<String, usize>,
    /// Where each candidate-item pair was given (its line).
    seen: HashMap<(usize, usize), u64>,
}

impl Builder {
    fn add(
        &mut self,
        path: &Path,
        line: u64,
        candidate: String,
        item: String,
        r: Fieldwise,
    ) -> Result<(), DataError> {
        let c = index_of(
            &mut self.candidate_index,
            &mut self.responses.candidates,
            candidate,
        );
        let i = index_of(&mut self.item_index, &mut self.responses.items, item);
        if let Some(first) = self.seen.insert((c, i), line) {
            return Err(value_error(
                path,
                line,
                "",
                format!(
                    "candidate `{}` and item `{}` were already given on line {first}",
                    self.responses.candidates[c], self.responses.items[i]
                ),
            ));
        }
        self.responses.rows.push(Response {
            candidate: c,
            item: i,
            response: r.response,
            score: r.score,
            rt_s: r.rt_s,
            position: r.position,
            changes: r.changes,
        });
        Ok(())
    }
}

fn index_of(index: &mut HashMap<String, usize>, names: &mut Vec<String>, name: String) -> usize {
    *index.entry(name.clone()).or_insert_with(|| {
        names.push(name);
        names.len() - 1
    })
}

fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        Err("is empty".into())
    } else if id.chars().count() > MAX_TEXT {
        Err(format!("is longer than {MAX_TEXT} characters"))
    } else if id.chars().any(char::is_control) {
        Err("has control characters".into())
    } else {
        Ok(())
    }
}

/// One cell, for reading and for naming in errors.
struct Cell<'a> {
    path: &'a Path,
    line: u64,
    column: &'a str,
    text: &'a str,
}

impl Cell<'_> {
    fn error(&self, wanted: &str) -> DataError {
        let shown: String = self.text.chars().take(40).collect();
        let message = if self.text.is_empty() {
            format!("empty; expected {wanted}")
        } else {
            format!("`{shown}` is not {wanted}")
        };
        value_error(self.path, self.line, self.column, message)
    }

    fn id(&self) -> Result<String, DataError> {
        check_id(self.text)
            .map(|()| self.text.to_owned())
            .map_err(|m| value_error(self.path, self.line, self.column, format!("the id {m}")))
    }

    fn text_opt(&self) -> Result<Option<String>, DataError> {
        if self.text.is_empty() {
            return Ok(None);
        }
        if self.text.chars().count() > MAX_TEXT || self.text.chars().any(char::is_control) {
            return Err(value_error(
                self.path,
                self.line,
                self.column,
                format!("longer than {MAX_TEXT} characters or with control characters"),
            ));
        }
        Ok(Some(self.text.to_owned()))
    }

    fn number(&self) -> Option<f64> {
        self.text.parse::<f64>().ok().filter(|v| v.is_finite())
    }

    fn integer(&self, lo: u32, hi: u32) -> Result<u32, ()> {
        self.text
            .parse::<u32>()
            .ok()
            .filter(|v| (lo..=hi).contains(v))
            .ok_or(())
    }

    fn flag(&self) -> Result<bool, DataError> {
        match self.text.to_ascii_lowercase().as_str() {
            "" | "0" | "false" | "no" => Ok(false),
            "1" | "true" | "yes" => Ok(true),
            _ => Err(self.error("1/0, true/false or yes/no")),
        }
    }
}

/// A row of an item or candidate file: its id and its other cells.
struct KeyedRow {
    line: u64,
    id: String,
    /// `(column, text)` of every other column.
    cells: Vec<(String, String)>,
}

impl KeyedRow {
    fn get<'a>(&'a self, path: &'a Path, name: &str) -> Option<Cell<'a>> {
        self.cells
            .iter()
            .find(|(c, _)| c == name)
            .map(|(c, t)| Cell {
                path,
                line: self.line,
                column: c,
                text: t,
            })
    }
}

/// Rows of a file keyed by `id_column`, with the `optional` columns. Ids
/// must be unique.
fn keyed_rows(
    path: &Path,
    text: &str,
    id_column: &str,
    optional: &[&str],
) -> Result<Vec<KeyedRow>, DataError> {
    let mut reader = reader(text);
    let header = header(path, &mut reader)?;
    for h in &header {
        if h != id_column && !optional.contains(&h.as_str()) {
            return Err(header_error(
                path,
                format!(
                    "unknown column `{h}` (expected {id_column}, and optionally {})",
                    optional.join(", ")
                ),
            ));
        }
    }
    let id_col = header
        .iter()
        .position(|h| h == id_column)
        .ok_or_else(|| header_error(path, format!("no `{id_column}` column")))?;
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut keyed = Vec::new();
    for (line, record) in rows(path, &mut reader, header.len())? {
        let id = Cell {
            path,
            line,
            column: &header[id_col],
            text: record[id_col].trim(),
        }
        .id()?;
        if let Some(first) = seen.insert(id.clone(), line) {
            return Err(value_error(
                path,
                line,
                id_column,
                format!("`{id}` was already given on line {first}"),
            ));
        }
        let cells = header
            .iter()
            .zip(record.iter())
            .enumerate()
            .filter(|(i, _)| *i != id_col)
            .map(|(_, (h, t))| (h.clone(), t.trim().to_owned()))
            .collect();
        keyed.push(KeyedRow { line, id, cells });
    }
    Ok(keyed)
}
