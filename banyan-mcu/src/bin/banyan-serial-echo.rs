//! `banyan-serial-echo`: the MCU echo client, run on Linux over a serial port (a Raspberry Pi
//! UART, a USB serial adapter) or a TCP socket (tests, QEMU-style setups).
//!
//! ```text
//! banyan-serial-echo --serial /dev/ttyUSB0 --baud 115200
//! banyan-serial-echo --tcp 127.0.0.1:4000
//! ```
//!
//! It is the same `no_std` client the firmware runs, over `serialport` or `TcpStream` wrapped
//! as embedded-io by `embedded-io-adapters`. The other end is `banyan-gateway`. Exit status 0
//! when every reply arrived, 1 otherwise.

use std::io;
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use banyan_mcu::{ClientError, EchoClient, EchoConfig, EchoSummary, Event, LinkEvent, StdClock};
use clap::{ArgGroup, Parser};
use embedded_io_adapters::std::FromStd;

/// How long one `read` may block before the client checks its deadline.
const READ_POLL: Duration = Duration::from_millis(10);

/// The Banyan MCU echo client over a Linux serial port or TCP.
#[derive(Parser, Debug)]
#[command(version, about)]
#[command(group(ArgGroup::new("link").required(true).args(["serial", "tcp"])))]
struct Args {
    /// Serial device (e.g. /dev/ttyUSB0, /dev/serial0).
    #[arg(long, value_name = "DEV")]
    serial: Option<String>,
    /// Baud rate of the serial device.
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
    /// Connect to a TCP server instead (HOST:PORT), e.g. a gateway test peer.
    #[arg(long, value_name = "HOST:PORT")]
    tcp: Option<String>,
    /// First message number; the run sends this many plus one messages.
    #[arg(short = 'm', long, default_value_t = 10)]
    messages: u32,
    /// Milliseconds to wait for a reply before re-sending.
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u32,
    /// Consecutive timeouts before giving up (0: retry forever).
    #[arg(long, default_value_t = 20)]
    max_retries: u32,
    /// Print every event, not only retries and the result.
    #[arg(short, long)]
    verbose: bool,
}

/// `TcpStream` with a read timeout reports `WouldBlock` on Unix; the client's contract wants
/// `TimedOut` for "nothing yet".
struct TimeoutAsTimedOut<T>(T);

impl<T: io::Read> io::Read for TimeoutAsTimedOut<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock => io::Error::from(io::ErrorKind::TimedOut),
            _ => e,
        })
    }
}

impl<T: io::Write> io::Write for TimeoutAsTimedOut<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let nonce = boot_nonce();
    let config = EchoConfig {
        first_number: args.messages,
        timeout_ms: args.timeout_ms,
        max_retries: (args.max_retries > 0).then_some(args.max_retries),
        ..EchoConfig::seed(nonce)
    };
    let verbose = args.verbose;
    let mut observer = move |event: Event| report(event, verbose);
    let result = match (&args.serial, &args.tcp) {
        (Some(dev), _) => run_serial(dev, args.baud, config, &mut observer),
        (None, Some(addr)) => run_tcp(addr, config, &mut observer),
        (None, None) => Err("give --serial DEV or --tcp HOST:PORT".into()),
    };
    match result {
        Ok(summary) => {
            println!(
                "[serial echo] {} messages sent and received.",
                args.messages
            );
            if verbose {
                println!("[serial echo] {summary:?}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("[serial echo] error: {e}");
            ExitCode::FAILURE
        }
    }
}

type BoxError = Box<dyn std::error::Error>;

fn run_serial(
    dev: &str,
    baud: u32,
    config: EchoConfig<'static>,
    observer: &mut impl FnMut(Event),
) -> Result<EchoSummary, BoxError> {
    let port = serialport::new(dev, baud)
        .timeout(READ_POLL)
        .open()
        .map_err(|e| format!("cannot open {dev}: {e}"))?;
    eprintln!("[serial echo] {dev} at {baud} baud");
    run(FromStd::new(port), config, observer)
}

fn run_tcp(
    addr: &str,
    config: EchoConfig<'static>,
    observer: &mut impl FnMut(Event),
) -> Result<EchoSummary, BoxError> {
    let stream = TcpStream::connect(addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream.set_read_timeout(Some(READ_POLL))?;
    stream.set_nodelay(true)?;
    eprintln!("[serial echo] connected to {addr}");
    run(FromStd::new(TimeoutAsTimedOut(stream)), config, observer)
}

fn run<T>(
    mut transport: T,
    config: EchoConfig<'static>,
    observer: &mut impl FnMut(Event),
) -> Result<EchoSummary, BoxError>
where
    T: embedded_io::Read + embedded_io::Write,
{
    let mut client: EchoClient<'_> = EchoClient::new(config);
    let summary = client
        .run(&mut transport, &StdClock::new(), observer)
        .map_err(|e: ClientError| e.to_string())?;
    Ok(summary)
}

/// A nonce that differs between runs: time and process id.
fn boot_nonce() -> u32 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
    nanos ^ std::process::id().rotate_left(16)
}

fn report(event: Event, verbose: bool) {
    match event {
        Event::Timeout {
            number,
            consecutive,
        } => eprintln!(
            "[serial echo] timeout {consecutive} waiting for {}",
            number.map_or("the gateway and the reply subscription".to_string(), |n| {
                format!("reply {n}; re-sending")
            }),
        ),
        Event::Link(LinkEvent::GatewayRestarted { .. }) => {
            eprintln!("[serial echo] the gateway restarted; subscribing again")
        }
        Event::Link(LinkEvent::Down) => eprintln!("[serial echo] link down; reconnecting"),
        Event::Connected => eprintln!("[serial echo] reply subscription in force"),
        other if verbose => eprintln!("[serial echo] {other:?}"),
        _ => {}
    }
}
