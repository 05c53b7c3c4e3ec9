//! Python Banyan's launch file: a CSV table read by `bls`.
//!
//! The header names the columns (any order, as Python's `csv.DictReader`):
//! `command_string,spawn,topic,append_bp_address,auto_restart,wait`.
//!
//! | column              | meaning                                                        |
//! |---------------------|----------------------------------------------------------------|
//! | `command_string`    | the command line (split as a POSIX shell does: `shlex`)        |
//! | `spawn`             | `yes`: run it in its own terminal window (`xterm -e`)          |
//! | `topic`             | `local`, or the topic a remote `blc` listens on               |
//! | `append_bp_address` | `yes`: append `-b <backplane address>` to the command         |
//! | `auto_restart`      | `yes`: restart the process when it exits                       |
//! | `wait`              | seconds to wait after starting this line before the next one  |
//!
//! Fields follow the CSV dialect Python's `csv` module reads by default (`,` separated,
//! `"` quoted, `""` an escaped quote), read with `csv-core` (the
//! `csv` crate's parser). Differences, all in the direction of clearer errors:
//! yes/no fields must say `yes` or `no` (any case; `true`/`false`/`1`/`0` too) where Python
//! silently treats every other text as "no"; surrounding spaces are ignored; `wait` may be a
//! fraction and defaults to 0 when the column is absent (Python needs it); lines starting
//! with `#` and blank lines are skipped. Every error names the line and, where one applies, the
//! character column.

use std::fmt;
use std::time::Duration;

use super::split::split_command;

/// The columns of a launch file, in Python's documented order.
pub const COLUMNS: [&str; 6] = [
    "command_string",
    "spawn",
    "topic",
    "append_bp_address",
    "auto_restart",
    "wait",
];

/// The `topic` value that means "run on this machine".
pub const LOCAL_TOPIC: &str = "local";

/// Longest `wait` accepted (a day): larger values are almost certainly typos.
const MAX_WAIT_SECONDS: f64 = 86_400.0;

/// Where a launch entry runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// On this machine, started by `bls` itself.
    Local,
    /// On the machine whose `blc` listens on this topic.
    Remote(String),
}

/// One line of a launch file.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchEntry {
    /// Line number in the file (1-based), for messages.
    pub line: usize,
    /// The command line as written.
    pub command: String,
    /// `spawn`: run in a terminal window of its own.
    pub spawn: bool,
    /// `topic`: local or remote.
    pub target: Target,
    /// `append_bp_address`: append `-b ADDR`.
    pub append_bp_address: bool,
    /// `auto_restart`: restart when it exits.
    pub auto_restart: bool,
    /// `wait`: pause after starting this entry.
    pub wait: Duration,
    /// `wait` as written (sent verbatim to a remote launcher, as Python does).
    pub wait_text: String,
}

impl LaunchEntry {
    /// The command line to run: [`Self::command`], plus `-b address` when
    /// `append_bp_address` is set.
    pub fn command_line(&self, backplane_address: &str) -> String {
        if self.append_bp_address {
            format!("{} -b {backplane_address}", self.command)
        } else {
            self.command.clone()
        }
    }
}

/// What is wrong with a launch file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LaunchFileError {
    /// The file has no header line.
    #[error("the launch file is empty (expected the header line {})", COLUMNS.join(","))]
    Empty,
    /// A required column is not in the header.
    #[error("line {line}: the header has no column {column:?} (expected {})", COLUMNS.join(","))]
    MissingColumn {
        /// Line of the header.
        line: u64,
        /// The missing column.
        column: &'static str,
    },
    /// A column name appears twice in the header.
    #[error("line {line}, column {column}: column {name:?} appears twice in the header")]
    DuplicateColumn {
        /// Line of the header.
        line: u64,
        /// 1-based character column of the second occurrence.
        column: usize,
        /// The duplicated name.
        name: String,
    },
    /// A row has a different number of fields than the header.
    #[error("line {line}: {found} fields, but the header has {expected}")]
    FieldCount {
        /// The line.
        line: u64,
        /// Fields in the header.
        expected: usize,
        /// Fields in this row.
        found: usize,
    },
    /// A quoted field runs to the end of the file.
    #[error("line {line}: a quote opened in this row is not closed")]
    UnclosedQuote {
        /// Line where the row starts.
        line: u64,
    },
    /// A field has a value that column does not accept.
    #[error("line {line}, column {column} ({field}): {problem}")]
    BadField {
        /// The line.
        line: u64,
        /// 1-based character column where the field starts.
        column: usize,
        /// The column name.
        field: &'static str,
        /// What is wrong, e.g. `expected yes or no, found "maybe"`.
        problem: String,
    },
    /// The file has a header but no entry.
    #[error("the launch file lists no command (only a header)")]
    NoEntries,
}

