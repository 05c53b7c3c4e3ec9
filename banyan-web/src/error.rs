//! Errors of `banyan-web`.

use std::net::SocketAddr;

use banyan_proto::payload::PayloadError;

/// Why a payload could not be converted between msgpack and JSON.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// The text is not JSON.
    #[error("not JSON (line {line}, column {column}): {reason}")]
    NotJson {
        /// Line of the first error (1-based).
        line: usize,
        /// Column of the first error (1-based).
        column: usize,
        /// What the parser said.
        reason: String,
    },
    /// The JSON is valid but not an object; Banyan payloads are maps.
    #[error("a Banyan payload must be a JSON object, not {found}")]
    NotAnObject {
        /// The kind found instead (`"an array"`, `"a number"`, ...).
        found: &'static str,
    },
    /// Arrays and objects nest deeper than any Banyan receiver decodes.
    #[error("nested deeper than {max} levels")]
    TooDeep {
        /// The deepest nesting accepted.
        max: usize,
    },
    /// The msgpack side failed (undecodable payload, or a value msgpack cannot hold).
    #[error("payload: {0}")]
    Payload(PayloadError),
}

/// Everything that can go wrong when starting or running the web gateway.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backplane side failed (no backplane, bad address, ZeroMQ error).
    #[error(transparent)]
    Bus(#[from] banyan_host::Error),
    /// The HTTP/WebSocket address could not be bound.
    #[error("cannot listen on {address}: {source} (is another ws-gateway running? pick --port)")]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// An `--allow` or `--allow-origin` entry cannot be parsed.
    #[error("invalid --allow entry {entry:?}: expected an address or CIDR (e.g. 192.168.1.0/24)")]
    BadAllow {
        /// The entry as given.
        entry: String,
    },
    /// Another I/O error (socket options, runtime start).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The bus's receiving task stopped because ZeroMQ failed.
    #[error("the backplane bridge stopped: {0}")]
    BridgeStopped(#[source] banyan_host::Error),
    /// The bus's receiving task panicked (a bug).
    #[error("the backplane bridge task panicked")]
    BridgePanicked,
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
