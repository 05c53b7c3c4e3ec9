//! [`Message`] and [`MessageRef`]: a received `[topic, payload]`, owned or borrowed.

use banyan_proto::payload::{self, Value};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::Result;

/// A received message: a UTF-8 topic and the msgpack payload bytes as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The topic (first frame).
    pub topic: String,
    /// The msgpack payload (second frame), undecoded.
    pub payload: Vec<u8>,
}

impl Message {
    /// This message, borrowed.
    pub fn as_ref(&self) -> MessageRef<'_> {
        MessageRef {
            topic: &self.topic,
            payload: &self.payload,
        }
    }

    /// Decodes the payload into a typed value.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        Ok(payload::from_slice(&self.payload)?)
    }

    /// Decodes the payload into a dynamic [`Value`].
    pub fn value(&self) -> Result<Value> {
        Ok(payload::from_slice(&self.payload)?)
    }
}

/// A received message, borrowed from the component until the next receive
/// ([`Component::recv_ref`](super::Component::recv_ref)): no copy, no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageRef<'a> {
    /// The topic (first frame), UTF-8.
    pub topic: &'a str,
    /// The msgpack payload (second frame), undecoded.
    pub payload: &'a [u8],
}

impl<'a> MessageRef<'a> {
    /// Decodes the payload into a typed value (which may borrow from the payload).
    pub fn decode<T: Deserialize<'a>>(&self) -> Result<T> {
        Ok(payload::from_slice(self.payload)?)
    }

    /// Decodes the payload into a dynamic [`Value`].
    pub fn value(&self) -> Result<Value> {
        Ok(payload::from_slice(self.payload)?)
    }

    /// An owned copy.
    pub fn to_owned(&self) -> Message {
        Message {
            topic: self.topic.to_owned(),
            payload: self.payload.to_vec(),
        }
    }
}