/// A CSV field with where it starts in the file.
#[derive(Debug)]
struct Field {
    /// The unescaped text, surrounding spaces trimmed.
    text: String,
    /// 1-based line.
    line: u64,
    /// 1-based character column.
    column: usize,
}

/// One CSV record.
#[derive(Debug)]
struct Row {
    /// Line of the first field.
    line: u64,
    /// Byte offset in the file where the reader began this row (before the blank and comment
    /// lines it skipped).
    byte: usize,
    fields: Vec<Field>,
}

impl Row {
    /// A [`LaunchFileError::BadField`] for the field at `position`, in column `name`.
    fn bad(&self, position: usize, name: &'static str, problem: String) -> LaunchFileError {
        let field = &self.fields[position];
        LaunchFileError::BadField {
            line: field.line,
            column: field.column,
            field: name,
            problem,
        }
    }

    fn text(&self, position: usize) -> &str {
        &self.fields[position].text
    }
}

/// Reads `text` as CSV in Python's default (`excel`) dialect with `csv-core` (the `csv`
/// crate's parser, which also reports how far into the input each field starts): `,`
/// separated, `"` quoted, `""` an escaped quote; blank lines and lines starting with `#` are
/// skipped; fields are trimmed. Never fails: as in Python's `csv` module, text after a closing
/// quote joins the field and an unclosed quote runs to the end of the file.
fn rows(text: &str) -> Vec<Row> {
    let bytes = text.as_bytes();
    let mut reader = csv_core::ReaderBuilder::new().comment(Some(b'#')).build();
    let mut rows = Vec::new();
    let mut fields = Vec::new();
    let mut field = Vec::new();
    let mut chunk = [0u8; 1024];
    let (mut at, mut field_start, mut row_start) = (0usize, 0usize, 0usize);
    loop {
        // An empty input tells the reader the file has ended.
        let (result, read, written) = reader.read_field(&bytes[at..], &mut chunk);
        at += read;
        field.extend_from_slice(&chunk[..written]);
        match result {
            csv_core::ReadFieldResult::InputEmpty | csv_core::ReadFieldResult::OutputFull => {}
            csv_core::ReadFieldResult::Field { record_end } => {
                let start = skip_to_content(bytes, field_start, fields.is_empty());
                let (line, column) = line_and_column(text, start);
                fields.push(Field {
                    text: String::from_utf8_lossy(&field).trim().to_owned(),
                    line,
                    column,
                });
                field.clear();
                field_start = at;
                if record_end {
                    let line = fields.first().map_or(1, |first: &Field| first.line);
                    rows.push(Row {
                        line,
                        byte: row_start,
                        fields: std::mem::take(&mut fields),
                    });
                    row_start = at;
                }
            }
            csv_core::ReadFieldResult::End => break,
        }
    }
    rows
}

/// Where a field's content starts: past the blank and comment lines the reader skips before a
/// record's first field, and past leading spaces (which are trimmed).
fn skip_to_content(bytes: &[u8], mut at: usize, first_in_record: bool) -> usize {
    while let Some(&next) = bytes.get(at) {
        let line_start = at == 0 || bytes[at - 1] == b'\n';
        match next {
            b' ' | b'\t' => at += 1,
            b'\r' | b'\n' if first_in_record => at += 1,
            b'#' if first_in_record && line_start => {
                at += bytes[at..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len() - at, |n| n + 1);
            }
            _ => break,
        }
    }
    at
}

/// 1-based line and character column of byte offset `at` in `text`.
fn line_and_column(text: &str, at: usize) -> (u64, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    (
        u64::try_from(line).unwrap_or(u64::MAX).saturating_add(1),
        column,
    )
}

fn yes_no(row: &Row, position: usize, name: &'static str) -> Result<bool, LaunchFileError> {
    let text = row.text(position);
    match text.to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "1" => Ok(true),
        "no" | "n" | "false" | "0" => Ok(false),
        _ => Err(row.bad(
            position,
            name,
            format!("expected yes or no, found {text:?}"),
        )),
    }
}

