//! The stop socket of a blocking wait and its [`ShutdownHandle`], written once for the
//! [`Component`](crate::Component), the [`MultiComponent`](crate::MultiComponent) and the
//! backplane's ZAP handler thread: an inproc PULL socket the wait polls beside its other
//! sockets, and a cloneable handle that pushes `stop` into it from any thread.

use crate::error::Result;

/// Stops a component's blocking receive from any thread (e.g. a Ctrl-C handler).
#[derive(Clone)]
pub struct ShutdownHandle {
    ctx: zmq::Context,
    endpoint: String,
}

impl std::fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl ShutdownHandle {
    /// Makes the component's current or next blocking receive return
    /// [`Error::Shutdown`](crate::Error::Shutdown) (and
    /// [`Component::receive_loop`](crate::Component::receive_loop) return `Ok`). Harmless if
    /// the component is gone.
    pub fn shutdown(&self) -> Result<()> {
        let socket = self.ctx.socket(zmq::PUSH)?;
        socket.set_linger(100)?;
        socket.set_sndtimeo(100)?;
        socket.connect(&self.endpoint)?;
        match socket.send(&b"stop"[..], 0) {
            Ok(()) | Err(zmq::Error::EAGAIN) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

/// A new stop socket (PULL, bound in `ctx` to an inproc endpoint of its own named after
/// `owner`) and the handle that fires it. A wait polls the socket for `POLLIN`.
pub(crate) fn stop_socket(
    ctx: &zmq::Context,
    owner: &str,
) -> Result<(zmq::Socket, ShutdownHandle)> {
    let endpoint = format!("inproc://banyan-{owner}-stop-{:016x}", super::nonce());
    let socket = ctx.socket(zmq::PULL)?;
    socket.bind(&endpoint)?;
    let handle = ShutdownHandle {
        ctx: ctx.clone(),
        endpoint,
    };
    Ok((socket, handle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handle_reaches_its_socket_from_another_thread() {
        let ctx = zmq::Context::new();
        let (socket, handle) = stop_socket(&ctx, "test").unwrap();
        let other = handle.clone();
        std::thread::spawn(move || other.shutdown().unwrap())
            .join()
            .unwrap();
        assert_eq!(socket.poll(zmq::POLLIN, 10_000).unwrap(), 1);
        assert_eq!(socket.recv_bytes(0).unwrap(), b"stop");
    }

    #[test]
    fn two_stop_sockets_of_one_context_do_not_share_an_endpoint() {
        let ctx = zmq::Context::new();
        let (first, _one) = stop_socket(&ctx, "test").unwrap();
        let (_second, two) = stop_socket(&ctx, "test").unwrap();
        two.shutdown().unwrap();
        assert_eq!(first.poll(zmq::POLLIN, 100).unwrap(), 0);
    }
}
