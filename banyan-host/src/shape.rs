//! The shape of a Banyan message on ZeroMQ, `[topic, payload]`: the one place that rule is
//! written. The backplane's forwarder ([`crate::backplane`]) and a component's receiving side
//! (`component/inbox.rs`) both read a message with [`recv_rest`] and judge it by its [`Shape`];
//! what each then does with a shape is its own policy (the forwarder's in
//! `backplane/policy.rs`, the component's [`Shape::receivable`]).

use crate::error::Result;

/// How many parts a message had, as the `[topic, payload]` rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// One part: a topic without payload. Not a Banyan message; the backplane forwards it
    /// anyway (a ZeroMQ forwarder moves what fits), a component drops it.
    TopicOnly,
    /// `[topic, payload]`: a Banyan message.
    TopicPayload,
    /// More than two parts (their count): not Banyan, dropped everywhere.
    TooManyParts(u64),
}

/// Why a component drops a message it read (see [`Shape::receivable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreceivable {
    /// Not exactly two parts.
    NotTopicPayload,
    /// Two parts, but the topic is not UTF-8 (a component hands topics out as `str`).
    TopicNotUtf8,
}

impl Unreceivable {
    /// The component's log line for the drop.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::NotTopicPayload => "dropping a message that is not [topic, payload]",
            Self::TopicNotUtf8 => "dropping a message whose topic is not UTF-8",
        }
    }
}

impl Shape {
    /// How many parts the message had.
    pub(crate) fn parts(self) -> u64 {
        match self {
            Self::TopicOnly => 1,
            Self::TopicPayload => 2,
            Self::TooManyParts(parts) => parts,
        }
    }

    /// What a component accepts: `[topic, payload]` with a UTF-8 topic. The topic is checked
    /// only for a message of the right shape.
    pub(crate) fn receivable(self, topic: &[u8]) -> std::result::Result<(), Unreceivable> {
        match self {
            Self::TopicPayload if std::str::from_utf8(topic).is_ok() => Ok(()),
            Self::TopicPayload => Err(Unreceivable::TopicNotUtf8),
            Self::TopicOnly | Self::TooManyParts(_) => Err(Unreceivable::NotTopicPayload),
        }
    }
}

/// Reads the rest of the message whose first part `first` was just received from `socket`: the
/// second part into `payload` and any further ones into a scratch message (counted, not kept).
/// ZeroMQ delivers the parts of a message together, so these reads never block. `payload` is
/// left untouched for a one-part message.
pub(crate) fn recv_rest(
    socket: &zmq::Socket,
    first: &zmq::Message,
    payload: &mut zmq::Message,
) -> Result<Shape> {
    if !first.get_more() {
        return Ok(Shape::TopicOnly);
    }
    socket.recv(payload, 0)?;
    if !payload.get_more() {
        return Ok(Shape::TopicPayload);
    }
    // Only a message that is not Banyan gets here.
    let mut rest = zmq::Message::new();
    let mut parts = 2u64;
    loop {
        socket.recv(&mut rest, 0)?;
        parts += 1;
        if !rest.get_more() {
            return Ok(Shape::TooManyParts(parts));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_know_their_part_count() {
        assert_eq!(Shape::TopicOnly.parts(), 1);
        assert_eq!(Shape::TopicPayload.parts(), 2);
        assert_eq!(Shape::TooManyParts(70).parts(), 70);
    }

    #[test]
    fn a_component_receives_only_topic_payload_with_a_utf8_topic() {
        assert_eq!(Shape::TopicPayload.receivable(b"motion"), Ok(()));
        assert_eq!(Shape::TopicPayload.receivable(b""), Ok(()));
        assert_eq!(
            Shape::TopicPayload.receivable(b"\xff\xfe"),
            Err(Unreceivable::TopicNotUtf8)
        );
        // The shape is judged first: a bad topic in a bad shape is a shape problem.
        for shape in [Shape::TopicOnly, Shape::TooManyParts(3)] {
            assert_eq!(shape.receivable(b"ok"), Err(Unreceivable::NotTopicPayload));
            assert_eq!(
                shape.receivable(b"\xff"),
                Err(Unreceivable::NotTopicPayload)
            );
        }
        assert_eq!(
            Unreceivable::NotTopicPayload.describe(),
            "dropping a message that is not [topic, payload]"
        );
        assert_eq!(
            Unreceivable::TopicNotUtf8.describe(),
            "dropping a message whose topic is not UTF-8"
        );
    }

    /// Over a real inproc pair: the reader counts the parts of 1-, 2- and 5-part messages and
    /// leaves the socket at the next message.
    #[test]
    fn recv_rest_counts_parts_and_drains_the_message() {
        let ctx = zmq::Context::new();
        let endpoint = format!("inproc://shape-test-{}", crate::component::nonce());
        let rx = ctx.socket(zmq::PAIR).unwrap();
        rx.bind(&endpoint).unwrap();
        let tx = ctx.socket(zmq::PAIR).unwrap();
        tx.connect(&endpoint).unwrap();
        tx.send("alone", 0).unwrap();
        tx.send_multipart(["t", "p"], 0).unwrap();
        tx.send_multipart(["a", "b", "c", "d", "e"], 0).unwrap();
        tx.send_multipart(["after", "x"], 0).unwrap();
        let mut payload = zmq::Message::new();
        let mut read = || {
            let mut first = zmq::Message::new();
            rx.recv(&mut first, 0).unwrap();
            let shape = recv_rest(&rx, &first, &mut payload).unwrap();
            (first.to_vec(), shape, payload.to_vec())
        };
        assert_eq!(read().1, Shape::TopicOnly);
        assert_eq!(read(), (b"t".to_vec(), Shape::TopicPayload, b"p".to_vec()));
        assert_eq!(read().1, Shape::TooManyParts(5));
        assert_eq!(
            read(),
            (b"after".to_vec(), Shape::TopicPayload, b"x".to_vec())
        );
    }
}
