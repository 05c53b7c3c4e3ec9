//! The serial link at line rate: the real MCU client (`banyan_mcu::Client`, host build) on a
//! [`serial_line`] paced at a UART's baud rate, the real gateway, a backplane subscriber.
//!
//! ```text
//!  MCU client ══ serial_line (8N1, paced both ways) ══ Gateway ── backplane ── subscriber
//!   publish {'v': n} / reading / 200 B ──▶ frames at line rate ──▶ publish ──▶ count, time
//! ```
//!
//! Each reading's *ready* time (when the application called `publish`) is recorded by the MCU
//! thread; the subscriber records when it arrived. Added latency = arrival − ready. A
//! saturated run publishes back to back (the paced transport blocks like a UART), a paced run
//! publishes at a fixed offered rate.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use banyan_gateways::serial::{Gateway, GatewayStats};
use banyan_mcu::{Client, ClientConfig, StdClock};
use banyan_proto::frame::{self, BatchWriter, Frame};
use banyan_proto::payload;
use banyan_testkit::{LineRate, ThreadGuard, offered_links, serial_line};
use serde::{Deserialize, Serialize};

use crate::codec::{payload_seq, sized_payload};
use crate::pubsub::Endpoints;

/// The bench client's buffers (`Client<4, 32, MCU_BUF>`): frames and batches up to this.
pub const MCU_BUF: usize = 256;

/// The topic of every reading: 11 bytes, as a Pico's sensor uses.
pub const TOPIC: &str = "sensor/pico";

/// Sequence numbers from here on are warm-up readings (they prove the path, and are not
/// counted).
const WARMUP_BASE: u32 = 1 << 30;

/// Reading `i` carries `SEQ_BASE + i`, so that every reading of a run has the same size
/// (`{'v': n}` is 6 bytes from 128 on, 4 below).
const SEQ_BASE: u32 = 1000;

/// How long a run waits for its last reading before it counts the rest as lost.
const QUIET: Duration = Duration::from_secs(1);

/// What a reading carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// `{'v': n}`: the smallest useful reading.
    Small,
    /// `{'count': n, 'temperature': t}`: the sensor firmware's reading.
    Sensor,
    /// `{'d': bytes}`, 200 bytes of msgpack.
    Large,
}

impl Load {
    /// Every load, in table order.
    pub const ALL: [Load; 3] = [Load::Small, Load::Sensor, Load::Large];

