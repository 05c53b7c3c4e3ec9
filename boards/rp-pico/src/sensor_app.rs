//! The sensor-and-command application on the Pico, shared by `sensor_uart` and `sensor_usb`.
//!
//! Every period (100 ms at boot) it publishes `{'count': n, 'temperature': t}` on
//! `sensor/pico`, `t` from the RP2040's on-chip temperature sensor (ADC input 4), and obeys
//! `command/pico`: `{'command': 'rate', 'ms': M}` sets the period (and resumes after a stop),
//! `{'command': 'stop'}` pauses the readings (a Pico has nothing to exit to).

use banyan_firmware::sensor::{self, Command, Sensor};
use banyan_mcu::{Client, ClientError, Clock, Incoming};
use embassy_futures::select::{Either, select};
use embassy_rp::Peri;
use embassy_rp::adc::{self, Adc, Blocking, Channel};
use embassy_rp::peripherals::{ADC, ADC_TEMP_SENSOR};
use embassy_time::{Delay, Timer};
use embedded_io_async::{Read, Write};

use crate::EmbassyClock;

/// Readings go here.
pub const SENSOR_TOPIC: &str = "sensor/pico";
/// Commands come from here.
pub const COMMAND_TOPIC: &str = "command/pico";

/// The on-chip temperature sensor through the ADC.
pub struct Thermometer {
    adc: Adc<'static, Blocking>,
    channel: Channel<'static>,
}

impl Thermometer {
    /// Takes the ADC and its temperature-sensor input (this enables the sensor).
    pub fn new(adc: Peri<'static, ADC>, sensor: Peri<'static, ADC_TEMP_SENSOR>) -> Self {
        Self {
            adc: Adc::new_blocking(adc, adc::Config::default()),
            channel: Channel::new_temp_sensor(sensor),
        }
    }

    /// One conversion in °C (`rp2040_temperature_c` of the raw 12-bit value), or `None` when
    /// the ADC reports a conversion error.
    pub fn read_c(&mut self) -> Option<f64> {
        match self.adc.blocking_read(&mut self.channel) {
            Ok(raw) => Some(sensor::rp2040_temperature_c(raw)),
            Err(_) => None,
        }
    }
}

/// The application's state, kept across links (a USB reconnect keeps the count and rate).
pub struct SensorApp {
    sensor: Sensor,
    paused: bool,
}

impl SensorApp {
    /// Readings due from now, every 100 ms.
    pub fn new() -> Self {
        Self {
            sensor: Sensor::new(EmbassyClock.now_ms()),
            paused: false,
        }
    }

    /// Runs over `link` until the transport fails (returns the error; the caller decides:
    /// the USB firmware waits for the port again). `client` must already be subscribed to
    /// [`COMMAND_TOPIC`].
    pub async fn run<T, const N: usize, const L: usize, const B: usize>(
        &mut self,
        client: &mut Client<N, L, B>,
        link: &mut T,
        thermometer: &mut Thermometer,
    ) -> ClientError
    where
        T: Read + Write,
    {
        let clock = EmbassyClock;
        loop {
            let now = clock.now_ms();
            // Wake up for the next reading, or at least every second.
            let wait = if self.paused || !client.is_up() {
                1000
            } else {
                self.sensor.wait_ms(now).min(1000)
            };
            let polled = select(
                client.poll_async(link, &clock, &mut Delay),
                Timer::after_millis(wait),
            )
            .await;
            match polled {
                Either::First(Ok(Some(Incoming::Message(message)))) => {
                    match sensor::parse_command(message.payload) {
                        Ok(Command::Rate { ms }) => {
                            self.sensor.set_period(ms, clock.now_ms());
                            self.paused = false;
                            crate::info!("rate: {=u32} ms", ms);
                        }
                        Ok(Command::Stop) => {
                            self.paused = true;
                            crate::info!("stop: paused after {=u32} readings", self.sensor.count());
                        }
                        Err(e) => crate::warn!("command refused: {}", e),
                    }
                }
                Either::First(Ok(Some(Incoming::Link(event)))) => crate::info!("link: {}", event),
                Either::First(Ok(None)) | Either::Second(()) => {}
                Either::First(Err(e)) => return e,
            }
            let now = clock.now_ms();
            if self.paused || !client.is_up() || !self.sensor.due(now) {
                continue;
            }
            let Some(temperature) = thermometer.read_c() else {
                crate::warn!("ADC conversion error; reading skipped");
                self.sensor.skipped(now);
                continue;
            };
            let reading = self.sensor.reading(temperature);
            match client.publish_async(link, SENSOR_TOPIC, &reading).await {
                Ok(true) => self.sensor.published(now),
                Ok(false) => {} // link down in between: the same reading goes next time
                Err(e) => return e,
            }
        }
    }
}

impl Default for SensorApp {
    fn default() -> Self {
        Self::new()
    }
}
