//! In-process host fixtures: a loopback backplane, component configurations, an echo server
//! thread and a gateway thread on offered links — each stopped and joined on drop.

use banyan_gateways::serial::{Gateway, GatewayStats};
use banyan_host::echo::{self, ECHO_TOPIC};
use banyan_host::{Backplane, BackplaneConfig, ComponentConfig};

use crate::link::{LinkOffers, offered_links};
use crate::thread::ThreadGuard;

/// A backplane bound to 127.0.0.1 on OS-chosen ports.
///
/// # Panics
/// When it cannot bind (a test setup failure).
pub fn backplane() -> Backplane {
    Backplane::bind(&BackplaneConfig::ephemeral_loopback()).expect("bind a loopback backplane")
}

/// A backplane bound to 127.0.0.1 on OS-chosen ports with `limits` and `access` (the
/// backplane's own tests).
///
/// # Panics
/// When it cannot bind (a test setup failure).
pub fn limited_backplane(
    limits: banyan_host::limits::Limits,
    access: banyan_host::access::AccessControl,
) -> Backplane {
    Backplane::bind(&BackplaneConfig {
        limits,
        access,
        ..BackplaneConfig::ephemeral_loopback()
    })
    .expect("bind a loopback backplane")
}

/// A SUB socket subscribed to everything that will read nothing and buffers almost nothing
/// (one message, a 4 KiB kernel buffer): a stalled subscriber. Not connected yet, so that a
/// monitor can be set first.
///
/// # Panics
/// When a socket option is refused (a test setup failure).
pub fn frozen_subscriber(ctx: &zmq::Context) -> zmq::Socket {
    let socket = ctx.socket(zmq::SUB).expect("a SUB socket");
    socket.set_rcvhwm(1).expect("receive HWM");
    socket.set_rcvbuf(4096).expect("receive buffer");
    socket.set_linger(0).expect("linger");
    socket.set_subscribe(b"").expect("subscribe to everything");
    socket
}

/// A raw PUB socket (no send HWM, linger 0) connected to a forwarder's `publisher_port` on
/// 127.0.0.1 whose path is proven: `sync` probes are sent until a subscriber of them on
/// `subscriber_port` (gone since) received one, for up to [`crate::WAIT`].
///
/// # Panics
/// When a socket call fails or no probe came through (a test failure naming what).
pub fn proven_publisher(
    ctx: &zmq::Context,
    publisher_port: u16,
    subscriber_port: u16,
) -> zmq::Socket {
    let publisher = ctx.socket(zmq::PUB).expect("a PUB socket");
    publisher.set_sndhwm(0).expect("send HWM");
    publisher.set_linger(0).expect("linger");
    publisher
        .connect(&format!("tcp://127.0.0.1:{publisher_port}"))
        .expect("connect the publisher");
    let watch = ctx.socket(zmq::SUB).expect("a SUB socket");
    watch.set_linger(0).expect("linger");
    watch.set_subscribe(b"sync").expect("subscribe");
    watch
        .connect(&format!("tcp://127.0.0.1:{subscriber_port}"))
        .expect("connect the watch");
    let deadline = std::time::Instant::now() + crate::WAIT;
    crate::wait_until(deadline, "a sync probe through the forwarder", || {
        publisher
            .send_multipart([&b"sync"[..], b"\x80"], 0)
            .expect("send a probe");
        watch.poll(zmq::POLLIN, 20).expect("poll the watch") > 0
    })
    .unwrap_or_else(|error| panic!("{error}"));
    publisher
}

/// Stops `backplane` and binds a new one on the same address and ports, as a restarted
/// backplane service does (retrying for up to [`PROOF_TIMEOUT`] while the ports are not free
/// yet).
///
/// # Panics
/// When the ports stay taken or another error occurs.
pub fn restart_backplane(backplane: Backplane) -> Backplane {
    let config = BackplaneConfig {
        bind: backplane.address().to_owned(),
        publisher_port: backplane.publisher_port(),
        subscriber_port: backplane.subscriber_port(),
        ..BackplaneConfig::ephemeral_loopback()
    };
    backplane.shutdown().expect("stop backplane");
    let give_up = std::time::Instant::now() + PROOF_TIMEOUT;
    let rebound =
        crate::wait::try_wait_for(
            give_up,
            "the backplane's ports free",
            || match Backplane::bind(&config) {
                Ok(backplane) => Ok(Some(backplane)),
                Err(banyan_host::Error::PortInUse { .. }) => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    Ok(None)
                }
                Err(error) => Err(error),
            },
        );
    rebound.unwrap_or_else(|error| panic!("rebind backplane: {error}"))
}

