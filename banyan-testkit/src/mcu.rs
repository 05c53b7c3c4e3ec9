//! [`RawMcu`]: a frame-level stand-in for a microcontroller, for testing the gateway itself —
//! it sends exactly the frames (or garbage bytes) a test chooses and collects what the
//! gateway sends back. Tests of MCU behaviour use the real `banyan_mcu` client instead.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use banyan_proto::frame::{FeedResult, Frame, FrameDecoder, encode_to_vec, max_encoded_len};

/// Largest frame body a [`RawMcu`] accepts (the gateway's own limit).
pub const RAW_MCU_MAX_FRAME: usize = 4096;

/// A frame received from the gateway, with owned bytes for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// `Hello` (its announced `max_frame`).
    Hello {
        /// The gateway's largest frame body.
        max_frame: u16,
    },
    /// `Publish`.
    Publish {
        /// Topic bytes.
        topic: Vec<u8>,
        /// msgpack payload bytes.
        payload: Vec<u8>,
    },
    /// `Pong`.
    Pong {
        /// The echoed sequence number.
        seq: u32,
    },
    /// Any other frame, as its `Debug` text.
    Other(String),
    /// Bytes that failed the decoder's checks (the gateway never sends these on a clean
    /// link).
    Corrupt(String),
}

/// The test's side of a gateway link (a Unix socket end).
pub struct RawMcu {
    stream: UnixStream,
    decoder: Box<FrameDecoder<{ max_encoded_len(RAW_MCU_MAX_FRAME) }>>,
    received: VecDeque<Received>,
}

impl std::fmt::Debug for RawMcu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawMcu")
            .field("queued", &self.received.len())
            .finish()
    }
}

impl RawMcu {
    /// Speaks over `stream`.
    pub fn new(stream: UnixStream) -> Self {
        Self {
            stream,
            decoder: Box::new(FrameDecoder::new()),
            received: VecDeque::new(),
        }
    }

    /// Sends one frame.
    pub fn send(&mut self, frame: &Frame<'_>) -> io::Result<()> {
        let bytes = encode_to_vec(frame)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{e:?}")))?;
        self.stream.write_all(&bytes)
    }

    /// Sends raw bytes (garbage, partial frames).
    pub fn send_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// The next frame from the gateway, or `None` after `timeout` or at end of file.
    pub fn recv(&mut self, timeout: Duration) -> io::Result<Option<Received>> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 1024];
        while self.received.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(left))?;
            let n = match self.stream.read(&mut buf) {
                Ok(0) => return Ok(None),
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.decode(&buf[..n]);
        }
        Ok(self.received.pop_front())
    }

    fn decode(&mut self, mut window: &[u8]) {
        while !window.is_empty() {
            window = match self.decoder.feed(window) {
                FeedResult::Consumed => break,
                FeedResult::Frame { frame, remaining } => {
                    self.received.push_back(match frame {
                        Frame::Hello { max_frame, .. } => Received::Hello { max_frame },
                        Frame::Publish { topic, payload } => Received::Publish {
                            topic: topic.to_vec(),
                            payload: payload.to_vec(),
                        },
                        Frame::Pong { seq } => Received::Pong { seq },
                        other => Received::Other(format!("{other:?}")),
                    });
                    remaining
                }
                FeedResult::Corrupt { kind, remaining } => {
                    self.received
                        .push_back(Received::Corrupt(format!("{kind}")));
                    remaining
                }
                FeedResult::Oversized { remaining } => {
                    self.received
                        .push_back(Received::Corrupt("oversized".into()));
                    remaining
                }
            };
        }
    }

    /// Skips frames until one satisfies `wanted`, for up to `timeout`; `None` if none came.
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        wanted: impl Fn(&Received) -> bool,
    ) -> io::Result<Option<Received>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left)? {
                Some(frame) if wanted(&frame) => return Ok(Some(frame)),
                Some(_) => {}
                None => return Ok(None),
            }
        }
    }

    /// The payload of the next `Publish` on `topic` within `timeout`.
    pub fn wait_publish(&mut self, topic: &[u8], timeout: Duration) -> io::Result<Option<Vec<u8>>> {
        let found = self.wait_for(
            timeout,
            |f| matches!(f, Received::Publish { topic: t, .. } if t == topic),
        )?;
        Ok(found.and_then(|f| match f {
            Received::Publish { payload, .. } => Some(payload),
            _ => None,
        }))
    }

    /// Every frame received within `quiet` (until a gap of `quiet` with nothing).
    pub fn drain(&mut self, quiet: Duration) -> io::Result<Vec<Received>> {
        let mut all = Vec::new();
        while let Some(frame) = self.recv(quiet)? {
            all.push(frame);
        }
        Ok(all)
    }
}
