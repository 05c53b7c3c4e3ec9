//! Python Banyan's launch file: a CSV table read by `bls`.
//!
//! The header names the columns (any order, as Python's `csv.DictReader`):
//! `command_string,spawn,topic,append_bp_address,auto_restart,wait`.
//!
//! | column              | meaning                                                        |
//! |---------------------|----------------------------------------------------------------|
//! | `command_string`    | the command line (split on whitespace; `"..."`/`'...'` quote)  |
//! | `spawn`             | `yes`: run it in its own terminal window (`xterm -e`)          |
//! | `topic`             | `local`, or the topic a remote `blc` listens on               |
//! | `append_bp_address` | `yes`: append `-b <backplane address>` to the command         |
//! | `auto_restart`      | `yes`: restart the process when it exits                       |
//! | `wait`              | seconds to wait after starting this line before the next one  |
//!
//! Fields follow the CSV dialect Python's `csv` module reads by default (`,` separated,
//! `"` quoted, `""` an escaped quote). Differences, all in the direction of clearer errors:
//! yes/no fields must say `yes` or `no` (any case; `true`/`false`/`1`/`0` too) where Python
//! silently treats every other text as "no"; surrounding spaces are ignored; `wait` may be a
//! fraction and defaults to 0 when the column is absent (Python needs it); lines starting
//! with `#` and blank lines are skipped. Every error names the line and column.

use std::fmt;
use std::time::Duration;

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
        line: usize,
        /// The missing column.
        column: &'static str,
    },
    /// A column name appears twice in the header.
    #[error("line {line}, column {column}: column {name:?} appears twice in the header")]
    DuplicateColumn {
        /// Line of the header.
        line: usize,
        /// 1-based character column of the second occurrence.
        column: usize,
        /// The duplicated name.
        name: String,
    },
    /// A row has a different number of fields than the header.
    #[error("line {line}: {found} fields, but the header has {expected}")]
    FieldCount {
        /// The line.
        line: usize,
        /// Fields in the header.
        expected: usize,
        /// Fields in this row.
        found: usize,
    },
    /// A quoted field is not closed.
    #[error("line {line}, column {column}: quote not closed")]
    UnclosedQuote {
        /// Line of the opening quote.
        line: usize,
        /// 1-based character column of the opening quote.
        column: usize,
    },
    /// Text follows a closing quote.
    #[error("line {line}, column {column}: unexpected text after a closing quote")]
    TextAfterQuote {
        /// The line.
        line: usize,
        /// 1-based character column of the text.
        column: usize,
    },
    /// A field has a value that column does not accept.
    #[error("line {line}, column {column} ({field}): {problem}")]
    BadField {
        /// The line.
        line: usize,
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

/// A CSV field with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    text: String,
    line: usize,
    column: usize,
}

/// A CSV record: its first line and its fields.
#[derive(Debug)]
struct Record {
    line: usize,
    fields: Vec<Field>,
}

