//! The WebSocket gateway's process side, shared by `ws-gateway` (Python Banyan's
//! `ws_gateway.py` flags) and `wsgw` (s3-extend's flags): the web options, the async runtime,
//! the bus component and the server. The protocol itself is `banyan_web::session`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Context as _;
use banyan_web::allow::{AllowListener, Allowlist, OriginList};
use banyan_web::session::Timestamps;
use banyan_web::{Bus, BusConfig, StatsConfig, WebConfig};

use crate::{ComponentArgs, on_termination, print_component_banner};

/// The web side's flags (long names only, so that each binary keeps its own short flags).
#[derive(Debug, Clone, clap::Args)]
pub struct WebArgs {
    /// Address to listen on (127.0.0.1: pages on this machine only; 0.0.0.0 for other
    /// machines, best with --allow)
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: IpAddr,
    /// Accept connections only from this address or network (repeatable), e.g.
    /// 192.168.1.0/24; others are closed at once, logged and counted [default: all]
    #[arg(long = "allow", value_name = "CIDR")]
    pub allow: Vec<String>,
    /// Accept WebSockets only from pages of this origin (repeatable), e.g.
    /// `http://pi.local:8080` or `null` (`file://` pages); the monitor's own origin is always
    /// accepted [default: all]
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,
    /// Largest message accepted from a page, in bytes; larger ones get an error frame
    #[arg(long, default_value_t = banyan_web::session::DEFAULT_MAX_MESSAGE_BYTES, value_name = "BYTES")]
    pub max_message_bytes: usize,
    /// Most messages queued for one page; when it reads too slowly the oldest are dropped
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub client_queue: usize,
    /// Most KiB queued for one page
    #[arg(long, default_value_t = 4096, value_name = "KIB")]
    pub client_queue_kib: usize,
    /// Most topics the monitor tracks one by one (the rest are summed as "others")
    #[arg(long, default_value_t = 500, value_name = "N")]
    pub max_topics: usize,
    /// Monitor snapshots per second pushed to each page
    #[arg(long, default_value_t = 4.0, value_name = "HZ")]
    pub snapshot_hz: f64,
    /// Serve only the WebSocket gateway, no monitor page
    #[arg(long)]
    pub no_monitor: bool,
    /// Send `timestamp` fields unchanged (Python's gateway turns them into local time text)
    #[arg(long)]
    pub raw_timestamps: bool,
    /// Show other components' connection probes (`_banyan_probe/...`) in the monitor
    #[arg(long)]
    pub show_probes: bool,
}

/// Runs the gateway until Ctrl-C/SIGTERM: connects to the backplane as `component` says
/// (`default_name` when `-n` is absent), listens on `port` (0 = any free port) and prints
/// `PROGRAM listening on ADDR:PORT`.
pub fn run_gateway(
    program: &str,
    component: &ComponentArgs,
    default_name: &str,
    port: u16,
    args: &WebArgs,
) -> anyhow::Result<()> {
    let allow = Allowlist::parse(&args.allow)?;
    if !args.snapshot_hz.is_finite() || args.snapshot_hz <= 0.0 || args.snapshot_hz > 50.0 {
        anyhow::bail!("--snapshot-hz must be above 0 and at most 50");
    }
    let web = WebConfig {
        max_message_bytes: args.max_message_bytes.max(1),
        client_queue_messages: args.client_queue.max(1),
        client_queue_bytes: args.client_queue_kib.max(1).saturating_mul(1024),
        origins: OriginList::new(&args.allow_origin),
        snapshot_interval: Duration::from_secs_f64(1.0 / args.snapshot_hz),
        monitor: !args.no_monitor,
        ..WebConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let bus_config = BusConfig {
        component: component.config(default_name),
        timestamps: if args.raw_timestamps {
            Timestamps::Raw
        } else {
            Timestamps::Python
        },
        stats: StatsConfig {
            max_topics: args.max_topics,
            include_probes: args.show_probes,
            ..StatsConfig::default()
        },
    };
    // The bus is an async component: it connects (and proves its path) on the runtime.
    let bus = runtime.block_on(Bus::connect(bus_config))?;
    print_component_banner(
        bus.name(),
        bus.backplane_address(),
        bus.publisher_port(),
        bus.subscriber_port(),
    );
    let result = runtime.block_on(async {
        let listener = banyan_web::server::bind(SocketAddr::new(args.bind, port)).await?;
        let address = listener.local_addr()?;
        println!("{program} listening on {address}");
        println!("  WebSocket gateway: ws://{address}/  (pages send {{\"id\": \"to_NAME\"}})");
        if !args.no_monitor {
            println!("  web monitor:       http://{address}/");
        }
        if !allow.is_open() {
            println!(
                "  accepting connections only from: {}",
                args.allow.join(", ")
            );
        }
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let mut stop_tx = Some(stop_tx);
        on_termination(move || {
            if let Some(stop) = stop_tx.take() {
                let _ = stop.send(());
            }
        })?;
        banyan_web::serve(
            bus.clone(),
            AllowListener::new(listener, allow),
            web,
            async {
                let _ = stop_rx.await;
            },
        )
        .await?;
        anyhow::Ok(())
    });
    bus.stop();
    // The receiving task ends at its next wake-up; let it close its component cleanly.
    let _ = runtime.block_on(bus.stopped());
    result
}
