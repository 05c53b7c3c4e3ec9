//! A launch file's command line split into program and arguments: [`split_command`] as a
//! POSIX shell splits it (`shlex`), or on Windows as Windows programs split theirs
//! ([`split_windows`]: the rules of the Microsoft C runtime and `CommandLineToArgvW`, for
//! launch files written for Windows: a backslash is a path separator, not an escape, so
//! `C:\Banyan\backplane.exe -p 0` is two words plus one):
//!
//! - Spaces and tabs outside double quotes separate words; `"..."` groups (the quotes go).
//! - Inside quotes, `""` is one literal quote.
//! - Backslashes are literal, except before a double quote: 2n backslashes and a quote are n
//!   backslashes and a grouping quote; 2n+1 backslashes and a quote are n backslashes and a
//!   literal quote.
//! - A quote left open runs to the end of the line, as on Windows (so the table of
//!   Microsoft's documentation holds: `a"b"" c d` is the one word `ab" c d`).

/// Why a command line cannot be split into arguments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SplitError {
    /// A quote is not closed, or the line ends in a lone backslash.
    #[error("the command has a quote that is not closed (or ends in a backslash)")]
    UnclosedQuote,
    /// Nothing to run.
    #[error("the command is empty")]
    Empty,
}

/// Splits a command line into program and arguments as a POSIX shell does (the `shlex`
/// crate): whitespace separates, `'...'` is literal, `"..."` groups with `\"`/`\\` escapes, a
/// backslash escapes the next character outside quotes, and a word starting with `#` begins a
/// comment. (Python's launcher splits on single spaces only; every command it runs splits the
/// same here, and quoted arguments with spaces work too.) On Windows, as Windows programs
/// split theirs ([`split_windows`]): backslashes are path
/// separators there.
pub fn split_command(command: &str) -> Result<Vec<String>, SplitError> {
    #[cfg(windows)]
    let args = split_windows(command)?;
    #[cfg(not(windows))]
    let args = shlex::split(command).ok_or(SplitError::UnclosedQuote)?;
    if args.is_empty() {
        return Err(SplitError::Empty);
    }
    Ok(args)
}

/// Splits `command` by the Windows rules above.
pub fn split_windows(command: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let mut backslashes = 1;
                while chars.peek() == Some(&'\\') {
                    chars.next();
                    backslashes += 1;
                }
                in_word = true;
                if chars.peek() == Some(&'"') {
                    word.extend(std::iter::repeat_n('\\', backslashes / 2));
                    if backslashes % 2 == 1 {
                        chars.next();
                        word.push('"');
                    }
                } else {
                    word.extend(std::iter::repeat_n('\\', backslashes));
                }
            }
            '"' => {
                in_word = true;
                if quoted && chars.peek() == Some(&'"') {
                    chars.next();
                    word.push('"');
                } else {
                    quoted = !quoted;
                }
            }
            ' ' | '\t' if !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        return Err(SplitError::Empty);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Vec<String> {
        split_windows(line).unwrap()
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
            SplitError::UnclosedQuote
        );
        assert_eq!(
            split_command("a 'b").unwrap_err(),
            SplitError::UnclosedQuote
        );
        assert_eq!(
            split_command("python3 echo.py --name 'my echo' -t 0.1").unwrap(),
            ["python3", "echo.py", "--name", "my echo", "-t", "0.1"]
        );
    }

    #[test]
    fn paths_keep_their_backslashes() {
        assert_eq!(
            split(r"C:\Banyan\simple-echo-server.exe -b 127.0.0.1"),
            [r"C:\Banyan\simple-echo-server.exe", "-b", "127.0.0.1"]
        );
        assert_eq!(
            split(r#""C:\Program Files\Banyan\bls.exe" -f "my launch.csv""#),
            [r"C:\Program Files\Banyan\bls.exe", "-f", "my launch.csv"]
        );
        assert_eq!(split("a \t b"), ["a", "b"]);
    }

    /// The examples of Microsoft's "Parsing C command-line arguments" table.
    #[test]
    fn microsofts_examples() {
        assert_eq!(split(r#""a b c" d e"#), ["a b c", "d", "e"]);
        assert_eq!(split(r#""ab\"c" "\\" d"#), [r#"ab"c"#, r"\", "d"]);
        assert_eq!(split(r#"a\\\b d"e f"g h"#), [r"a\\\b", "de fg", "h"]);
        assert_eq!(split(r#"a\\\"b c d"#), [r#"a\"b"#, "c", "d"]);
        assert_eq!(split(r#"a\\\\"b c" d e"#), [r"a\\b c", "d", "e"]);
        assert_eq!(split(r#"a"b"" c d"#), [r#"ab" c d"#]);
    }

    #[test]
    fn empty_quotes_are_a_word_and_an_open_quote_runs_to_the_end() {
        assert_eq!(split(r#"a """#), ["a", ""]);
        assert_eq!(split(r#"a "b c"#), ["a", "b c"]);
        assert_eq!(split_windows("  ").unwrap_err(), SplitError::Empty);
    }
}