/// Parses a launch file. Never panics; every error names a line (and a column where one
/// applies).
pub fn parse(text: &str) -> Result<Vec<LaunchEntry>, LaunchFileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = rows(text).into_iter();
    let header = rows.next().ok_or(LaunchFileError::Empty)?;
    let mut index = [None::<usize>; COLUMNS.len()];
    for (position, field) in header.fields.iter().enumerate() {
        let name = field.text.as_str();
        if let Some(slot) = COLUMNS.iter().position(|column| *column == name) {
            if index[slot].is_some() {
                return Err(LaunchFileError::DuplicateColumn {
                    line: field.line,
                    column: field.column,
                    name: name.into(),
                });
            }
            index[slot] = Some(position);
        }
    }
    // `wait` (the last column) is optional; the others are required.
    let mut required = [0usize; COLUMNS.len() - 1];
    for (slot, column) in COLUMNS.iter().enumerate().take(COLUMNS.len() - 1) {
        required[slot] = index[slot].ok_or(LaunchFileError::MissingColumn {
            line: header.line,
            column,
        })?;
    }
    let mut entries = Vec::new();
    for row in rows {
        if row.fields.len() != header.fields.len() {
            // The csv crate, like Python's, reads an unclosed quote to the end of the file:
            // a row of the wrong width with an odd number of quotes from it to the end is
            // that mistake.
            if text
                .get(row.byte..)
                .is_some_and(|rest| rest.matches('"').count() % 2 == 1)
            {
                return Err(LaunchFileError::UnclosedQuote { line: row.line });
            }
            return Err(LaunchFileError::FieldCount {
                line: row.line,
                expected: header.fields.len(),
                found: row.fields.len(),
            });
        }
        entries.push(entry(&row, &required, index[COLUMNS.len() - 1])?);
    }
    if entries.is_empty() {
        return Err(LaunchFileError::NoEntries);
    }
    Ok(entries)
}

