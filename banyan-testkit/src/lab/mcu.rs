//! [`RawMcu`]: a frame-level stand-in for a microcontroller, for testing the gateway itself —
//! it sends exactly the frames (or garbage bytes) a test chooses and collects what the
//! gateway sends back. Tests of MCU behaviour use the real `banyan_mcu` client instead.
//! [`FrameReader`] is its decoder on its own, for tests that watch a link's frames. [`Got`]
//! records what the real client handed out (generic over its link-event type, since the kit
//! does not depend on `banyan-mcu`).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use banyan_proto::frame::{FeedResult, Frame, FrameDecoder, encode_to_vec, max_encoded_len};

/// Largest frame body a [`RawMcu`] accepts (the gateway's own limit).
pub const RAW_MCU_MAX_FRAME: usize = 4096;

/// What an MCU client's poll handed out, owned, for assertions after the fact: a message or
/// a link event of the client's type `E` (`banyan_mcu::LinkEvent`).
#[derive(Debug, Clone, PartialEq)]
pub enum Got<E> {
    /// A message: topic (UTF-8) and msgpack payload.
    Message(String, Vec<u8>),
    /// A link event.
    Link(E),
}

impl<E: Clone> Got<E> {
    /// The messages among `got`, in order.
    pub fn messages(got: &[Self]) -> Vec<(String, Vec<u8>)> {
        got.iter()
            .filter_map(|g| match g {
                Self::Message(topic, payload) => Some((topic.clone(), payload.clone())),
                Self::Link(_) => None,
            })
            .collect()
    }

    /// The topics of the messages among `got`, in order.
    pub fn topics(got: &[Self]) -> Vec<String> {
        Self::messages(got).into_iter().map(|(t, _)| t).collect()
    }

    /// The payloads of the messages whose topic starts with `prefix`, in order.
    pub fn payloads_on(got: &[Self], prefix: &str) -> Vec<Vec<u8>> {
        Self::messages(got)
            .into_iter()
            .filter(|(t, _)| t.starts_with(prefix))
            .map(|(_, p)| p)
            .collect()
    }

    /// The link events among `got`, in order.
    pub fn links(got: &[Self]) -> Vec<E> {
        got.iter()
            .filter_map(|g| match g {
                Self::Link(event) => Some(event.clone()),
                Self::Message(..) => None,
            })
            .collect()
    }
}

/// A frame read off a link, with owned bytes for assertions. Its `Display` is a short
/// description for logs and counts: `Hello 0x1`, `Publish echo`, `Subscribe reply`,
/// `Ping 3`, `Corrupt crc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// `Hello`.
    Hello {
        /// The sender's largest frame body.
        max_frame: u16,
        /// The sender's boot nonce.
        boot_nonce: u32,
    },
    /// `Publish`.
    Publish {
        /// Topic bytes.
        topic: Vec<u8>,
        /// msgpack payload bytes.
        payload: Vec<u8>,
    },
    /// `Subscribe`.
    Subscribe {
        /// Topic bytes.
        topic: Vec<u8>,
    },
    /// `Unsubscribe`.
    Unsubscribe {
        /// Topic bytes.
        topic: Vec<u8>,
    },
    /// `Ping`.
    Ping {
        /// The sequence number.
        seq: u32,
    },
    /// `Pong`.
    Pong {
        /// The echoed sequence number.
        seq: u32,
    },
    /// `Subscribed` (the subscription is in force).
    Subscribed {
        /// Topic bytes.
        topic: Vec<u8>,
    },
    /// `Unsubscribed` (removed or refused).
    Unsubscribed {
        /// Topic bytes.
        topic: Vec<u8>,
    },
    /// `PublishAlias` on an alias the reader does not know (a known one, and every
    /// `PublishDeclare`, is handed out as [`Received::Publish`] with its topic).
    PublishAlias {
        /// The alias.
        alias: u16,
        /// msgpack bytes.
        payload: Vec<u8>,
    },
    /// `AliasUnknown` (declare this alias again).
    AliasUnknown {
        /// The alias.
        alias: u16,
    },
    /// `AliasRefused` (beyond the peer's alias table).
    AliasRefused {
        /// The alias.
        alias: u16,
    },
    /// `PublishBatch`: its `(alias, payload)` entries.
    PublishBatch {
        /// The entries, in order.
        entries: Vec<(u16, Vec<u8>)>,
    },
    /// Bytes that failed the decoder's checks (the gateway never sends these on a clean
    /// link).
    Corrupt(String),
}

