//! What banyan-host's integration tests share: an in-process backplane on loopback and
//! component configurations pointed at it.

use std::time::Duration;

use banyan_host::access::AccessControl;
use banyan_host::limits::Limits;
use banyan_host::{Backplane, BackplaneConfig, ComponentConfig};

/// How long a test waits for anything (connections, proofs, messages) before failing.
pub const WAIT: Duration = Duration::from_secs(30);

/// A backplane on 127.0.0.1 with OS-chosen ports.
pub fn backplane(limits: Limits, access: AccessControl) -> Backplane {
    Backplane::bind(&BackplaneConfig {
        limits,
        access,
        ..BackplaneConfig::ephemeral_loopback()
    })
    .expect("backplane binds")
}

/// A component configuration for `backplane`, waiting [`WAIT`] for its proof.
pub fn component(backplane: &Backplane, name: &str) -> ComponentConfig {
    ComponentConfig::new(name)
        .backplane(
            "127.0.0.1",
            backplane.publisher_port(),
            backplane.subscriber_port(),
        )
        .connect_timeout(WAIT)
}

/// A SUB socket subscribed to everything that will read nothing and buffers almost nothing
/// (one message, a 4 KiB kernel buffer): a stalled subscriber. Not connected yet, so that a
/// monitor can be set first.
pub fn frozen_subscriber(ctx: &zmq::Context) -> zmq::Socket {
    let socket = ctx.socket(zmq::SUB).unwrap();
    socket.set_rcvhwm(1).unwrap();
    socket.set_rcvbuf(4096).unwrap();
    socket.set_linger(0).unwrap();
    socket.set_subscribe(b"").unwrap();
    socket
}
