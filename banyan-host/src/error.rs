//! Errors of the host crate.
//!
//! Messages say what failed, in the library's terms; which command-line flag to change is the
//! binaries' business (`banyan_cli::flag_hint`).

use std::time::Duration;

/// Everything that can go wrong in `banyan-host`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A port the backplane wanted is taken.
    #[error("port {port} on {address} is already in use: another backplane is probably running")]
    PortInUse {
        /// Address the bind was attempted on.
        address: String,
        /// The busy port.
        port: u16,
    },
    /// The address cannot be bound (not an address of this machine, malformed, ...).
    #[error("cannot bind {endpoint}: {reason}")]
    Bind {
        /// The ZeroMQ endpoint, e.g. `tcp://10.0.0.5:43124`.
        endpoint: String,
        /// What ZeroMQ said.
        reason: zmq::Error,
    },
    /// The backplane address cannot be used (malformed, unresolvable, ...).
    #[error("cannot connect to {endpoint}: {reason}")]
    Connect {
        /// The ZeroMQ endpoint, e.g. `tcp://10.0.0.5:43124`.
        endpoint: String,
        /// What ZeroMQ said.
        reason: zmq::Error,
    },
    /// The backplane did not answer the connection probe in time.
    #[error(
        "no backplane reachable at {address}:{publisher_port}/{subscriber_port} after {waited:?}: \
         no connection probe came back"
    )]
    NoBackplane {
        /// Address the component tried.
        address: String,
        /// Port the component publishes to.
        publisher_port: u16,
        /// Port the component subscribes on.
        subscriber_port: u16,
        /// How long it waited.
        waited: Duration,
    },
    /// A multi-backplane component was given two backplanes of the same name.
    #[error("backplane name {name:?} is used twice (names must be unique)")]
    DuplicateBackplane {
        /// The repeated name.
        name: String,
    },
    /// A multi-backplane component has no backplane of this name.
    #[error("no backplane named {name:?} in this component")]
    UnknownBackplane {
        /// The name asked for.
        name: String,
    },
    /// A `--allow` network is not an address or CIDR network.
    #[error("`{text}` is not an IP address or CIDR network (e.g. 192.168.1.0/24)")]
    Network {
        /// What was given.
        text: String,
    },
    /// A line of a PLAIN credentials file is not `user:password`.
    #[error("credentials file line {line}: expected `user:password`")]
    CredentialsLine {
        /// 1-based line number.
        line: usize,
    },
    /// ZeroMQ reported a bound endpoint this crate cannot read a port from.
    #[error("zeromq reported an unexpected endpoint `{endpoint}`")]
    Endpoint {
        /// The endpoint as reported (lossily decoded).
        endpoint: String,
    },
    /// A thread of this crate panicked (a bug); its work stopped.
    #[error("the {thread} thread panicked")]
    ThreadPanicked {
        /// The thread's name.
        thread: &'static str,
    },
    /// A message (topic plus payload) is larger than the configured limit
    /// ([`Limits::max_message`](crate::Limits::max_message); a backplane would drop it).
    #[error("message of {size} bytes (topic and payload) exceeds the limit of {limit} bytes")]
    MessageTooLarge {
        /// Size of the message: topic plus payload.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A ZeroMQ call failed.
    #[error("zeromq: {0}")]
    Zmq(#[from] zmq::Error),
    /// A payload could not be encoded or decoded.
    #[error("payload: {0}")]
    Payload(#[from] banyan_proto::payload::PayloadError),
    /// The operation was interrupted by a shutdown request.
    #[error("shut down")]
    Shutdown,
    /// An I/O error (serial device, TCP stream, ...).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
