//! The OneGPIO firmware's main loop on the Pico, shared by `onegpio_uart` and `onegpio_usb`:
//! `banyan_mcu::Client` ⇄ `banyan_onegpio::Engine` over the [`PicoBoard`].
//!
//! Commands arrive on `to_pico_gateway`, reports leave on `from_pico_gateway` (the engine's
//! default device; build with `BANYAN_ONEGPIO_DEVICE=rpi` for `to_rpi_gateway`, so that
//! `blinker.py -d rpi`-style programs need no change). Inputs are sampled every 2 ms
//! (debounced 20 ms, as Python's Raspberry Pi gateway), analog channels every 100 ms.

use banyan_firmware::onegpio::ReportQueue;
use banyan_mcu::{Client, ClientError, Incoming};
use banyan_onegpio::{Config, Engine, Outcome, Topics};
use embassy_futures::select::{Either, select};
use embassy_time::{Delay, Instant, Timer};
use embedded_io_async::{Read, Write};

use crate::EmbassyClock;
use crate::onegpio_board::{ANALOG_CHANNELS, PIN_COUNT, PicoBoard};

/// Frames up to 256 bytes each way: a OneGPIO report is at most 192 bytes of payload.
pub const FRAME_LEN: usize = 256;

/// The client the OneGPIO firmware uses (4 topics of up to 32 bytes, 256-byte frames).
pub type OneGpioClient = Client<4, 32, FRAME_LEN>;

/// How often inputs are sampled while nothing arrives (ms).
const SAMPLE_MS: u64 = 2;

/// The engine, its topics and the report queue; kept across links.
pub struct OneGpioApp {
    engine: Engine<PicoBoard, { PIN_COUNT as usize }, { ANALOG_CHANNELS as usize }>,
    topics: Topics,
    reports: ReportQueue<4>,
    command: [u8; FRAME_LEN],
}

impl OneGpioApp {
    /// An engine over `board` with Python's defaults (20 ms debounce, analog every 100 ms).
    pub fn new(board: PicoBoard) -> Self {
        let engine = Engine::new(board, Config::DEFAULT);
        let topics = engine.topics().clone();
        Self {
            engine,
            topics,
            reports: ReportQueue::new(),
            command: [0; FRAME_LEN],
        }
    }

    /// The topic to subscribe to.
    pub fn commands_topic(&self) -> &str {
        self.topics.commands()
    }

    /// Runs over `link` until the transport fails (returns the error). `client` must already
    /// be subscribed to [`commands_topic`](Self::commands_topic).
    pub async fn run<T: Read + Write>(
        &mut self,
        client: &mut OneGpioClient,
        link: &mut T,
    ) -> ClientError {
        let clock = EmbassyClock;
        loop {
            let polled = select(
                client.poll_async(link, &clock, &mut Delay),
                Timer::after_millis(SAMPLE_MS),
            )
            .await;
            // The message borrows the client's buffer: copy the command out first.
            let mut received = None;
            match polled {
                Either::First(Ok(Some(Incoming::Message(message)))) => {
                    let n = message.payload.len().min(self.command.len());
                    if let (Some(dst), Some(src)) =
                        (self.command.get_mut(..n), message.payload.get(..n))
                    {
                        dst.copy_from_slice(src);
                    }
                    if message.topic == self.topics.commands().as_bytes() {
                        received = Some(n);
                    }
                }
                Either::First(Ok(Some(Incoming::Link(event)))) => crate::info!("link: {}", event),
                Either::First(Ok(None)) | Either::Second(()) => {}
                Either::First(Err(e)) => return e,
            }
            let now_us = Instant::now().as_micros();
            if let Some(n) = received {
                let payload = self.command.get(..n).unwrap_or_default();
                if let Outcome::Rejected(reason) =
                    self.engine
                        .handle(self.topics.commands(), payload, now_us, &mut self.reports)
                {
                    crate::warn!("command refused: {}", reason);
                }
            }
            self.engine.poll(now_us, &mut self.reports);
            while let Some(report) = self.reports.pop() {
                match client
                    .publish_raw_async(link, self.topics.reports().as_bytes(), &report)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        // Link down: keep it; the engine re-offers what does not fit.
                        self.reports.push_front(report);
                        break;
                    }
                    Err(e) => return e,
                }
            }
        }
    }
}
