//! `rust_banyan._native`: the Rust half of the `rust_banyan` Python package.
//!
//! `Core`: a `banyan_host::Component` (proven connect and subscribe, byte budget,
//! self-healing after a backplane restart) that Python's `BanyanBase`, `BanyanBaseAIO` and
//! `BanyanBaseMulti` (in `python/rust_banyan/`) drive. Payload bytes are made and read by the
//! real `msgpack` package in the Python half, so they are Python Banyan's bytes by
//! construction; this half moves `[topic, payload]` frames and waits. `Half` (`half.rs`):
//! one plain socket for `BanyanBaseMulti`'s one-sided backplane rows.
//!
//! # Waiting
//! Every wait runs with the GIL released (`Python::detach`) and lasts at most [`TICK`]
//! before the GIL is taken back to run Python's signal handlers (`check_signals`: Ctrl-C
//! raises `KeyboardInterrupt` within a tick) and, in [`Core::receive_loop`], the idle
//! callback at the `loop_time` cadence. A message ends the wait at once: nothing sleeps.
//!
//! # Threads
//! The component sits in a mutex. A publish from another Python thread while one thread
//! waits in `recv`/`receive_loop` does not wait for the lock: it goes through the
//! component's `Publisher` handle, whose queue the waiting component sends at once (the
//! handle's bounds and drop counts are banyan-host's, `HANDLE_QUEUE_*`).

mod half;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use banyan_host::component::PathState;
use banyan_host::{Component, ComponentConfig, Error, Message, Publisher};
use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

/// Longest time a wait keeps the GIL released before looking at signals.
const TICK: Duration = Duration::from_millis(100);

/// Longest single wait a caller may ask for (an `f64` of seconds, checked before converting).
const LONGEST_WAIT: f64 = 86_400.0;

create_exception!(
    _native,
    BanyanError,
    PyRuntimeError,
    "An error of the Rust Banyan component (a RuntimeError, as Python Banyan's errors)."
);

create_exception!(
    _native,
    ClosedError,
    BanyanError,
    "The component (or socket) is closed: clean_up was called."
);

/// The message Python Banyan gives when it finds no backplane, then what was tried.
const NO_BACKPLANE: &str = "Backplane is not running - please start it.";

fn banyan_error(error: Error) -> PyErr {
    match error {
        Error::NoBackplane { .. } => BanyanError::new_err(format!("{NO_BACKPLANE} ({error})")),
        other => BanyanError::new_err(other.to_string()),
    }
}

fn closed() -> PyErr {
    ClosedError::new_err("the component is closed (clean_up was called)")
}

/// A duration from Python seconds: finite, not negative, at most [`LONGEST_WAIT`].
fn seconds(value: f64, what: &str) -> PyResult<Duration> {
    if !(0.0..=LONGEST_WAIT).contains(&value) {
        return Err(PyValueError::new_err(format!(
            "{what} must be between 0 and {LONGEST_WAIT} seconds, not {value}"
        )));
    }
    Ok(Duration::from_secs_f64(value))
}

/// What one wait of [`Core::wait_once`] brought.
enum Waited {
    Message(Message),
    Nothing,
    Closed,
}

/// A Banyan component on one backplane, driven from Python.
#[pyclass(frozen, module = "rust_banyan._native")]
struct Core {
    component: Mutex<Option<Component>>,
    /// For publishes while another thread holds the component (see the module docs).
    handle: Publisher,
    closed: AtomicBool,
    address: String,
    /// Connected without a backplane answering: the path is proven later, by itself.
    background: bool,
}

impl Core {
    fn lock(&self) -> MutexGuard<'_, Option<Component>> {
        self.component
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// One wait of at most `wait` with the GIL released.
    fn wait_once(&self, py: Python<'_>, wait: Duration) -> PyResult<Waited> {
        let result = py.detach(|| match self.lock().as_mut() {
            None => Ok(Waited::Closed),
            Some(component) => component.recv_timeout(wait).map(|message| match message {
                Some(message) => Waited::Message(message),
                None => Waited::Nothing,
            }),
        });
        // A signal interrupts a wait early (it then reports nothing): handle it first.
        py.check_signals()?;
        result.map_err(banyan_error)
    }
}

