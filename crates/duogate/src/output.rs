//! Output writers. Data goes to stdout, progress and messages to stderr.
//!
//! Lists stream: JSON is written as an array one object at a time, CSV one row at a time, and
//! tables fix their column widths from the first rows (up to [`TABLE_SAMPLE`]) and then stream,
//! cutting longer values with `…`. Nothing holds the whole listing, so `--all` over 100k users
//! uses the memory of one page.
//!
//! `--fields a,b,c` chooses what is shown in every format: the columns of a table (headers
//! upper-cased) or of a CSV, in that order; the keys of each JSON object (JSON objects are
//! unordered: keys come sorted); the lines of a single object's table. A field is a top-level key or a dotted path (`user.username`); a missing one
//! is empty (`null` in JSON); a list of scalars is joined with `;`, anything else nested is
//! shown as compact JSON.

use std::io::Write;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::resources::{Cell, Resource, cell};

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// JSON (an array for lists).
    Json,
    /// CSV with a header row.
    Csv,
}

impl OutputFormat {
    /// The chosen format, or table on a terminal and JSON otherwise.
    pub fn resolve(chosen: Option<OutputFormat>) -> OutputFormat {
        use std::io::IsTerminal as _;
        chosen.unwrap_or(if std::io::stdout().is_terminal() {
            OutputFormat::Table
        } else {
            OutputFormat::Json
        })
    }
}

/// Rows a table reads before it fixes its column widths.
pub const TABLE_SAMPLE: usize = 200;
const MAX_TABLE_WIDTH: usize = 48;

/// How a column is read: a resource's own cell, or a `--fields` path.
#[derive(Debug, Clone)]
enum Read {
    Cell(Cell),
    Path(String),
}

/// A column of a table or CSV.
#[derive(Debug, Clone)]
struct Column {
    header: String,
    read: Read,
}

/// The value at a dotted path (`user.username`), if any.
fn at_path<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(object, |value, key| value.get(key))
}

/// A `--fields` value as a cell's text.
fn path_text(object: &Value, path: &str) -> String {
    match at_path(object, path) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) if items.iter().all(|v| !v.is_object() && !v.is_array()) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(";"),
        Some(other) => other.to_string(),
    }
}

/// An object cut down to `fields` (missing ones are `null`).
pub fn project(object: &Value, fields: &[String]) -> Value {
    let mut projected = serde_json::Map::new();
    for field in fields {
        projected.insert(
            field.clone(),
            at_path(object, field).cloned().unwrap_or(Value::Null),
        );
    }
    Value::Object(projected)
}

fn columns(resource: &'static Resource, format: OutputFormat, fields: &[String]) -> Vec<Column> {
    if !fields.is_empty() {
        return fields
            .iter()
            .map(|field| Column {
                header: if format == OutputFormat::Table {
                    field.to_uppercase()
                } else {
                    field.clone()
                },
                read: Read::Path(field.clone()),
            })
            .collect();
    }
    let chosen = if format == OutputFormat::Table {
        resource.table
    } else {
        resource.csv
    };
    chosen
        .iter()
        .map(|(header, c)| Column {
            header: (*header).to_string(),
            read: Read::Cell(*c),
        })
        .collect()
}

/// Writes a list of objects in the chosen format, streaming.
pub struct ListWriter<W: Write> {
    out: W,
    format: OutputFormat,
    resource: &'static Resource,
    columns: Vec<Column>,
    fields: Vec<String>,
    written: u64,
    table_sample: Vec<Vec<String>>,
    table_widths: Option<Vec<usize>>,
}

impl<W: Write> ListWriter<W> {
    /// Starts a list; `fields` (may be empty: the resource's columns) chooses what is shown.
    pub fn new(
        out: W,
        format: OutputFormat,
        resource: &'static Resource,
        fields: &[String],
    ) -> Self {
        Self {
            out,
            format,
            resource,
            columns: columns(resource, format, fields),
            fields: fields.to_vec(),
            written: 0,
            table_sample: Vec::new(),
            table_widths: None,
        }
    }

