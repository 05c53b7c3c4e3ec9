//! [`Topics`]: Python's OneGPIO topic convention, `to_<device>_gateway` /
//! `from_<device>_gateway`.

use core::fmt;

/// Longest device name (`pico`, `rpi`, `arduino`, …) in bytes.
pub const MAX_DEVICE_LEN: usize = 32;

/// The device name used when none is given: commands on `to_pico_gateway`, reports on
/// `from_pico_gateway`.
///
/// Set at build time with the environment variable `BANYAN_ONEGPIO_DEVICE` (e.g.
/// `BANYAN_ONEGPIO_DEVICE=rpi cargo build --release` makes a firmware that answers Python's
/// `blinker.py -d rpi`); `pico` otherwise.
pub const DEFAULT_DEVICE: &str = match option_env!("BANYAN_ONEGPIO_DEVICE") {
    Some(device) => device,
    None => "pico",
};

const TOPIC_CAP: usize = MAX_DEVICE_LEN + 13;

/// A device name is not usable in a topic.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DeviceError {
    /// The name is empty.
    Empty,
    /// The name is longer than [`MAX_DEVICE_LEN`] bytes.
    TooLong,
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceError::Empty => f.write_str("device name is empty"),
            DeviceError::TooLong => {
                write!(f, "device name is longer than {MAX_DEVICE_LEN} bytes")
            }
        }
    }
}

impl core::error::Error for DeviceError {}

/// The command and report topics of one device.
///
/// ```
/// use banyan_onegpio::Topics;
///
/// let topics = Topics::new("rpi")?;
/// assert_eq!(topics.commands(), "to_rpi_gateway");
/// assert_eq!(topics.reports(), "from_rpi_gateway");
/// # Ok::<(), banyan_onegpio::DeviceError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    device_len: usize,
    commands: heapless::String<TOPIC_CAP>,
    reports: heapless::String<TOPIC_CAP>,
}

impl Topics {
    /// The topics of `device`.
    pub fn new(device: &str) -> Result<Self, DeviceError> {
        if device.is_empty() {
            return Err(DeviceError::Empty);
        }
        if device.len() > MAX_DEVICE_LEN {
            return Err(DeviceError::TooLong);
        }
        let mut commands = heapless::String::new();
        let mut reports = heapless::String::new();
        // Capacity is MAX_DEVICE_LEN + "from_" + "_gateway": these pushes cannot fail.
        let ok = commands.push_str("to_").is_ok()
            && commands.push_str(device).is_ok()
            && commands.push_str("_gateway").is_ok()
            && reports.push_str("from_").is_ok()
            && reports.push_str(device).is_ok()
            && reports.push_str("_gateway").is_ok();
        if !ok {
            return Err(DeviceError::TooLong);
        }
        Ok(Self {
            device_len: device.len(),
            commands,
            reports,
        })
    }

    /// The device name (`pico`).
    pub fn device(&self) -> &str {
        self.commands
            .get(3..3 + self.device_len)
            .unwrap_or_default()
    }

    /// Where commands arrive: `to_<device>_gateway`. Subscribe to it.
    pub fn commands(&self) -> &str {
        &self.commands
    }

    /// Where reports go: `from_<device>_gateway`.
    pub fn reports(&self) -> &str {
        &self.reports
    }
}

impl Default for Topics {
    /// The topics of [`DEFAULT_DEVICE`] (falls back to `pico` if the build-time name is not
    /// usable).
    fn default() -> Self {
        Self::new(DEFAULT_DEVICE)
            .or_else(|_| Self::new("pico"))
            .unwrap_or_else(|_| Self {
                device_len: 0,
                commands: heapless::String::new(),
                reports: heapless::String::new(),
            })
    }
}