#[pymethods]
impl Core {
    /// Connects to the backplane at `address` and proves the path. When no backplane
    /// answers within `connect_timeout` seconds: with `background` the component stays
    /// connected and proves its path by itself once one answers (Python Banyan given an
    /// address does not fail either); without, `BanyanError` (a RuntimeError).
    #[new]
    #[pyo3(signature = (name, address, publisher_port, subscriber_port, connect_timeout, background))]
    fn new(
        py: Python<'_>,
        name: String,
        address: String,
        publisher_port: u16,
        subscriber_port: u16,
        connect_timeout: f64,
        background: bool,
    ) -> PyResult<Self> {
        let config = ComponentConfig::new(name)
            .backplane(address.clone(), publisher_port, subscriber_port)
            .connect_timeout(seconds(connect_timeout, "connect_timeout")?);
        let (component, background) = py
            .detach(|| match Component::connect(config.clone()) {
                Ok(component) => Ok((component, false)),
                Err(Error::NoBackplane { .. }) if background => {
                    Component::connect_in_background(config).map(|c| (c, true))
                }
                Err(error) => Err(error),
            })
            .map_err(banyan_error)?;
        let mut component = component;
        let handle = component.publisher().map_err(banyan_error)?;
        Ok(Self {
            component: Mutex::new(Some(component)),
            handle,
            closed: AtomicBool::new(false),
            address,
            background,
        })
    }

    /// The backplane address in use.
    #[getter]
    fn address(&self) -> &str {
        &self.address
    }

    /// `True` when no backplane answered at start and the path is proven in the background.
    #[getter]
    fn started_in_background(&self) -> bool {
        self.background
    }

    /// `"proven"`, `"lost"` or `"proving"` (see banyan-host's `PathState`); `"closed"`.
    fn path_state(&self, py: Python<'_>) -> &'static str {
        py.detach(|| match self.lock().as_ref().map(Component::path_state) {
            None => "closed",
            Some(PathState::Proven) => "proven",
            Some(PathState::Lost) => "lost",
            Some(PathState::Proving) => "proving",
        })
    }

    /// The component's counters as a dict (banyan-host's `ComponentStats`).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let stats = py
            .detach(|| self.lock().as_ref().map(Component::stats))
            .ok_or_else(closed)?;
        let dict = PyDict::new(py);
        dict.set_item("pending_dropped", stats.pending_dropped)?;
        dict.set_item("malformed_dropped", stats.malformed_dropped)?;
        dict.set_item("disconnects", stats.disconnects)?;
        dict.set_item("reproofs", stats.reproofs)?;
        dict.set_item("publish_dropped", stats.publish_dropped)?;
        dict.set_item("handle_dropped", stats.handle_dropped)?;
        Ok(dict)
    }

    /// Subscribes to topics starting with `topic` and, when the path is proven, waits until
    /// the backplane applies it (a probe round trip); otherwise the background proof covers
    /// it.
    fn subscribe(&self, py: Python<'_>, topic: &str) -> PyResult<()> {
        py.detach(|| match self.lock().as_mut() {
            None => Err(closed()),
            Some(component) if component.path_state() == PathState::Proven => {
                component.subscribe(topic).map_err(banyan_error)
            }
            Some(component) => component.subscribe_unproven(topic).map_err(banyan_error),
        })
    }

    /// Removes one subscription to `topic`.
    fn unsubscribe(&self, py: Python<'_>, topic: &str) -> PyResult<()> {
        py.detach(|| match self.lock().as_mut() {
            None => Err(closed()),
            Some(component) => component.unsubscribe(topic).map_err(banyan_error),
        })
    }

