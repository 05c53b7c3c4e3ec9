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
