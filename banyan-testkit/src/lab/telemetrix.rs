//! The Telemetrix device model (`python/telemetrix_device.py`, standard-library Python) as a
//! test rig: a stand-in for a board running stock Telemetrix4RpiPico, Telemetrix4Esp32 or
//! Telemetrix4Arduino firmware (none is in a package registry). Its docstring says which
//! firmware behaviours it models and which it does not.
//!
//! [`TelemetrixDevice::start`] runs it with the board on a TCP port (ephemeral) or a
//! pseudo-terminal, and talks to its control channel: drive inputs (the model then sends the
//! reports the firmware would), read the frames it received, unplug the link, reset the
//! board. The process is ended by its guard, also when a test fails.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};

use banyan_proto::telemetrix::Family;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::process::ChildGuard;
use crate::python::repo_root;

/// The model's script.
pub fn model_script() -> PathBuf {
    repo_root().join("banyan-testkit/python/telemetrix_device.py")
}

/// The family's name on the model's command line.
pub fn family_name(family: Family) -> &'static str {
    match family {
        Family::RpiPico => "rpi_pico",
        Family::Esp32 => "esp32",
        Family::Arduino => "arduino",
    }
}

/// Where the model serves the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Board {
    /// A TCP listener on 127.0.0.1 with an ephemeral port (the ESP32's Wi-Fi server; any
    /// family may use it).
    Tcp,
    /// A pseudo-terminal (the USB serial port of a Pico or an Arduino), reached through a
    /// symlink in a private temporary directory that keeps pointing at the current pty, as a
    /// replugged board comes back at the same `/dev/ttyACM0`.
    Pty,
}

/// A running device model; see the module docs.
#[derive(Debug)]
pub struct TelemetrixDevice {
    guard: ChildGuard,
    control: BufReader<TcpStream>,
    family: Family,
    tcp: Option<SocketAddr>,
    pty: Option<PathBuf>,
    /// The directory of the pty's symlink, removed on drop.
    link_dir: Option<PathBuf>,
}

impl Drop for TelemetrixDevice {
    fn drop(&mut self) {
        if let Some(dir) = &self.link_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl TelemetrixDevice {
    /// Starts the model of `family` with `python` (any Python 3), serving the board as `board`.
    pub fn start(python: &Path, family: Family, board: Board) -> Result<Self> {
        let mut command = std::process::Command::new(python);
        command
            .arg(model_script())
            .args(["--family", family_name(family)]);
        let mut link_dir = None;
        match board {
            Board::Tcp => {
                command.args(["--tcp-port", "0"]);
            }
            Board::Pty => {
                use std::sync::atomic::{AtomicU32, Ordering};
                static NEXT: AtomicU32 = AtomicU32::new(0);
                let dir = std::env::temp_dir().join(format!(
                    "banyan-tmx-{}-{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Error::io("creating the pty link's directory", e))?;
                command.arg("--link").arg(dir.join("ttyACM0"));
                link_dir = Some(dir);
            }
        }
        let guard = ChildGuard::spawn(format!("telemetrix model ({family})"), command)?;
        let line = guard.wait_stdout("\"ready\"")?;
        let unparsable = |what: &str| Error::Unparsable {
            name: guard.name().to_owned(),
            what: what.to_owned(),
            line: line.clone(),
        };
        let ready: Value = serde_json::from_str(&line).map_err(|_| unparsable("JSON"))?;
        let control_port = ready["control_port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| unparsable("control_port"))?;
        let tcp = ready["tcp_port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .map(|port| SocketAddr::from(([127, 0, 0, 1], port)));
        let pty = ready["device"].as_str().map(PathBuf::from);
        let control = TcpStream::connect(("127.0.0.1", control_port))
            .map_err(|e| Error::io("connecting to the model's control channel", e))?;
        control
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .map_err(|e| Error::io("setting the control channel's timeout", e))?;
        Ok(Self {
            guard,
            control: BufReader::new(control),
            family,
            tcp,
            pty,
            link_dir,
        })
    }

    /// The family it plays.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The board's TCP address ([`Board::Tcp`]).
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp
    }

    /// The board's serial device path ([`Board::Pty`]).
    pub fn pty_path(&self) -> Option<&Path> {
        self.pty.as_deref()
    }

    /// Sends one control request and returns the reply; a reply without `"ok": true` is an
    /// error.
    pub fn control(&mut self, request: &Value) -> Result<Value> {
        let io = |e| Error::io("talking to the model's control channel", e);
        let stream = self.control.get_mut();
        stream
            .write_all(format!("{request}\n").as_bytes())
            .map_err(io)?;
        let mut line = String::new();
        self.control.read_line(&mut line).map_err(io)?;
        let reply: Value = serde_json::from_str(&line).map_err(|_| Error::Unparsable {
            name: self.guard.name().to_owned(),
            what: "a JSON reply".to_owned(),
            line: line.clone(),
        })?;
        if reply["ok"] != json!(true) {
            return Err(Error::Unparsable {
                name: self.guard.name().to_owned(),
                what: format!("success for {request}"),
                line,
            });
        }
        Ok(reply)
    }

    /// Drives digital input `pin` to `value` (a report follows when the firmware would send
    /// one).
    pub fn input(&mut self, pin: u8, value: u8) -> Result<()> {
        self.control(&json!({"op": "input", "pin": pin, "value": value}))
            .map(drop)
    }

    /// Drives analog input `pin` to `value`.
    pub fn analog(&mut self, pin: u8, value: u16) -> Result<()> {
        self.control(&json!({"op": "analog", "pin": pin, "value": value}))
            .map(drop)
    }

    /// Unplugs the link (pin state kept, as a board that stays powered).
    pub fn drop_link(&mut self) -> Result<()> {
        self.control(&json!({"op": "drop_link"})).map(drop)
    }

    /// Resets the board: state cleared, link dropped.
    pub fn reset(&mut self) -> Result<()> {
        self.control(&json!({"op": "reset"})).map(drop)
    }

    /// The model's pin state (`modes`, `outputs`, `levels`, `analog`, …).
    pub fn state(&mut self) -> Result<Value> {
        self.control(&json!({"op": "state"}))
    }

    /// Every command frame received since the last call, oldest first.
    pub fn take_frames(&mut self) -> Result<Vec<Vec<u8>>> {
        let reply = self.control(&json!({"op": "log", "clear": true}))?;
        let frames = reply["frames"].as_array().cloned().unwrap_or_default();
        Ok(frames
            .iter()
            .filter_map(|f| f["hex"].as_str())
            .map(|hex| {
                hex.split(' ')
                    .filter_map(|h| u8::from_str_radix(h, 16).ok())
                    .collect()
            })
            .collect())
    }
}
