//! OneGPIO firmware for QEMU's lm3s6965evb on a virtual pin bank, on `banyan_mcu::Client`.
//!
//! The same `banyan-onegpio` engine as the Pico firmware, over `banyan_onegpio::loopback`:
//! pins 0–15 wired in pairs (an output written on pin 2k is seen on input pin 2k+1 and the
//! other way round), analog channels 0–3 deterministic ramps. Commands on `to_pico_gateway`,
//! reports on `from_pico_gateway` (the engine's default device `pico`; set
//! `BANYAN_ONEGPIO_DEVICE` at build time for another). It serves until QEMU is stopped; an
//! internal failure (a client error, a panic) ends the run with exit status 1.
//!
//! `scripts/qemu-e2e.sh --app onegpio` runs it with a Python Banyan OneGPIO component.
#![no_std]
#![no_main]

use banyan_board_qemu_lm3s6965::systick::{QEMU_CORE_HZ, SysTickClock};
use banyan_board_qemu_lm3s6965::{error, exit, info, warn};
use banyan_firmware::onegpio::ReportQueue;
use banyan_firmware::pl011::{LM3S6965_UART0, Pl011};
use banyan_mcu::{Client, ClientConfig, Clock, Incoming, Polled};
use banyan_onegpio::loopback::{CHANNELS, LoopbackBank, PINS, Wires};
use banyan_onegpio::{Config, Engine, Outcome};
use cortex_m_rt::entry;
#[cfg(feature = "defmt")]
use defmt_semihosting as _;

#[cfg(feature = "defmt")]
defmt::timestamp!("{=u64:ms}", SysTickClock::millis());

/// There is no entropy source under QEMU; the gateway only compares nonces.
const BOOT_NONCE: u32 = 0x4750_494F;
/// Frames up to 256 bytes each way: a OneGPIO report is at most 192 bytes of payload.
const FRAME_LEN: usize = 256;

#[entry]
fn main() -> ! {
    let Some(core) = cortex_m::Peripherals::take() else {
        exit(false)
    };
    let clock = SysTickClock::start(core.SYST, QEMU_CORE_HZ);
    // SAFETY: UART0 is used by nothing else in this program.
    let mut uart = Polled(unsafe { Pl011::configure_8n1(LM3S6965_UART0) });

    let wires = Wires::new();
    // Virtual pins do not bounce.
    let config = Config {
        debounce_us: 0,
        ..Config::DEFAULT
    };
    let mut engine: Engine<_, { PINS as usize }, { CHANNELS as usize }> =
        Engine::new(LoopbackBank::new(&wires), config);
    // The engine is borrowed mutably while it handles a command: keep its topics at hand.
    let topics = engine.topics().clone();
    let mut client: Client<4, 32, FRAME_LEN> = Client::new(ClientConfig::new(BOOT_NONCE));
    if let Err(e) = client.subscribe(topics.commands()) {
        error!("subscribe failed: {}", e);
        exit(false)
    }
    info!(
        "onegpio: commands on {=str}, reports on {=str}",
        topics.commands(),
        topics.reports()
    );
    let mut reports: ReportQueue<4> = ReportQueue::new();
    let mut command = [0u8; FRAME_LEN];
    loop {
        // The message borrows the client's buffer: copy the command out, then run the engine.
        let mut received = None;
        match client.poll(&mut uart, &clock) {
            Ok(Some(Incoming::Message(message))) => {
                // The client's frames are at most FRAME_LEN bytes, so the payload fits.
                let n = message.payload.len().min(command.len());
                command[..n].copy_from_slice(message.payload.get(..n).unwrap_or_default());
                received = Some((n, message.topic == topics.commands().as_bytes()));
            }
            Ok(Some(Incoming::Link(event))) => info!("link: {}", event),
            Ok(None) => {}
            Err(e) => {
                error!("link failed: {}", e);
                exit(false)
            }
        }
        let now_us = clock.now_ms().saturating_mul(1000);
        if let Some((n, true)) = received {
            let payload = command.get(..n).unwrap_or_default();
            if let Outcome::Rejected(reason) =
                engine.handle(topics.commands(), payload, now_us, &mut reports)
            {
                warn!("command refused: {}", reason);
            }
        }
        engine.poll(now_us, &mut reports);
        while let Some(report) = reports.pop() {
            match client.publish_raw(&mut uart, topics.reports().as_bytes(), &report) {
                Ok(true) => {}
                Ok(false) => {
                    // Link down: keep it for later (the engine re-offers what does not fit).
                    reports.push_front(report);
                    break;
                }
                Err(e) => {
                    error!("publish failed: {}", e);
                    exit(false)
                }
            }
        }
    }
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    #[cfg(feature = "defmt")]
    defmt::error!("panic: {}", defmt::Display2Format(_info));
    exit(false)
}
