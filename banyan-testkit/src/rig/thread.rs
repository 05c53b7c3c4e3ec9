//! [`ThreadGuard`]: a thread that is told to stop and joined when dropped — also while a
//! failing test unwinds — so no test leaves a thread running into the next one.

use std::any::Any;
use std::thread::JoinHandle;

use crate::error::{Error, Result};

/// A spawned thread plus the action that makes it stop (a `ShutdownHandle`, a flag, a closed
/// channel). [`ThreadGuard::stop`] stops and joins it and hands back its result; dropping the
/// guard does the same and discards the result.
pub struct ThreadGuard<T> {
    name: String,
    stop: Option<Box<dyn FnOnce() + Send>>,
    thread: Option<JoinHandle<T>>,
}

impl<T> std::fmt::Debug for ThreadGuard<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadGuard")
            .field("name", &self.name)
            .field("running", &self.thread.is_some())
            .finish()
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".into())
}

impl<T: Send + 'static> ThreadGuard<T> {
    /// Runs `body` on a new thread named `name`; `stop` is called once to make it return.
    pub fn spawn(
        name: impl Into<String>,
        stop: impl FnOnce() + Send + 'static,
        body: impl FnOnce() -> T + Send + 'static,
    ) -> Self {
        let name = name.into();
        let thread = std::thread::Builder::new()
            .name(name.clone())
            .spawn(body)
            .expect("the OS refused to start a thread");
        Self {
            name,
            stop: Some(Box::new(stop)),
            thread: Some(thread),
        }
    }

    /// `true` once the thread's body returned (or panicked).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops the thread, joins it and returns what its body returned; a panic in the thread
    /// becomes [`Error::ThreadPanicked`].
    pub fn stop(mut self) -> Result<T> {
        self.finish().expect("a guard is joined only once")
    }

    /// Joins without asking the thread to stop (for a body that ends by itself).
    pub fn join(mut self) -> Result<T> {
        self.stop = None;
        self.finish().expect("a guard is joined only once")
    }

    fn finish(&mut self) -> Option<Result<T>> {
        if let Some(stop) = self.stop.take() {
            stop();
        }
        let thread = self.thread.take()?;
        Some(thread.join().map_err(|panic| Error::ThreadPanicked {
            name: self.name.clone(),
            message: panic_message(panic.as_ref()),
        }))
    }
}

impl<T> Drop for ThreadGuard<T> {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
