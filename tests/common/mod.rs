//! Shared fixtures: a backplane on loopback with ephemeral ports and an echo server thread.

#![allow(dead_code)]

use std::thread::JoinHandle;

use banyan_host::echo::{self, ECHO_TOPIC};
use banyan_host::{Backplane, BackplaneConfig, ComponentConfig, Result, ShutdownHandle};

/// A backplane bound to 127.0.0.1 on OS-chosen ports.
pub fn backplane() -> Backplane {
    Backplane::bind(&BackplaneConfig::ephemeral_loopback()).expect("bind backplane")
}

/// A component configuration pointing at `backplane`.
pub fn config(backplane: &Backplane, name: &str) -> ComponentConfig {
    ComponentConfig::new(name).backplane(
        backplane.address(),
        backplane.publisher_port(),
        backplane.subscriber_port(),
    )
}

/// An echo server running on its own thread; stopped (and joined) on drop.
pub struct EchoServer {
    stop: ShutdownHandle,
    thread: Option<JoinHandle<Result<Vec<i64>>>>,
}

impl EchoServer {
    /// Connects an echo server to `backplane` and starts serving.
    pub fn start(backplane: &Backplane) -> Self {
        let mut server = config(backplane, "EchoServer")
            .subscribe(ECHO_TOPIC)
            .connect()
            .expect("connect echo server");
        let stop = server.shutdown_handle();
        let thread = std::thread::spawn(move || {
            let mut seen = Vec::new();
            echo::serve(&mut server, |number| seen.push(number))?;
            Ok(seen)
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the server and returns the message numbers it served.
    pub fn stop(mut self) -> Vec<i64> {
        self.finish()
    }

    fn finish(&mut self) -> Vec<i64> {
        self.stop.shutdown().expect("stop echo server");
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .expect("server thread")
                .expect("server result"),
            None => Vec::new(),
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop.shutdown();
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }
}
