//! libzmq socket monitor events (`zmq_socket_monitor`), read the same way by the backplane's
//! byte budget and a component's health and send budget.

use crate::error::Result;

/// `ZMQ_EVENT_CONNECTED` (its value is the connection's descriptor).
pub(crate) const EVENT_CONNECTED: u16 = 0x0001;
/// `ZMQ_EVENT_ACCEPTED` (its value is the accepted connection's descriptor).
pub(crate) const EVENT_ACCEPTED: u16 = 0x0020;
/// `ZMQ_EVENT_DISCONNECTED` (its value is the connection's descriptor).
pub(crate) const EVENT_DISCONNECTED: u16 = 0x0200;
/// `ZMQ_EVENT_HANDSHAKE_SUCCEEDED`.
pub(crate) const EVENT_HANDSHAKE_SUCCEEDED: u16 = 0x1000;

/// One event of a socket monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MonitorEvent {
    /// `ZMQ_EVENT_*`.
    pub code: u16,
    /// The event's value: the connection's descriptor for `CONNECTED`, `ACCEPTED` and
    /// `DISCONNECTED`.
    pub value: u32,
    /// The endpoint it concerns.
    pub endpoint: String,
}

/// Reads one event from a monitor socket without waiting; `None` when there is none.
pub(crate) fn read_event(monitor: &zmq::Socket) -> Result<Option<MonitorEvent>> {
    let mut head = zmq::Message::new();
    match monitor.recv(&mut head, zmq::DONTWAIT) {
        Ok(()) => {}
        Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => return Ok(None),
        Err(error) => return Err(error.into()),
    }
    // An event is [u16 event + u32 value (native endian), endpoint].
    let mut rest = zmq::Message::new();
    let mut more = head.get_more();
    while more {
        monitor.recv(&mut rest, 0)?;
        more = rest.get_more();
    }
    let (code, value) = match head.get(..6) {
        Some(b) => (
            u16::from_ne_bytes([b[0], b[1]]),
            u32::from_ne_bytes([b[2], b[3], b[4], b[5]]),
        ),
        None => (0, 0),
    };
    Ok(Some(MonitorEvent {
        code,
        value,
        endpoint: String::from_utf8_lossy(&rest).into_owned(),
    }))
}