impl Received {
    /// The owned copy of `frame`.
    pub fn from_frame(frame: &Frame<'_>) -> Self {
        match *frame {
            Frame::Hello {
                max_frame,
                boot_nonce,
                ..
            } => Self::Hello {
                max_frame,
                boot_nonce,
            },
            Frame::Publish { topic, payload } => Self::Publish {
                topic: topic.to_vec(),
                payload: payload.to_vec(),
            },
            Frame::Subscribe { topic } => Self::Subscribe {
                topic: topic.to_vec(),
            },
            Frame::Unsubscribe { topic } => Self::Unsubscribe {
                topic: topic.to_vec(),
            },
            Frame::Ping { seq } => Self::Ping { seq },
            Frame::Pong { seq } => Self::Pong { seq },
            Frame::Subscribed { topic } => Self::Subscribed {
                topic: topic.to_vec(),
            },
            Frame::Unsubscribed { topic } => Self::Unsubscribed {
                topic: topic.to_vec(),
            },
            Frame::PublishDeclare { topic, payload, .. } => Self::Publish {
                topic: topic.to_vec(),
                payload: payload.to_vec(),
            },
            Frame::PublishAlias { alias, payload } => Self::PublishAlias {
                alias,
                payload: payload.to_vec(),
            },
            Frame::AliasUnknown { alias } => Self::AliasUnknown { alias },
            Frame::AliasRefused { alias } => Self::AliasRefused { alias },
            Frame::PublishBatch { batch } => Self::PublishBatch {
                entries: batch.iter().map(|(a, p)| (a, p.to_vec())).collect(),
            },
        }
    }

    /// `true` for a frame that decoded (not [`Received::Corrupt`]).
    pub fn is_frame(&self) -> bool {
        !matches!(self, Self::Corrupt(_))
    }
}

impl std::fmt::Display for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = |t: &[u8]| String::from_utf8_lossy(t).into_owned();
        match self {
            Self::Hello { boot_nonce, .. } => write!(f, "Hello {boot_nonce:#x}"),
            Self::Publish { topic, .. } => write!(f, "Publish {}", text(topic)),
            Self::Subscribe { topic } => write!(f, "Subscribe {}", text(topic)),
            Self::Unsubscribe { topic } => write!(f, "Unsubscribe {}", text(topic)),
            Self::Ping { seq } => write!(f, "Ping {seq}"),
            Self::Pong { seq } => write!(f, "Pong {seq}"),
            Self::Subscribed { topic } => write!(f, "Subscribed {}", text(topic)),
            Self::Unsubscribed { topic } => write!(f, "Unsubscribed {}", text(topic)),
            Self::PublishAlias { alias, .. } => write!(f, "PublishAlias {alias}"),
            Self::AliasUnknown { alias } => write!(f, "AliasUnknown {alias}"),
            Self::AliasRefused { alias } => write!(f, "AliasRefused {alias}"),
            Self::PublishBatch { entries } => write!(f, "PublishBatch of {}", entries.len()),
            Self::Corrupt(why) => write!(f, "Corrupt {why}"),
        }
    }
}

/// Turns a byte stream (in chunks of any size) into [`Received`] frames: the decoder of
/// [`RawMcu`], for any test that watches a link's bytes.
///
/// It resolves topic aliases as an MCU would: a `PublishDeclare` binds its alias, and a
/// `PublishAlias` on a bound alias is handed out as [`Received::Publish`] with the topic (a
/// `Hello` from the peer starts a new link session with an empty table).
pub struct FrameReader {
    decoder: Box<FrameDecoder<{ max_encoded_len(RAW_MCU_MAX_FRAME) }>>,
    aliases: std::collections::HashMap<u16, Vec<u8>>,
}

impl std::fmt::Debug for FrameReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReader").finish_non_exhaustive()
    }
}

impl Default for FrameReader {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameReader {
    /// A reader at a frame boundary.
    pub fn new() -> Self {
        Self {
            decoder: Box::new(FrameDecoder::new()),
            aliases: std::collections::HashMap::new(),
        }
    }

    /// Feeds `bytes`; appends each frame (or corrupt stretch) they complete to `out`.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut impl Extend<Received>) {
        while !bytes.is_empty() {
            bytes = match self.decoder.feed(bytes) {
                FeedResult::Consumed => break,
                FeedResult::Frame { frame, remaining } => {
                    let received = match frame {
                        Frame::Hello { .. } => {
                            self.aliases.clear();
                            Received::from_frame(&frame)
                        }
                        Frame::PublishDeclare { alias, topic, .. } => {
                            self.aliases.insert(alias, topic.to_vec());
                            Received::from_frame(&frame)
                        }
                        Frame::PublishAlias { alias, payload } => match self.aliases.get(&alias) {
                            Some(topic) => Received::Publish {
                                topic: topic.clone(),
                                payload: payload.to_vec(),
                            },
                            None => Received::from_frame(&frame),
                        },
                        _ => Received::from_frame(&frame),
                    };
                    out.extend([received]);
                    remaining
                }
                FeedResult::Corrupt { kind, remaining } => {
                    out.extend([Received::Corrupt(format!("{kind}"))]);
                    remaining
                }
                FeedResult::Oversized { remaining } => {
                    out.extend([Received::Corrupt("oversized".into())]);
                    remaining
                }
            };
        }
    }

    /// The frames of `bytes` from a frame boundary (e.g. one encoded frame).
    pub fn decode_all(bytes: &[u8]) -> Vec<Received> {
        let mut out = Vec::new();
        Self::new().feed(bytes, &mut out);
        out
    }
}

/// The test's side of a gateway link (a Unix socket end).
pub struct RawMcu {
    stream: UnixStream,
    reader: FrameReader,
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
            reader: FrameReader::new(),
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
            self.reader.feed(&buf[..n], &mut self.received);
        }
        Ok(self.received.pop_front())
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