    /// Writes one object.
    pub fn write(&mut self, object: &Value) -> std::io::Result<()> {
        match self.format {
            OutputFormat::Json => {
                self.out.write_all(if self.written == 0 {
                    b"[\n  "
                } else {
                    b",\n  "
                })?;
                if self.fields.is_empty() {
                    serde_json::to_writer(&mut self.out, object)?;
                } else {
                    serde_json::to_writer(&mut self.out, &project(object, &self.fields))?;
                }
            }
            OutputFormat::Csv => {
                if self.written == 0 {
                    self.write_csv_header()?;
                }
                let row = self.row(object, false);
                self.out.write_all(&csv_line(&row)?)?;
            }
            OutputFormat::Table => {
                let row = self.row(object, true);
                match &self.table_widths {
                    Some(widths) => {
                        let line = format_row(&row, widths);
                        writeln!(self.out, "{line}")?;
                    }
                    None => {
                        self.table_sample.push(row);
                        if self.table_sample.len() >= TABLE_SAMPLE {
                            self.flush_table_sample()?;
                        }
                    }
                }
            }
        }
        self.written += 1;
        Ok(())
    }

    fn row(&self, object: &Value, human: bool) -> Vec<String> {
        self.columns
            .iter()
            .map(|column| match &column.read {
                Read::Cell(c) => cell(object, *c, human),
                Read::Path(path) => path_text(object, path),
            })
            .collect()
    }

    fn flush_table_sample(&mut self) -> std::io::Result<()> {
        let headers: Vec<String> = self.columns.iter().map(|c| c.header.clone()).collect();
        let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.table_sample {
            for (w, value) in widths.iter_mut().zip(row) {
                *w = (*w).max(value.chars().count()).min(MAX_TABLE_WIDTH);
            }
        }
        writeln!(self.out, "{}", format_row(&headers, &widths))?;
        for row in std::mem::take(&mut self.table_sample) {
            writeln!(self.out, "{}", format_row(&row, &widths))?;
        }
        self.table_widths = Some(widths);
        Ok(())
    }

    fn write_csv_header(&mut self) -> std::io::Result<()> {
        let header: Vec<String> = self.columns.iter().map(|c| c.header.clone()).collect();
        self.out.write_all(&csv_line(&header)?)
    }

    /// Ends the list.
    pub fn finish(mut self) -> std::io::Result<()> {
        match self.format {
            OutputFormat::Json => {
                self.out
                    .write_all(if self.written == 0 { b"[]\n" } else { b"\n]\n" })?;
            }
            OutputFormat::Csv => {
                if self.written == 0 {
                    self.write_csv_header()?;
                }
            }
            OutputFormat::Table => {
                if self.table_widths.is_none() {
                    if self.table_sample.is_empty() {
                        eprintln!("no {}", self.resource.plural);
                    } else {
                        self.flush_table_sample()?;
                    }
                }
            }
        }
        self.out.flush()
    }
}

/// One CSV record with its line end, quoted as needed.
fn csv_line(fields: &[String]) -> std::io::Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(fields)?;
    writer.into_inner().map_err(|e| e.into_error())
}

fn format_row(cells: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    for (i, (value, width)) in cells.iter().zip(widths).enumerate() {
        if i > 0 {
            line.push_str("  ");
        }
        let count = value.chars().count();
        if count > *width {
            line.extend(value.chars().take(width.saturating_sub(1)));
            line.push('…');
        } else {
            line.push_str(value);
            if i + 1 < cells.len() {
                line.extend(std::iter::repeat_n(' ', width - count));
            }
        }
    }
    line
}

/// Writes one object: JSON as is, a table as `field  value` lines, CSV as one row; `fields`
/// (may be empty) chooses what is shown.
pub fn write_object(
    mut out: impl Write,
    format: OutputFormat,
    resource: &'static Resource,
    fields: &[String],
    object: &Value,
) -> std::io::Result<()> {
    let projected;
    let object = if fields.is_empty() {
        object
    } else {
        projected = project(object, fields);
        &projected
    };
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, object)?;
            writeln!(out)?;
        }
        OutputFormat::Csv => {
            let mut list = ListWriter::new(&mut out, format, resource, fields);
            list.write(object)?;
            list.finish()?;
        }
        OutputFormat::Table => {
            let Value::Object(map) = object else {
                writeln!(out, "{object}")?;
                return Ok(());
            };
            let width = map.keys().map(|k| k.len()).max().unwrap_or(0);
            for (key, value) in map {
                let shown = match value {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    Value::Array(items) if items.iter().all(Value::is_object) => {
                        let ids: Vec<String> = items
                            .iter()
                            .map(|item| {
                                ["phone_id", "user_id", "group_id", "token_id", "username"]
                                    .iter()
                                    .find_map(|id| item.get(*id).and_then(Value::as_str))
                                    .map(str::to_string)
                                    .unwrap_or_else(|| item.to_string())
                            })
                            .collect();
                        ids.join(", ")
                    }
                    other => other.to_string(),
                };
                writeln!(out, "{key:<width$}  {shown}")?;
            }
        }
    }
    out.flush()
}