/// Splits `text` into CSV records (Python's `excel` dialect), skipping blank lines and lines
/// starting with `#`.
fn records(text: &str) -> Result<Vec<Record>, LaunchFileError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let (mut line, mut column) = (1usize, 1usize);
    while chars.peek().is_some() {
        // Skip blank and comment lines.
        match chars.peek() {
            Some('\n') => {
                chars.next();
                line += 1;
                column = 1;
                continue;
            }
            Some('\r') => {
                chars.next();
                column += 1;
                continue;
            }
            Some('#') if column == 1 => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                line += 1;
                column = 1;
                continue;
            }
            _ => {}
        }
        let record_line = line;
        let mut fields = Vec::new();
        loop {
            // One field.
            let (start_line, start_column) = (line, column);
            let mut value = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                column += 1;
                loop {
                    match chars.next() {
                        None => {
                            return Err(LaunchFileError::UnclosedQuote {
                                line: start_line,
                                column: start_column,
                            });
                        }
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            column += 2;
                            value.push('"');
                        }
                        Some('"') => {
                            column += 1;
                            break;
                        }
                        Some('\n') => {
                            line += 1;
                            column = 1;
                            value.push('\n');
                        }
                        Some(c) => {
                            column += 1;
                            value.push(c);
                        }
                    }
                }
                // Only spaces may follow the closing quote before the separator.
                while let Some(&c) = chars.peek() {
                    match c {
                        ' ' | '\t' => {
                            chars.next();
                            column += 1;
                        }
                        ',' | '\n' | '\r' => break,
                        _ => return Err(LaunchFileError::TextAfterQuote { line, column }),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if matches!(c, ',' | '\n' | '\r') {
                        break;
                    }
                    chars.next();
                    column += 1;
                    value.push(c);
                }
            }
            fields.push(Field {
                text: value,
                line: start_line,
                column: start_column,
            });
            match chars.next() {
                Some(',') => {
                    column += 1;
                    // A leading space before a quote: skip it so `a, "b c"` reads as quoted.
                    let mut spaces = 0;
                    while chars.peek() == Some(&' ') {
                        chars.next();
                        spaces += 1;
                    }
                    column += spaces;
                }
                Some('\r') => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    line += 1;
                    column = 1;
                    break;
                }
                Some('\n') => {
                    line += 1;
                    column = 1;
                    break;
                }
                None => break,
                Some(_) => unreachable!("the field loops stop only at separators"),
            }
        }
        out.push(Record {
            line: record_line,
            fields,
        });
    }
    Ok(out)
}

fn yes_no(field: &Field, name: &'static str) -> Result<bool, LaunchFileError> {
    match field.text.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "1" => Ok(true),
        "no" | "n" | "false" | "0" => Ok(false),
        _ => Err(bad(
            field,
            name,
            format!("expected yes or no, found {:?}", field.text),
        )),
    }
}

fn bad(field: &Field, name: &'static str, problem: String) -> LaunchFileError {
    LaunchFileError::BadField {
        line: field.line,
        column: field.column,
        field: name,
        problem,
    }
}

/// Parses a launch file. Never panics; every error names a line (and a column where one
/// applies).
pub fn parse(text: &str) -> Result<Vec<LaunchEntry>, LaunchFileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = records(text)?.into_iter();
    let header = rows.next().ok_or(LaunchFileError::Empty)?;
    let mut index = [None::<usize>; COLUMNS.len()];
    for (position, field) in header.fields.iter().enumerate() {
        let name = field.text.trim();
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
    for (slot, column) in COLUMNS.iter().enumerate().take(COLUMNS.len() - 1) {
        if index[slot].is_none() {
            return Err(LaunchFileError::MissingColumn {
                line: header.line,
                column,
            });
        }
    }
    let mut entries = Vec::new();
    for row in rows {
        if row.fields.len() != header.fields.len() {
            return Err(LaunchFileError::FieldCount {
                line: row.line,
                expected: header.fields.len(),
                found: row.fields.len(),
            });
        }
        let field = |slot: usize| index[slot].map(|position| &row.fields[position]);
        let required = |slot: usize| field(slot).expect("required columns were checked");

        let command_field = required(0);
        let command = command_field.text.trim().to_owned();
        if command.is_empty() {
            return Err(bad(
                command_field,
                COLUMNS[0],
                "the command is empty".into(),
            ));
        }
        if let Err(error) = split_command(&command) {
            return Err(bad(command_field, COLUMNS[0], error.to_string()));
        }
        let spawn = yes_no(required(1), COLUMNS[1])?;
        let topic_field = required(2);
        let topic = topic_field.text.trim();
        let target = if topic.is_empty() {
            return Err(bad(
                topic_field,
                COLUMNS[2],
                "the topic is empty (use `local` or a blc's topic)".into(),
            ));
        } else if topic == LOCAL_TOPIC {
            Target::Local
        } else {
            Target::Remote(topic.into())
        };
        let append_bp_address = yes_no(required(3), COLUMNS[3])?;
        let auto_restart = yes_no(required(4), COLUMNS[4])?;
        let (wait, wait_text) = match field(5) {
            None => (Duration::ZERO, "0".to_owned()),
            Some(field) => {
                let text = field.text.trim();
                let seconds = if text.is_empty() {
                    0.0
                } else {
                    text.parse::<f64>().map_err(|_| {
                        bad(
                            field,
                            COLUMNS[5],
                            format!("expected seconds (a number), found {:?}", field.text),
                        )
                    })?
                };
                if !(0.0..=MAX_WAIT_SECONDS).contains(&seconds) {
                    return Err(bad(
                        field,
                        COLUMNS[5],
                        format!("{seconds} s is out of range (0 to {MAX_WAIT_SECONDS})"),
                    ));
                }
                let shown = if text.is_empty() { "0" } else { text };
                (Duration::from_secs_f64(seconds), shown.to_owned())
            }
        };
        entries.push(LaunchEntry {
            line: row.line,
            command,
            spawn,
            target,
            append_bp_address,
            auto_restart,
            wait,
            wait_text,
        });
    }
    if entries.is_empty() {
        return Err(LaunchFileError::NoEntries);
    }
    Ok(entries)
}