/// How long a test component waits for its connection and subscription proofs: generous,
/// because a loaded CI machine can hold a proof behind a flood for seconds (the library's
/// default of 2 s is for interactive use).
pub const PROOF_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A configuration for component `name` on `backplane`, with [`PROOF_TIMEOUT`].
pub fn config(backplane: &Backplane, name: &str) -> ComponentConfig {
    ComponentConfig::new(name)
        .backplane(
            backplane.address(),
            backplane.publisher_port(),
            backplane.subscriber_port(),
        )
        .connect_timeout(PROOF_TIMEOUT)
}

/// The seed's echo server ([`banyan_host::echo::serve`]) on its own thread; stopped and
/// joined on drop.
#[derive(Debug)]
pub struct EchoServer(ThreadGuard<banyan_host::Result<Vec<i64>>>);

impl EchoServer {
    /// Connects a server to `backplane` (its subscription proven) and starts serving.
    ///
    /// # Panics
    /// When it cannot connect.
    pub fn start(backplane: &Backplane) -> Self {
        let mut server = config(backplane, "EchoServer")
            .subscribe(ECHO_TOPIC)
            .connect()
            .expect("connect the echo server");
        let stop = server.shutdown_handle();
        Self(ThreadGuard::spawn(
            "echo server",
            move || {
                let _ = stop.shutdown();
            },
            move || {
                let mut seen = Vec::new();
                echo::serve(&mut server, |number| seen.push(number))?;
                Ok(seen)
            },
        ))
    }

    /// Stops the server and returns the message numbers it served, in order.
    ///
    /// # Panics
    /// When the server failed or panicked.
    pub fn stop(self) -> Vec<i64> {
        self.0
            .stop()
            .expect("echo server thread")
            .expect("echo server result")
    }
}

/// A [`Gateway`] on its own thread whose links the test offers; stopped and joined on drop.
#[derive(Debug)]
pub struct GatewayThread {
    offers: LinkOffers,
    thread: ThreadGuard<banyan_host::Result<GatewayStats>>,
}

impl GatewayThread {
    /// Connects a gateway component to `backplane` and runs the gateway.
    ///
    /// # Panics
    /// When it cannot connect.
    pub fn start(backplane: &Backplane) -> Self {
        Self::with_config(config(backplane, "Gateway"))
    }

    /// A gateway whose component is connected with `config` (e.g. another timeout).
    ///
    /// # Panics
    /// When it cannot connect.
    pub fn with_config(config: ComponentConfig) -> Self {
        let component = config.connect().expect("connect the gateway");
        let (offers, connector) = offered_links("test link");
        let gateway = Gateway::new(component, connector);
        let stop = gateway.shutdown_handle();
        let thread = ThreadGuard::spawn(
            "gateway",
            move || {
                let _ = stop.shutdown();
            },
            move || gateway.run(),
        );
        Self { offers, thread }
    }

    /// Offers links to the gateway.
    pub fn offers(&self) -> &LinkOffers {
        &self.offers
    }

    /// Offers a fresh Unix socket pair and returns the MCU's end.
    ///
    /// # Panics
    /// When the gateway is gone.
    pub fn link(&self) -> std::os::unix::net::UnixStream {
        self.offers.offer_pair().expect("the gateway takes links")
    }

    /// Stops the gateway and returns its counters.
    ///
    /// # Panics
    /// When the gateway failed or panicked.
    pub fn stop(self) -> GatewayStats {
        self.thread
            .stop()
            .expect("gateway thread")
            .expect("gateway result")
    }
}

/// How long [`replies_until`] waits for the next reply before it calls the client stalled.
pub const REPLY_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The blocking echo client counting down from `count` on a thread of its own (re-sending
/// after 300 ms, giving up after [`REPLY_WAIT`]); each counted reply is sent over the channel
/// as it comes. The thread hands back the run's result and the component.
#[allow(clippy::type_complexity)]
pub fn spawn_echo_client(
    mut client: banyan_host::Component,
    count: u32,
) -> (
    std::sync::mpsc::Receiver<i64>,
    std::thread::JoinHandle<(echo::Result<echo::EchoReport>, banyan_host::Component)>,
) {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let options = echo::ClientOptions {
            count,
            resend_after: std::time::Duration::from_millis(300),
            give_up_after: REPLY_WAIT,
        };
        let result = echo::run_client_with(&mut client, &options, |n| {
            let _ = tx.send(n);
        });
        (result, client)
    });
    (rx, thread)
}

/// The replies from `rx` until `until` (inclusive) was seen; panics when none comes within
/// [`REPLY_WAIT`].
pub fn replies_until(rx: &std::sync::mpsc::Receiver<i64>, until: i64) -> Vec<i64> {
    let mut seen = Vec::new();
    loop {
        let n = rx.recv_timeout(REPLY_WAIT).expect("echo client stalled");
        seen.push(n);
        if n <= until {
            return seen;
        }
    }
}
