//! `backplane`: the Rust Banyan backplane, flag-compatible with Python Banyan's.

use std::process::ExitCode;
use std::sync::mpsc;

use anyhow::Context as _;
use banyan_cli::{LimitArgs, on_termination, run_main};
use banyan_host::access::{AccessControl, IpNet, PlainCredentials};
use banyan_host::backplane::subscriptions::{
    DEFAULT_MAX_SUBSCRIPTION_BYTES, DEFAULT_MAX_SUBSCRIPTIONS, SubscriptionLimits,
};
use banyan_host::backplane::{Backplane, BackplaneConfig};
use banyan_host::net::{DEFAULT_PUBLISHER_PORT, DEFAULT_SUBSCRIBER_PORT, outward_ipv4};
use clap::Parser;

/// Rust Banyan backplane: forwards every message published to the publisher port to the
/// components subscribed on the subscriber port.
#[derive(Debug, Parser)]
#[command(name = "backplane", version)]
struct Args {
    /// Name of this backplane (shown in the banner)
    #[arg(short = 'n', default_value = "")]
    name: String,
    /// Publisher port: components publish to it (0 = pick a free port)
    #[arg(short = 'p', default_value_t = DEFAULT_PUBLISHER_PORT)]
    publisher_port: u16,
    /// Subscriber port: components subscribe on it (0 = pick a free port)
    #[arg(short = 's', default_value_t = DEFAULT_SUBSCRIBER_PORT)]
    subscriber_port: u16,
    /// Event loop time in seconds (accepted for Python compatibility; the forwarder blocks)
    #[arg(short = 't', default_value_t = 0.001)]
    loop_time: f64,
    /// Address to listen on (all IPv4 interfaces by default, so both loopback and
    /// Python components, which use the machine's outward address, can connect)
    #[arg(long, default_value = "0.0.0.0")]
    bind: String,
    #[command(flatten)]
    limits: LimitArgs,
    /// Close a subscriber's connection (freeing its queue) when it answers none of the
    /// backplane's heartbeats for this many seconds: a frozen or stalled subscriber. 0 = never
    #[arg(long = "stall-timeout", value_name = "SECS", default_value_t = 30)]
    stall_timeout: u64,
    /// Topics one subscriber connection may hold; past it the connection is closed (and
    /// logged), its subscriptions freed. 0 = no limit
    #[arg(long = "max-subscriptions", value_name = "N",
          default_value_t = DEFAULT_MAX_SUBSCRIPTIONS as u64)]
    max_subscriptions: u64,
    /// Bytes of topics one subscriber connection may hold, in KiB; past it the connection is
    /// closed as for --max-subscriptions. 0 = no limit
    #[arg(long = "max-subscription-kib", value_name = "KIB",
          default_value_t = (DEFAULT_MAX_SUBSCRIPTION_BYTES / 1024) as u64)]
    max_subscription_kib: u64,
    /// Accept connections only from this network (CIDR, e.g. 192.168.1.0/24, or one address;
    /// repeatable). Others are refused at the handshake and logged. Default: everyone
    #[arg(long = "allow", value_name = "CIDR", value_parser = parse_network)]
    allow: Vec<IpNet>,
    /// Require PLAIN credentials: this user name (Rust components only; NOT encryption)
    #[arg(long = "plain-user", value_name = "USER", requires = "plain_password")]
    plain_user: Option<String>,
    /// Password for --plain-user (clear text on the wire)
    #[arg(
        long = "plain-password",
        value_name = "PASSWORD",
        env = "BANYAN_PLAIN_PASSWORD",
        hide_env_values = true
    )]
    plain_password: Option<String>,
    /// Require PLAIN credentials: one `user:password` per line (Rust components only; NOT
    /// encryption)
    #[arg(long = "plain-credentials", value_name = "FILE")]
    plain_credentials: Option<std::path::PathBuf>,
}

fn parse_network(text: &str) -> Result<IpNet, String> {
    AccessControl::parse_network(text).map_err(|error| error.to_string())
}

impl Args {
    fn access(&self) -> anyhow::Result<AccessControl> {
        let mut plain = Vec::new();
        if let (Some(user), Some(password)) = (&self.plain_user, &self.plain_password) {
            plain.push(PlainCredentials::new(user.clone(), password.clone()));
        }
        if let Some(file) = &self.plain_credentials {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read credentials file {}", file.display()))?;
            let users = PlainCredentials::parse_file(&text)
                .with_context(|| format!("credentials file {}", file.display()))?;
            anyhow::ensure!(
                !users.is_empty(),
                "credentials file {} lists no user",
                file.display()
            );
            plain.extend(users);
        }
        Ok(AccessControl {
            allow: self.allow.clone(),
            plain,
        })
    }
}

fn main() -> ExitCode {
    run_main("backplane", || {
        let Some(args) = banyan_cli::parse_args::<Args>("backplane")? else {
            return Ok(());
        };
        let access = args.access()?;
        if !access.plain.is_empty() {
            eprintln!(
                "backplane: PLAIN credentials required; note that PLAIN is not encryption \
                 (passwords and messages cross the network in clear text)"
            );
        }
        let backplane = Backplane::bind(&BackplaneConfig {
            bind: args.bind.clone(),
            publisher_port: args.publisher_port,
            subscriber_port: args.subscriber_port,
            limits: args
                .limits
                .limits()
                .with_stall_timeout(std::time::Duration::from_secs(args.stall_timeout)),
            access,
            subscriptions: SubscriptionLimits::from_flags(
                args.max_subscriptions,
                args.max_subscription_kib,
            ),
        })?;
        let shown = if args.bind == "0.0.0.0" {
            format!("{} (listening on all interfaces)", outward_ipv4())
        } else {
            args.bind.clone()
        };
        let label = if args.name.is_empty() {
            String::new()
        } else {
            format!("{} ", args.name)
        };
        // The banner may go to a pipe nobody reads any more (a supervisor that went away):
        // the backplane keeps forwarding, so write errors are ignored rather than fatal.
        let banner = format!(
            "\n******************************************\n\
             {label}Backplane IP address: {shown}\n\
             Subscriber Port = {}\n\
             Publisher  Port = {}\n\
             Loop Time = {} seconds\n\
             ******************************************",
            backplane.subscriber_port(),
            backplane.publisher_port(),
            args.loop_time
        );
        say(&banner);
        let (stop_tx, stop_rx) = mpsc::channel();
        on_termination(move || {
            let _ = stop_tx.send(());
        })?;
        let _ = stop_rx.recv();
        say("Exiting Through Signal Handler");
        let (forward, access) = (backplane.forward_stats(), backplane.access_stats());
        eprintln!(
            "backplane: forwarded {} messages; dropped {} over --max-message and {} of more \
             than two parts; refused {} connections; evicted {} stalled subscribers over \
             --max-queue-mib (queued peak {} KiB); closed {} subscribers over \
             --max-subscriptions/--max-subscription-kib ({} subscribe and cancel messages)",
            forward.forwarded(),
            forward.oversize(),
            forward.malformed(),
            access.refused(),
            forward.evicted(),
            forward.queued_peak() / 1024,
            forward.subscription_closed(),
            forward.subscriptions()
        );
        backplane.shutdown()?;
        Ok(())
    })
}

/// Prints a line to stdout (flushed, since tools wait for the banner), ignoring a closed pipe.
fn say(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}
