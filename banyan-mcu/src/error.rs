//! [`ClientError`]: why a client call failed.

use core::fmt;

use banyan_proto::frame::FrameError;
use banyan_proto::payload::PayloadError;
use embedded_io::ErrorKind;

/// Why a [`Client`](crate::Client) call or an [`EchoClient`](crate::EchoClient) run failed.
/// Small and `Copy`: the transport's own error is reduced to its [`embedded_io::ErrorKind`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ClientError {
    /// The transport failed (any error kind other than the `TimedOut`/`Interrupted` that mean
    /// "no data yet", see the [transport contract](crate#transport-contract)).
    Transport(ErrorKind),
    /// The transport reached end of file (`read` returned 0): the peer closed the link.
    Closed,
    /// A control frame could not be encoded: the transmit buffer is smaller than
    /// [`control_buf_len`](crate::control_buf_len) of the topic length.
    Encode(FrameError),
    /// A payload could not be encoded (not a map, or larger than the client's buffer).
    Payload(PayloadError),
    /// A topic is longer than the client's `L` bytes.
    TopicTooLong,
    /// The client already holds its `N` topics.
    TooManyTopics,
    /// `unsubscribe` of a topic that is not subscribed.
    NotSubscribed,
    /// A publish frame is larger than the client's transmit buffer or the gateway's limit.
    TooLarge,
    /// Echo only: no progress after
    /// [`EchoConfig::max_retries`](crate::EchoConfig::max_retries) consecutive timeouts.
    NoReply {
        /// The message number that was waiting for its reply, or `None` when the link never
        /// came up (no gateway answered).
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
            ClientError::TopicTooLong => f.write_str("topic longer than the client allows"),
            ClientError::TooManyTopics => f.write_str("the client holds its maximum of topics"),
            ClientError::NotSubscribed => f.write_str("topic is not subscribed"),
            ClientError::TooLarge => {
                f.write_str("message larger than the client's buffer or the gateway's limit")
            }
            ClientError::NoReply {
                number: Some(n),
                timeouts,
            } => write!(f, "no reply to message {n} after {timeouts} timeouts"),
            ClientError::NoReply {
                number: None,
                timeouts,
            } => write!(f, "no gateway answered after {timeouts} timeouts"),
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
