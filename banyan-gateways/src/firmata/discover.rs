//! Finding an Arduino among the serial ports by its USB vendor id, as pymata-express does
//! when no port is given (and a Raspberry Pi Pico for `rpgw`, as tmx-pico-aio does:
//! [`picos`]).
//!
//! Linux: each `/sys/class/tty/NAME/device` of a USB serial port links into the USB device's
//! directory tree; the nearest ancestor with an `idVendor` file is the USB device. Reading
//! sysfs directly keeps the workspace free of libudev (which `serialport`'s port listing
//! with USB details needs). Other systems: no discovery; `-c PORT` is required.

use std::path::{Path, PathBuf};

/// USB vendor ids of boards and USB-serial chips found on Arduinos and their clones.
pub const VENDORS: [(u16, &str); 6] = [
    (0x2341, "Arduino"),
    (0x2A03, "Arduino (arduino.org)"),
    (0x1A86, "CH340 (clone)"),
    (0x0403, "FTDI"),
    (0x10C4, "CP210x"),
    (0x239A, "Adafruit"),
];

/// A serial port that looks like an Arduino.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `/dev/ttyACM0`.
    pub path: PathBuf,
    /// USB vendor id.
    pub vendor: u16,
    /// USB product id.
    pub product: u16,
    /// Who the vendor is.
    pub maker: &'static str,
}

/// The USB vendor id of the Raspberry Pi Pico (RP2040's USB CDC, as Telemetrix4RpiPico
/// enumerates).
pub const PICO_VENDORS: [(u16, &str); 1] = [(0x2E8A, "Raspberry Pi")];

/// The Arduino-like serial ports of this machine, sorted by path.
pub fn arduinos() -> Vec<Candidate> {
    scan(Path::new("/sys/class/tty"), Path::new("/dev"))
}

/// The Raspberry Pi Pico serial ports of this machine, sorted by path.
pub fn picos() -> Vec<Candidate> {
    scan_for(
        Path::new("/sys/class/tty"),
        Path::new("/dev"),
        &PICO_VENDORS,
    )
}

/// The serial ports under `class_tty` (a `/sys/class/tty`) whose USB device has a known
/// vendor id ([`VENDORS`]); device nodes named under `dev`.
pub fn scan(class_tty: &Path, dev: &Path) -> Vec<Candidate> {
    scan_for(class_tty, dev, &VENDORS)
}

/// [`scan`] for the USB vendor ids in `vendors`.
pub fn scan_for(class_tty: &Path, dev: &Path, vendors: &[(u16, &'static str)]) -> Vec<Candidate> {
    let Ok(entries) = std::fs::read_dir(class_tty) else {
        return Vec::new();
    };
    let mut found: Vec<Candidate> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let device = std::fs::canonicalize(entry.path().join("device")).ok()?;
            let (vendor, product) = usb_ids(&device)?;
            let maker = vendors.iter().find(|(v, _)| *v == vendor)?.1;
            Some(Candidate {
                path: dev.join(name),
                vendor,
                product,
                maker,
            })
        })
        .collect();
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

/// The `idVendor` / `idProduct` of the nearest ancestor of `device` that has them (at most
/// four levels up: interface, then device).
fn usb_ids(device: &Path) -> Option<(u16, u16)> {
    let mut dir = Some(device);
    for _ in 0..4 {
        let here = dir?;
        if let (Some(vendor), Some(product)) = (
            hex_file(&here.join("idVendor")),
            hex_file(&here.join("idProduct")),
        ) {
            return Some((vendor, product));
        }
        dir = here.parent();
    }
    None
}

fn hex_file(path: &Path) -> Option<u16> {
    let text = std::fs::read_to_string(path).ok()?;
    u16::from_str_radix(text.trim(), 16).ok()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// A fake sysfs: an Uno on ttyACM0 (interface dir under the USB device), a CH340 on
    /// ttyUSB0 (one level deeper), a built-in UART ttyS0 without USB, and an unknown vendor.
    #[test]
    fn usb_serial_ports_are_found_by_vendor() {
        let root = std::env::temp_dir().join(format!("ardgw-sysfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let usb = root.join("devices/usb1");
        let write = |dir: &Path, vendor: &str, product: &str| {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join("idVendor"), format!("{vendor}\n")).unwrap();
            std::fs::write(dir.join("idProduct"), format!("{product}\n")).unwrap();
        };
        write(&usb.join("1-1"), "2341", "0043");
        write(&usb.join("1-2"), "1a86", "7523");
        write(&usb.join("1-3"), "dead", "beef");
        let uno = usb.join("1-1/1-1:1.0");
        let ch340 = usb.join("1-2/1-2:1.0/ttyUSB0");
        let other = usb.join("1-3/1-3:1.0");
        let uart = root.join("devices/platform/serial8250");
        for dir in [&uno, &ch340, &other, &uart] {
            std::fs::create_dir_all(dir).unwrap();
        }
        let class = root.join("class/tty");
        for (name, target) in [
            ("ttyACM0", &uno),
            ("ttyUSB0", &ch340),
            ("ttyACM1", &other),
            ("ttyS0", &uart),
        ] {
            std::fs::create_dir_all(class.join(name)).unwrap();
            std::os::unix::fs::symlink(target, class.join(name).join("device")).unwrap();
        }
        let found = scan(&class, Path::new("/dev"));
        let unknown = scan_for(&class, Path::new("/dev"), &[(0xDEAD, "test vendor")]);
        let picos = scan_for(&class, Path::new("/dev"), &PICO_VENDORS);
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].path, Path::new("/dev/ttyACM1"));
        assert!(picos.is_empty());
        assert_eq!(
            found,
            [
                Candidate {
                    path: "/dev/ttyACM0".into(),
                    vendor: 0x2341,
                    product: 0x0043,
                    maker: "Arduino"
                },
                Candidate {
                    path: "/dev/ttyUSB0".into(),
                    vendor: 0x1A86,
                    product: 0x7523,
                    maker: "CH340 (clone)"
                },
            ]
        );
    }

    #[test]
    fn no_sysfs_finds_nothing() {
        assert!(scan(Path::new("/nonexistent/class/tty"), Path::new("/dev")).is_empty());
    }
}
