//! `Half`: one plain ZeroMQ socket, PUB or SUB, for `BanyanBaseMulti`'s backplane rows that
//! name only a publisher port or only a subscriber port. A path proof needs both directions,
//! so these are Python Banyan's sockets as they are: connected, not proven (the first
//! messages after a connect can be lost, as with Python Banyan); libzmq's bounded queues
//! (high-water mark 1000 messages, dropping beyond) and banyan-host's size limit for a
//! received part (`Limits::default`).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use banyan_host::limits::Limits;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::{BanyanError, TICK, closed, seconds};

/// How long closing waits for unsent messages (the component's default linger).
const LINGER_MS: i32 = 2000;

fn zmq_error(error: zmq::Error) -> PyErr {
    BanyanError::new_err(error.to_string())
}

/// One PUB or SUB socket connected to `tcp://address:port`.
#[pyclass(frozen, module = "rust_banyan._native")]
pub(crate) struct Half {
    /// The socket and its context (dropped together on close).
    socket: Mutex<Option<(zmq::Socket, zmq::Context)>>,
    publisher: bool,
}

impl Half {
    fn with<T>(&self, f: impl FnOnce(&zmq::Socket) -> PyResult<T>) -> PyResult<T> {
        let guard = self.socket.lock().unwrap_or_else(PoisonError::into_inner);
        match guard.as_ref() {
            Some((socket, _)) => f(socket),
            None => Err(closed()),
        }
    }
}

#[pymethods]
impl Half {
    /// `kind` is `"pub"` or `"sub"`.
    #[new]
    fn new(kind: &str, address: &str, port: u16) -> PyResult<Self> {
        let publisher = match kind {
            "pub" => true,
            "sub" => false,
            other => {
                return Err(PyValueError::new_err(format!(
                    "kind must be 'pub' or 'sub', not {other:?}"
                )));
            }
        };
        let context = zmq::Context::new();
        let socket = context
            .socket(if publisher { zmq::PUB } else { zmq::SUB })
            .map_err(zmq_error)?;
        if publisher {
            socket.set_linger(LINGER_MS).map_err(zmq_error)?;
        } else {
            socket
                .set_maxmsgsize(Limits::default().zmq_max_message())
                .map_err(zmq_error)?;
            socket.set_linger(0).map_err(zmq_error)?;
        }
        let endpoint = format!("tcp://{address}:{port}");
        socket
            .connect(&endpoint)
            .map_err(|error| BanyanError::new_err(format!("connect {endpoint}: {error}")))?;
        Ok(Self {
            socket: Mutex::new(Some((socket, context))),
            publisher,
        })
    }

    /// Subscribes (a SUB half) to topics starting with `topic`; not proven.
    fn subscribe(&self, topic: &str) -> PyResult<()> {
        self.with(|s| s.set_subscribe(topic.as_bytes()).map_err(zmq_error))
    }

    /// Removes one subscription to `topic`.
    fn unsubscribe(&self, topic: &str) -> PyResult<()> {
        self.with(|s| s.set_unsubscribe(topic.as_bytes()).map_err(zmq_error))
    }

    /// Sends `[topic, payload]` (a PUB half); never blocks (PUB drops past its queue bound).
    fn publish(&self, topic: &str, payload: &[u8]) -> PyResult<()> {
        if !self.publisher {
            return Err(BanyanError::new_err(
                "this backplane row has no publisher port",
            ));
        }
        self.with(|s| {
            s.send(topic.as_bytes(), zmq::SNDMORE | zmq::DONTWAIT)
                .and_then(|()| s.send(payload, zmq::DONTWAIT))
                .map_err(zmq_error)
        })
    }

    /// Waits at most `timeout` seconds (GIL released, signals looked at every 100 ms) for a
    /// `[topic, payload]` message: `(topic, payload bytes)` or `None`. Messages of another
    /// shape or with a non-UTF-8 topic are skipped.
    fn recv<'py>(
        &self,
        py: Python<'py>,
        timeout: f64,
    ) -> PyResult<Option<(String, Bound<'py, PyBytes>)>> {
        if self.publisher {
            return Err(BanyanError::new_err(
                "this backplane row has no subscriber port",
            ));
        }
        let give_up = Instant::now() + seconds(timeout, "timeout")?;
        loop {
            let wait = give_up.saturating_duration_since(Instant::now()).min(TICK);
            let frames = py.detach(|| self.with(|s| receive(s, wait)))?;
            py.check_signals()?;
            match frames {
                Some((topic, payload)) => return Ok(Some((topic, PyBytes::new(py, &payload)))),
                None if Instant::now() >= give_up => return Ok(None),
                None => {}
            }
        }
    }

    /// Closes the socket; closing twice is harmless.
    fn close(&self, py: Python<'_>) {
        let taken = self
            .socket
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        py.detach(move || drop(taken));
    }
}

/// One well-formed message within `wait`, else `None`.
fn receive(socket: &zmq::Socket, wait: Duration) -> PyResult<Option<(String, Vec<u8>)>> {
    let millis = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
    match socket.poll(zmq::POLLIN, millis) {
        Ok(0) | Err(zmq::Error::EINTR) => return Ok(None),
        Ok(_) => {}
        Err(error) => return Err(zmq_error(error)),
    }
    // Part by part: a message of more parts than two is drained without keeping them.
    let mut parts: Vec<Vec<u8>> = Vec::with_capacity(2);
    loop {
        match socket.recv_bytes(zmq::DONTWAIT) {
            Ok(part) if parts.len() < 3 => parts.push(part),
            Ok(_) => {}
            Err(zmq::Error::EAGAIN | zmq::Error::EINTR) if parts.is_empty() => return Ok(None),
            Err(error) => return Err(zmq_error(error)),
        }
        if !socket.get_rcvmore().map_err(zmq_error)? {
            break;
        }
    }
    let [topic, payload]: [Vec<u8>; 2] = match parts.try_into() {
        Ok(pair) => pair,
        Err(_) => return Ok(None),
    };
    Ok(String::from_utf8(topic).ok().map(|topic| (topic, payload)))
}