/// Why a command line cannot be split into arguments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SplitError {
    /// A quote is not closed.
    #[error("quote {quote} opened at character {position} of the command is not closed")]
    UnclosedQuote {
        /// The quote character.
        quote: char,
        /// 1-based character position in the command.
        position: usize,
    },
    /// Nothing to run.
    #[error("the command is empty")]
    Empty,
}

/// Splits a command line into program and arguments: whitespace separates, `"..."` and
/// `'...'` group, a backslash escapes the next character outside single quotes. (Python's
/// launcher splits on single spaces only; every command it runs splits the same here.)
pub fn split_command(command: &str) -> Result<Vec<String>, SplitError> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_arg = false;
    let mut chars = command.chars().enumerate();
    while let Some((position, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_arg {
                    args.push(std::mem::take(&mut current));
                    in_arg = false;
                }
            }
            '"' | '\'' => {
                in_arg = true;
                loop {
                    match chars.next() {
                        None => {
                            return Err(SplitError::UnclosedQuote {
                                quote: c,
                                position: position + 1,
                            });
                        }
                        Some((_, q)) if q == c => break,
                        Some((_, '\\')) if c == '"' => match chars.next() {
                            Some((_, escaped)) => current.push(escaped),
                            None => {
                                return Err(SplitError::UnclosedQuote {
                                    quote: c,
                                    position: position + 1,
                                });
                            }
                        },
                        Some((_, inner)) => current.push(inner),
                    }
                }
            }
            '\\' => {
                in_arg = true;
                if let Some((_, escaped)) = chars.next() {
                    current.push(escaped);
                }
            }
            c => {
                in_arg = true;
                current.push(c);
            }
        }
    }
    if in_arg {
        args.push(current);
    }
    if args.is_empty() {
        return Err(SplitError::Empty);
    }
    Ok(args)
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
        assert_eq!(error, LaunchFileError::UnclosedQuote { line: 2, column: 1 });

        let error = parse(&format!("{HEADER}\"a\"x,no,local,no,no,0\n")).unwrap_err();
        assert_eq!(
            error,
            LaunchFileError::TextAfterQuote { line: 2, column: 4 }
        );

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
    fn split_rules() {
        assert_eq!(split_command("a  b\tc").unwrap(), ["a", "b", "c"]);
        assert_eq!(
            split_command("a 'b c' \"d \\\" e\"").unwrap(),
            ["a", "b c", "d \" e"]
        );
        assert_eq!(split_command("a ''").unwrap(), ["a", ""]);
        assert_eq!(split_command("   ").unwrap_err(), SplitError::Empty);
        assert_eq!(
            split_command("a \"b").unwrap_err(),
            SplitError::UnclosedQuote {
                quote: '"',
                position: 3
            }
        );
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
