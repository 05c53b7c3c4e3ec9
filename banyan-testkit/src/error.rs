//! [`Error`]: what a fixture could not do, as a sentence a failing test can print.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// A fixture failed. Every variant names the process or resource, and process variants carry
/// the last lines it wrote to stderr.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A process could not be started.
    #[error("cannot start {name}: {source}")]
    Spawn {
        /// The process's name in the test.
        name: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A process did not print what was waited for before the deadline.
    #[error("{name} printed no line matching {wanted:?} in time; stderr tail:\n{stderr}")]
    LineTimeout {
        /// The process.
        name: String,
        /// The awaited text.
        wanted: String,
        /// Its last stderr lines.
        stderr: String,
    },
    /// A process closed its output (exited) without printing what was waited for.
    #[error(
        "{name} ended its output ({status}) without printing {wanted:?}; stderr tail:\n{stderr}"
    )]
    LineMissing {
        /// The process.
        name: String,
        /// The awaited text.
        wanted: String,
        /// Its exit status, if it has one yet.
        status: String,
        /// Its last stderr lines.
        stderr: String,
    },
    /// A process did not exit before the deadline (it was killed).
    #[error("{name} did not exit in time; stderr tail:\n{stderr}")]
    ExitTimeout {
        /// The process.
        name: String,
        /// Its last stderr lines.
        stderr: String,
    },
    /// A process exited unsuccessfully where success was expected.
    #[error("{name} exited with {status}; stderr tail:\n{stderr}")]
    Failed {
        /// The process.
        name: String,
        /// Its status.
        status: ExitStatus,
        /// Its last stderr lines.
        stderr: String,
    },
    /// A line was found but did not hold what was expected.
    #[error("{name}: no {what} in line {line:?}")]
    Unparsable {
        /// The process.
        name: String,
        /// What was looked for.
        what: String,
        /// The line.
        line: String,
    },
    /// Nothing accepted connections on an address before the deadline.
    #[error("nothing listens on {address} after {waited:?}")]
    NotListening {
        /// The address.
        address: std::net::SocketAddr,
        /// How long it was tried.
        waited: Duration,
    },
    /// No Python with python-banyan importable.
    #[error("{python}: {reason}")]
    NoPython {
        /// The interpreter tried.
        python: PathBuf,
        /// Why it does not do.
        reason: String,
    },
    /// A signal could not be sent.
    #[error("cannot signal {name} (pid {pid}): {source}")]
    Signal {
        /// The process.
        name: String,
        /// Its PID.
        pid: u32,
        /// Why.
        #[source]
        source: nix::Error,
    },
    /// A thread panicked.
    #[error("thread {name} panicked: {message}")]
    ThreadPanicked {
        /// The thread's name.
        name: String,
        /// The panic message, if it was a string.
        message: String,
    },
    /// A condition did not hold before its deadline (see [`crate::wait`]).
    #[error("timed out after {waited:?} waiting for {what}")]
    WaitTimeout {
        /// What was awaited.
        what: String,
        /// How long it was tried.
        waited: Duration,
    },
    /// A try of a condition failed while it was awaited (see [`crate::wait::try_wait_for`]).
    #[error("while waiting for {what}: {reason}")]
    WaitFailed {
        /// What was awaited.
        what: String,
        /// Why the try failed.
        reason: String,
    },
    /// Any other I/O failure of a fixture.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// An [`Error::Io`] with `context`.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// `Result` with the kit's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Lets a scenario step (`Result<T, String>`, see [`crate::scenario::Step`]) use `?` on the
/// kit's calls.
impl From<Error> for String {
    fn from(error: Error) -> Self {
        error.to_string()
    }
}