/// One launch entry from a row whose width matches the header.
fn entry(
    row: &Row,
    required: &[usize],
    wait: Option<usize>,
) -> Result<LaunchEntry, LaunchFileError> {
    let command = row.text(required[0]).to_owned();
    if command.is_empty() {
        return Err(row.bad(required[0], COLUMNS[0], "the command is empty".into()));
    }
    if let Err(error) = split_command(&command) {
        return Err(row.bad(required[0], COLUMNS[0], error.to_string()));
    }
    let spawn = yes_no(row, required[1], COLUMNS[1])?;
    let topic = row.text(required[2]);
    let target = if topic.is_empty() {
        return Err(row.bad(
            required[2],
            COLUMNS[2],
            "the topic is empty (use `local` or a blc's topic)".into(),
        ));
    } else if topic == LOCAL_TOPIC {
        Target::Local
    } else {
        Target::Remote(topic.into())
    };
    let append_bp_address = yes_no(row, required[3], COLUMNS[3])?;
    let auto_restart = yes_no(row, required[4], COLUMNS[4])?;
    let (wait, wait_text) = match wait {
        None => (Duration::ZERO, "0".to_owned()),
        Some(position) => {
            let text = row.text(position);
            let seconds = if text.is_empty() {
                0.0
            } else {
                text.parse::<f64>().map_err(|_| {
                    row.bad(
                        position,
                        COLUMNS[5],
                        format!("expected seconds (a number), found {text:?}"),
                    )
                })?
            };
            if !(0.0..=MAX_WAIT_SECONDS).contains(&seconds) {
                return Err(row.bad(
                    position,
                    COLUMNS[5],
                    format!("{seconds} s is out of range (0 to {MAX_WAIT_SECONDS})"),
                ));
            }
            let shown = if text.is_empty() { "0" } else { text };
            (Duration::from_secs_f64(seconds), shown.to_owned())
        }
    };
    Ok(LaunchEntry {
        line: usize::try_from(row.line).unwrap_or(usize::MAX),
        command,
        spawn,
        target,
        append_bp_address,
        auto_restart,
        wait,
        wait_text,
    })
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local => f.write_str(LOCAL_TOPIC),
            Self::Remote(topic) => f.write_str(topic),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "command_string,spawn,topic,append_bp_address,auto_restart,wait\n";

    #[test]
    fn python_example_file() {
        let text = format!(
            "{HEADER}backplane,no,local,no,no,1\n\
             simple-echo-server -p 1 -s 2,no,local,yes,yes,0\n\
             simple-echo-client,no,pi4,yes,no,0\n"
        );
        let entries = parse(&text).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].command, "backplane");
        assert_eq!(entries[0].wait, Duration::from_secs(1));
        assert_eq!(entries[0].line, 2);
        assert!(entries[1].auto_restart && entries[1].append_bp_address);
        assert_eq!(entries[1].target, Target::Local);
        assert_eq!(entries[2].target, Target::Remote("pi4".into()));
        assert_eq!(
            entries[1].command_line("10.0.0.1"),
            "simple-echo-server -p 1 -s 2 -b 10.0.0.1"
        );
        assert_eq!(entries[0].command_line("10.0.0.1"), "backplane");
    }

    #[test]
    fn columns_in_any_order_crlf_quotes_comments_and_no_wait() {
        let text = "topic,auto_restart,command_string,spawn,append_bp_address\r\n\
                    # a comment\r\n\
                    \r\n\
                    local,YES,\"echo \"\"a, b\"\"\",no,no\r\n";
        let entries = parse(text).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].command, "echo \"a, b\"");
        assert_eq!(entries[0].line, 4);
        assert!(entries[0].auto_restart);
        assert_eq!(entries[0].wait, Duration::ZERO);
        assert_eq!(
            split_command(&entries[0].command).unwrap(),
            ["echo", "a, b"]
        );
    }

    #[test]
    fn errors_name_line_and_column() {
        let text = format!("{HEADER}a,no,local,no,no,0\nb,no,local,no,maybe,0\n");
        let error = parse(&text).unwrap_err();
        assert_eq!(
            error,
            LaunchFileError::BadField {
                line: 3,
                column: 15,
                field: "auto_restart",
                problem: "expected yes or no, found \"maybe\"".into()
            }
        );
        assert_eq!(
            error.to_string(),
            "line 3, column 15 (auto_restart): expected yes or no, found \"maybe\""
        );

        let error = parse(&format!("{HEADER}a,no,local,no\n")).unwrap_err();
        assert_eq!(
            error,
            LaunchFileError::FieldCount {
                line: 2,
                expected: 6,
                found: 4
            }
        );

        let error = parse(&format!("{HEADER}a,no,local,no,no,soon\n")).unwrap_err();
        assert!(
            matches!(
                error,
                LaunchFileError::BadField {
                    line: 2,
                    column: 18,
                    field: "wait",
                    ..
                }
            ),
            "{error}"
        );

        let error = parse(&format!("{HEADER}a,no,,no,no,0\n")).unwrap_err();
        assert!(matches!(
            error,
            LaunchFileError::BadField {
                line: 2,
                column: 6,
                field: "topic",
                ..
            }
        ));

        let error = parse(&format!("{HEADER}\"a,no,local,no,no,0\n")).unwrap_err();
        assert_eq!(error, LaunchFileError::UnclosedQuote { line: 2 });
        assert_eq!(
            error.to_string(),
            "line 2: a quote opened in this row is not closed"
        );

        // Text after a closing quote joins the field, as in Python's csv module.
        let entries = parse(&format!("{HEADER}\"a\"x,no,local,no,no,0\n")).unwrap();
        assert_eq!(entries[0].command, "ax");

        let error = parse(&format!("{HEADER}prog 'x,no,local,no,no,0\n")).unwrap_err();
        assert!(error.to_string().contains("not closed"), "{error}");

        let error = parse("command_string,spawn,topic,auto_restart\nx,no,local,no\n").unwrap_err();
        assert_eq!(
            error,
            LaunchFileError::MissingColumn {
                line: 1,
                column: "append_bp_address"
            }
        );
        assert_eq!(parse("").unwrap_err(), LaunchFileError::Empty);
        assert_eq!(parse(HEADER).unwrap_err(), LaunchFileError::NoEntries);
        let error = parse("topic,topic\n").unwrap_err();
        assert!(matches!(
            error,
            LaunchFileError::DuplicateColumn {
                line: 1,
                column: 7,
                ..
            }
        ));
    }

    #[test]
    fn lines_count_skipped_comment_blank_and_crlf_lines() {
        let text = "command_string,spawn,topic,append_bp_address,auto_restart\r\n\
                    \r\n\
                    # first\r\n\
                    # second\n\
                    \n\
                    a,no,local,no,no\r\n\
                    b,no,local,no,no\n\
                    \n\
                    c,no,local,no,maybe\n";
        let error = parse(text).unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 9, column 15 (auto_restart): expected yes or no, found \"maybe\""
        );
        let entries = parse(&text.replace("maybe", "no")).unwrap();
        let lines: Vec<usize> = entries.iter().map(|entry| entry.line).collect();
        assert_eq!(lines, [6, 7, 9]);
    }

    #[test]
    fn long_fields_and_quoted_line_breaks() {
        // A field longer than the reader's output chunk, and a quoted field spanning lines:
        // the next row's line and columns still count from the file.
        let long = format!("prog {}", "x".repeat(3000));
        let text = format!(
            "{HEADER}{long},no,local,no,no,0\n\"prog 'a\nb'\",no,local,no,no,0\n  c , no,local,no,later,0\n"
        );
        let error = parse(&text).unwrap_err();
        assert_eq!(
            error,
            LaunchFileError::BadField {
                line: 5,
                column: 19,
                field: "auto_restart",
                problem: "expected yes or no, found \"later\"".into()
            }
        );
        let entries = parse(&text.replace("later", "no")).unwrap();
        assert_eq!(entries[0].command, long);
        assert_eq!(entries[1].command, "prog 'a\nb'");
        assert_eq!(
            split_command(&entries[1].command).unwrap(),
            ["prog", "a\nb"]
        );
        assert_eq!(entries[2].command, "c");
        assert_eq!(entries[2].line, 5);
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(text in "[a-z,\"'#\\r\\n ]{0,80}") {
            let _ = parse(&format!("{HEADER}{text}"));
            let _ = parse(&text);
            let _ = split_command(&text);
        }
    }
}