    /// The load's name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Load::Small => "{'v': n}",
            Load::Sensor => "sensor reading",
            Load::Large => "200 B payload",
        }
    }

    /// The msgpack payload of the `index`th reading of a run.
    pub fn payload(self, index: u32) -> Vec<u8> {
        let seq = index.saturating_add(SEQ_BASE);
        match self {
            Load::Small => payload::to_vec(&Small { v: seq }).unwrap_or_default(),
            Load::Sensor => payload::to_vec(&Reading {
                count: seq,
                temperature: 21.5 + f64::from(seq % 100) * 0.01,
            })
            .unwrap_or_default(),
            Load::Large => sized_payload(200, seq),
        }
    }

    /// The reading index a payload of this load carries.
    pub fn index(self, bytes: &[u8]) -> Option<u32> {
        let seq = match self {
            Load::Small => payload::from_slice::<Small>(bytes).ok().map(|s| s.v),
            Load::Sensor => payload::from_slice::<Reading>(bytes).ok().map(|r| r.count),
            Load::Large => payload_seq(bytes),
        }?;
        seq.checked_sub(SEQ_BASE)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Small {
    v: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct Reading {
    count: u32,
    temperature: f64,
}

/// How the MCU client frames its publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Every `Publish` frame carries its full topic (protocol version 1, as before aliases).
    Full,
    /// Topic aliases, one frame per publish (`batch_window_ms = 0`).
    Aliased,
    /// The client's defaults: aliases and batches of publishes ready within 2 ms.
    Batched,
}

impl Format {
    /// Every format, the baseline first.
    pub const ALL: [Format; 3] = [Format::Full, Format::Aliased, Format::Batched];

    /// What the client does with its default configuration (the summary's numbers).
    pub fn default_format() -> Format {
        Format::ALL[Format::ALL.len() - 1]
    }

    /// The format's name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Format::Full => "full-topic frames (v1)",
            Format::Aliased => "aliases",
            Format::Batched => "aliases + 2 ms batches",
        }
    }

    /// Wire bytes per reading in this format, for a reading like `index` (the ideal's
    /// denominator): one frame, or for batches the share of a full batch of the bench
    /// client's size.
    pub fn wire_bytes_per_msg(self, load: Load, index: u32) -> f64 {
        let payload = load.payload(index);
        let frame = match self {
            Format::Full => Frame::Publish {
                topic: TOPIC.as_bytes(),
                payload: &payload,
            },
            Format::Aliased => Frame::PublishAlias {
                alias: 0,
                payload: &payload,
            },
            Format::Batched => {
                let mut entries = vec![0u8; MCU_BUF];
                let mut writer = BatchWriter::new(&mut entries);
                // As many entries as the client's batch takes (body within its buffer).
                while frame::max_encoded_len(4 + writer.len() + frame::entry_len(0, payload.len()))
                    <= MCU_BUF
                    && writer.push(0, &payload).is_ok()
                {}
                let count = writer.entries().max(1) as f64;
                let frame = Frame::PublishBatch {
                    batch: writer.batch(),
                };
                return frame::encode_to_vec(&frame).map_or(f64::NAN, |v| v.len() as f64 / count);
            }
        };
        frame::encode_to_vec(&frame).map_or(f64::NAN, |v| v.len() as f64)
    }

    fn config(self, boot_nonce: u32) -> ClientConfig {
        let config = ClientConfig::new(boot_nonce);
        match self {
            Format::Full => config.without_aliases(),
            Format::Aliased => config.with_batch_window_ms(0),
            Format::Batched => config,
        }
    }
}

/// One measured run.
#[derive(Debug, Clone)]
pub struct SerialRun {
    /// Readings published (not counting warm-up).
    pub sent: u64,
    /// Readings the subscriber received.
    pub delivered: u64,
    /// First ready time to last arrival.
    pub elapsed: Duration,
    /// Bytes the line carried MCU → gateway during the run.
    pub line_bytes: u64,
    /// Payload bytes delivered.
    pub payload_bytes: u64,
    /// Added latency of each delivered reading.
    pub latencies: Vec<Duration>,
    /// The line's capacity, bytes/s.
    pub capacity: f64,
    /// The gateway's counters at the end.
    pub gateway: GatewayStats,
}