/// The progress bar of a `--all` listing: a spinner until Duo's `total_objects` is known, then
/// a bar. Hidden when stderr is not a terminal or with `--quiet`.
pub fn progress(quiet: bool, plural: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {human_pos} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(plural.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// Switches the progress bar to a bar once the total is known.
pub fn set_total(bar: &ProgressBar, total: u64) {
    if bar.length() == Some(total) {
        return;
    }
    bar.set_length(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:30} {human_pos}/{human_len} {msg} ({elapsed}, eta {eta})",
    ) {
        bar.set_style(style);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::USERS;
    use serde_json::json;

    fn list(format: OutputFormat, items: &[Value]) -> String {
        let mut buf = Vec::new();
        let mut writer = ListWriter::new(&mut buf, format, &USERS, &[]);
        for item in items {
            writer.write(item).unwrap();
        }
        writer.finish().unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn json_lists_are_valid_arrays_even_when_empty() {
        let items = [json!({"user_id": "DU1"}), json!({"user_id": "DU2"})];
        let parsed: Vec<Value> = serde_json::from_str(&list(OutputFormat::Json, &items)).unwrap();
        assert_eq!(parsed, items);
        let empty: Vec<Value> = serde_json::from_str(&list(OutputFormat::Json, &[])).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn csv_has_a_header_and_quotes_commas() {
        let text = list(
            OutputFormat::Csv,
            &[json!({"user_id": "DU1", "realname": "Smith, J"})],
        );
        let mut lines = text.lines();
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("user_id,username,realname")
        );
        assert!(lines.next().unwrap().starts_with("DU1,,\"Smith, J\""));
        assert_eq!(list(OutputFormat::Csv, &[]).lines().count(), 1);
    }

    #[test]
    fn tables_align_and_cut_long_values() {
        let long = "x".repeat(100);
        let text = list(
            OutputFormat::Table,
            &[
                json!({"user_id": "DU1", "username": long}),
                json!({"user_id": "DU22", "username": "b"}),
            ],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("USER_ID  USERNAME"));
        assert!(lines[1].contains('…'));
        assert!(!lines[1].contains(&long));
        assert_eq!(lines[1].find("xx"), lines[2].find('b'));
    }

    #[test]
    fn fields_choose_columns_and_keys_in_every_format() {
        let items = [
            json!({"user_id": "DU1", "username": "a", "user": {"username": "nested"},
                            "capabilities": ["push", "sms"]}),
        ];
        let fields: Vec<String> = ["username", "user.username", "capabilities", "missing"]
            .map(String::from)
            .to_vec();
        let render = |format| {
            let mut buf = Vec::new();
            let mut writer = ListWriter::new(&mut buf, format, &USERS, &fields);
            for item in &items {
                writer.write(item).unwrap();
            }
            writer.finish().unwrap();
            String::from_utf8(buf).unwrap()
        };
        let parsed: Vec<Value> = serde_json::from_str(&render(OutputFormat::Json)).unwrap();
        assert_eq!(
            parsed,
            [
                json!({"username": "a", "user.username": "nested", "capabilities": ["push", "sms"], "missing": null})
            ]
        );
        assert_eq!(
            render(OutputFormat::Csv),
            "username,user.username,capabilities,missing\na,nested,push;sms,\n"
        );
        let table = render(OutputFormat::Table);
        let mut lines = table.lines();
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("USERNAME  USER.USERNAME  CAPABILITIES")
        );
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("a         nested         push;sms")
        );
        let mut one = Vec::new();
        write_object(
            &mut one,
            OutputFormat::Table,
            &USERS,
            &fields[..1],
            &items[0],
        )
        .unwrap();
        assert_eq!(String::from_utf8(one).unwrap(), "username  a\n");
    }
}
