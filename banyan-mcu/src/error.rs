//! [`ClientError`]: why an echo run stopped.

use core::fmt;

use banyan_proto::frame::FrameError;
use banyan_proto::payload::PayloadError;
use embedded_io::ErrorKind;

/// Why [`EchoClient::run`](crate::EchoClient::run) (or its async twin) stopped before the echo
/// completed. Small and `Copy`: the transport's own error is reduced to its
/// [`embedded_io::ErrorKind`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ClientError {
    /// The transport failed (any error kind other than the `TimedOut`/`Interrupted` that mean
    /// "no data yet", see the [transport contract](crate#transport-contract)).
    Transport(ErrorKind),
    /// The transport reached end of file (`read` returned 0): the peer closed the link.
    Closed,
    /// A frame could not be encoded; with the default buffers this means a topic in
    /// [`EchoConfig`](crate::EchoConfig) is longer than [`MAX_TOPIC_LEN`](crate::MAX_TOPIC_LEN).
    Encode(FrameError),
    /// The echo payload could not be encoded (the number key is longer than
    /// [`MAX_KEY_LEN`](crate::MAX_KEY_LEN)).
    Payload(PayloadError),
    /// No progress after [`EchoConfig::max_retries`](crate::EchoConfig::max_retries)
    /// consecutive timeouts.
    NoReply {
        /// The message number that was waiting for its reply, or `None` when the gateway never
        /// answered the `Hello`.
        number: Option<u32>,
        /// Consecutive timeouts counted.
        timeouts: u32,
    },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Transport(kind) => write!(f, "transport error: {kind:?}"),
            ClientError::Closed => f.write_str("the link was closed by the peer"),
            ClientError::Encode(e) => write!(f, "frame encoding failed: {e}"),
            ClientError::Payload(e) => write!(f, "payload encoding failed: {e}"),
            ClientError::NoReply {
                number: Some(n),
                timeouts,
            } => write!(f, "no reply to message {n} after {timeouts} timeouts"),
            ClientError::NoReply {
                number: None,
                timeouts,
            } => write!(f, "no Hello from the gateway after {timeouts} timeouts"),
        }
    }
}

impl core::error::Error for ClientError {}

impl From<FrameError> for ClientError {
    fn from(e: FrameError) -> Self {
        ClientError::Encode(e)
    }
}

impl From<PayloadError> for ClientError {
    fn from(e: PayloadError) -> Self {
        ClientError::Payload(e)
    }
}