impl SerialRun {
    /// Readings delivered per second.
    pub fn rate(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Frame bytes on the line ÷ line capacity over the run.
    pub fn utilisation(&self) -> f64 {
        self.line_bytes as f64 / (self.capacity * self.elapsed.as_secs_f64().max(1e-9))
    }

    /// Payload bytes delivered ÷ line capacity over the run.
    pub fn goodput(&self) -> f64 {
        self.payload_bytes as f64 / (self.capacity * self.elapsed.as_secs_f64().max(1e-9))
    }
}

/// One run's settings.
#[derive(Debug, Clone, Copy)]
pub struct RunSpec {
    /// Line speed and framing.
    pub rate: LineRate,
    /// What each reading carries.
    pub load: Load,
    /// How the client frames.
    pub format: Format,
    /// Readings to publish.
    pub count: u32,
    /// Readings per second offered; `None` = back to back (saturated).
    pub offered: Option<f64>,
}

/// The MCU thread's summary.
struct McuDone {
    first_ready: Instant,
}

/// Runs one measurement: a fresh gateway on a fresh line to a fresh client.
pub fn measure(endpoints: &Endpoints, spec: RunSpec) -> Result<SerialRun> {
    let (mut mcu_end, gateway_end, line) =
        serial_line(spec.rate, Duration::from_millis(1)).context("serial line")?;
    mcu_end.set_nonblocking(true)?;
    let (offers, connector) = offered_links("paced serial line");
    offers.offer(Box::new(gateway_end));
    let gateway = Gateway::new(
        endpoints.config("bench-serial-gateway").connect()?,
        connector,
    );
    let stop = gateway.shutdown_handle();
    let gateway = ThreadGuard::spawn(
        "serial gateway",
        move || {
            let _ = stop.shutdown();
        },
        move || gateway.run(),
    );
    let mut subscriber = endpoints
        .config("bench-serial-subscriber")
        .subscribe(TOPIC)
        .connect()?;

    let count = spec.count as usize;
    let epoch = Instant::now();
    let ready: Arc<Vec<AtomicU64>> = Arc::new((0..count).map(|_| AtomicU64::new(0)).collect());
    let synced = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let line_at_start = Arc::new(AtomicU64::new(0));
    let counters = line.counters().clone();
    let mcu = {
        let (ready, synced, done) = (ready.clone(), synced.clone(), done.clone());
        let (line_at_start, counters) = (line_at_start.clone(), counters.clone());
        let stop = done.clone();
        ThreadGuard::spawn(
            "serial mcu",
            move || stop.store(true, Ordering::SeqCst),
            move || -> Result<McuDone> {
                let clock = StdClock::new();
                let mut client: Client<4, 32, MCU_BUF> =
                    Client::new(spec.format.config(0x5e71_a100));
                let give_up = Instant::now() + Duration::from_secs(10);
                while !client.is_up() {
                    if Instant::now() > give_up {
                        bail!("the MCU client's link did not come up");
                    }
                    let _ = client.poll(&mut mcu_end, &clock)?;
                }
                // Warm-up: until the subscriber has seen one, the path is not proven.
                let mut warm = WARMUP_BASE;
                while !synced.load(Ordering::SeqCst) {
                    if Instant::now() > give_up || done.load(Ordering::SeqCst) {
                        bail!("no warm-up reading reached the subscriber");
                    }
                    client.publish_raw(&mut mcu_end, TOPIC.as_bytes(), &spec.load.payload(warm))?;
                    warm += 1;
                    let until = Instant::now() + Duration::from_millis(20);
                    while Instant::now() < until {
                        let _ = client.poll(&mut mcu_end, &clock)?;
                        thread::sleep(Duration::from_millis(1));
                    }
                }
                // Let the warm-up drain before the clock starts.
                let until = Instant::now() + Duration::from_millis(50);
                while Instant::now() < until {
                    let _ = client.poll(&mut mcu_end, &clock)?;
                }
                let payloads: Vec<Vec<u8>> =
                    (0..spec.count).map(|s| spec.load.payload(s)).collect();
                line_at_start.store(counters.to_gateway(), Ordering::SeqCst);
                let first_ready = Instant::now();
                for (seq, payload) in payloads.iter().enumerate() {
                    // Offered load: the reading is ready at its due time, also when the link
                    // is behind (then it waits in the application: added latency).
                    let ready_at = match spec.offered {
                        Some(per_s) => {
                            let due = first_ready + Duration::from_secs_f64(seq as f64 / per_s);
                            while Instant::now() < due {
                                let _ = client.poll(&mut mcu_end, &clock)?;
                                let left = due.saturating_duration_since(Instant::now());
                                thread::sleep(left.min(Duration::from_micros(200)));
                            }
                            // A sensor's main loop: poll, then publish what is due.
                            let _ = client.poll(&mut mcu_end, &clock)?;
                            due
                        }
                        None => Instant::now(),
                    };
                    ready[seq].store(nanos_since(epoch, ready_at), Ordering::SeqCst);
                    client.publish_raw(&mut mcu_end, TOPIC.as_bytes(), payload)?;
                    if seq % 16 == 15 {
                        // Serve the link (pings, answers) as a sensor's main loop would.
                        let _ = client.poll(&mut mcu_end, &clock)?;
                    }
                }
                // Keep serving the link until the subscriber is done.
                while !done.load(Ordering::SeqCst) {
                    let _ = client.poll(&mut mcu_end, &clock)?;
                    thread::sleep(Duration::from_micros(500));
                }
                Ok(McuDone { first_ready })
            },
        )
    };

    let mut arrivals: Vec<Option<Instant>> = vec![None; count];
    let mut delivered = 0u64;
    let mut payload_bytes = 0u64;
    let mut last_arrival = None;
    let hard_stop = Instant::now() + Duration::from_secs(120);
    let mut quiet_since = Instant::now();
    loop {
        if mcu.is_finished() || Instant::now() > hard_stop {
            break;
        }
        let Some(message) = subscriber.recv_ref_timeout(Duration::from_millis(20))? else {
            let started = ready.first().is_some_and(|r| r.load(Ordering::SeqCst) != 0);
            let all_sent = ready.last().is_some_and(|r| r.load(Ordering::SeqCst) != 0);
            if all_sent && quiet_since.elapsed() > QUIET
                || started && quiet_since.elapsed() > QUIET * 10
            {
                break;
            }
            continue;
        };
        let now = Instant::now();
        quiet_since = now;
        let Some(seq) = spec.load.index(message.payload) else {
            bail!("a reading arrived that is not one of ours");
        };
        if seq >= WARMUP_BASE {
            synced.store(true, Ordering::SeqCst);
            continue;
        }
        let Some(slot) = arrivals.get_mut(seq as usize) else {
            bail!("reading {seq} out of range");
        };
        if slot.is_none() {
            *slot = Some(now);
            delivered += 1;
            payload_bytes += message.payload.len() as u64;
            last_arrival = Some(now);
        }
        if delivered == u64::from(spec.count) {
            break;
        }
    }
    let line_bytes_end = counters.to_gateway();
    done.store(true, Ordering::SeqCst);
    let mcu_done = mcu.stop()??;
    let gateway = gateway.stop()??;
    drop(line);
    let last = last_arrival.ok_or_else(|| anyhow!("no reading arrived"))?;
    let latencies = arrivals
        .iter()
        .zip(ready.iter())
        .filter_map(|(arrived, ready)| {
            let arrived = (*arrived)?;
            let ready = epoch + Duration::from_nanos(ready.load(Ordering::SeqCst));
            Some(arrived.saturating_duration_since(ready))
        })
        .collect();
    Ok(SerialRun {
        sent: u64::from(spec.count),
        delivered,
        elapsed: last.saturating_duration_since(mcu_done.first_ready),
        line_bytes: line_bytes_end.saturating_sub(line_at_start.load(Ordering::SeqCst)),
        payload_bytes,
        latencies,
        capacity: spec.rate.bytes_per_sec(),
        gateway,
    })
}

fn nanos_since(epoch: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use banyan_host::{Backplane, BackplaneConfig};

    #[test]
    fn readings_cross_a_paced_line_in_order_and_complete() {
        let backplane = Backplane::bind(&BackplaneConfig::ephemeral_loopback()).unwrap();
        let run = measure(
            &Endpoints::of(&backplane),
            RunSpec {
                rate: LineRate::uart_8n1(921_600),
                load: Load::Small,
                format: Format::Full,
                count: 300,
                offered: None,
            },
        )
        .unwrap();
        assert_eq!(run.delivered, 300);
        assert_eq!(run.latencies.len(), 300);
        // A paced line can never carry more than its capacity.
        assert!(run.utilisation() <= 1.05, "{}", run.utilisation());
        assert!(run.line_bytes >= 300 * 20);
        assert_eq!(run.gateway.corrupt, 0);
    }
}