    /// Publishes encoded payload bytes on `topic`, verbatim.
    fn publish(&self, topic: &str, payload: &[u8]) -> PyResult<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(closed());
        }
        // Sending never blocks (the queues are bounded and drop), so the GIL stays held.
        let sent = match self.component.try_lock() {
            Ok(guard) => match guard.as_ref() {
                Some(component) => component.publish_raw(topic.as_bytes(), payload),
                None => return Err(closed()),
            },
            Err(TryLockError::Poisoned(poisoned)) => match poisoned.into_inner().as_ref() {
                Some(component) => component.publish_raw(topic.as_bytes(), payload),
                None => return Err(closed()),
            },
            // Another thread waits in the component: its wait sends the handle's queue.
            Err(TryLockError::WouldBlock) => self.handle.publish_raw(topic.as_bytes(), payload),
        };
        sent.map_err(banyan_error)
    }

    /// Waits at most `timeout` seconds for a message: `(topic, payload bytes)`, or `None`.
    /// Raises `KeyboardInterrupt` (or what a signal handler raises) within 100 ms.
    fn recv<'py>(
        &self,
        py: Python<'py>,
        timeout: f64,
    ) -> PyResult<Option<(String, Bound<'py, PyBytes>)>> {
        let give_up = Instant::now() + seconds(timeout, "timeout")?;
        loop {
            let wait = give_up.saturating_duration_since(Instant::now()).min(TICK);
            match self.wait_once(py, wait)? {
                Waited::Message(message) => {
                    let payload = PyBytes::new(py, &message.payload);
                    return Ok(Some((message.topic, payload)));
                }
                Waited::Closed => return Err(closed()),
                Waited::Nothing if Instant::now() >= give_up => return Ok(None),
                Waited::Nothing => {}
            }
        }
    }

    /// Python Banyan's receive loop without its sleep: waits (GIL released) and hands each
    /// message to `component.incoming_message_processing(topic, unpack(payload))` as it
    /// arrives; while nothing is queued, calls `component.receive_loop_idle_addition()` (when
    /// set) every `loop_time` seconds, as Python does each time its queue is empty. Returns
    /// when the component is closed; raises what a callback or signal handler raises.
    fn receive_loop(
        &self,
        py: Python<'_>,
        component: &Bound<'_, PyAny>,
        unpack: &Bound<'_, PyAny>,
        loop_time: f64,
    ) -> PyResult<()> {
        let loop_time = seconds(loop_time, "loop_time")?;
        let process = pyo3::intern!(py, "incoming_message_processing");
        let idle = pyo3::intern!(py, "receive_loop_idle_addition");
        let mut idle_due = Instant::now() + loop_time;
        loop {
            // Without an idle callback nothing needs waking before a message or a signal.
            let addition = component.getattr(idle)?;
            let wait = if addition.is_none() {
                TICK
            } else {
                idle_due.saturating_duration_since(Instant::now()).min(TICK)
            };
            match self.wait_once(py, wait)? {
                Waited::Message(message) => {
                    let payload = unpack.call1((PyBytes::new(py, &message.payload),))?;
                    component.call_method1(process, (message.topic, payload))?;
                }
                Waited::Closed => return Ok(()),
                Waited::Nothing => {
                    let now = Instant::now();
                    if now >= idle_due {
                        idle_due = now + loop_time;
                        if !addition.is_none() {
                            addition.call0()?;
                        }
                    }
                }
            }
        }
    }

    /// Closes the component (sends what is queued, for at most the linger of 2 s).
    /// Closing twice is harmless.
    fn close(&self, py: Python<'_>) {
        self.closed.store(true, Ordering::Release);
        let component = py.detach(|| self.lock().take());
        py.detach(move || drop(component));
    }
}

/// The module `rust_banyan._native`.
#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Core>()?;
    module.add_class::<half::Half>()?;
    module.add("BanyanError", module.py().get_type::<BanyanError>())?;
    module.add("ClosedError", module.py().get_type::<ClosedError>())?;
    Ok(())
}
