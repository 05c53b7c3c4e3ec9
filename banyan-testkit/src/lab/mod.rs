//! The link lab: links between a test and the code under test (in memory, Unix sockets,
//! TCP, a paced serial line), the faults that damage them, and the devices on their far
//! end (a frame-level MCU, a Pico W over TCP, a Firmata board, a raw ZMTP peer).
//!
//! - `clock`: `SimClock`, simulated milliseconds.
//! - `mem`, `link`: in-memory link ends; links offered to the gateway, std streams as
//!   embedded-io.
//! - `fault` (with `fault/`), `relay`: frame damage around any link; faulting relays and
//!   proxies between real sockets.
//! - `linerate`, `wire`: a serial line paced at a baud rate; a virtual serial cable.
//! - `mcu`, `tcp_device`, `firmata_board`, `telemetrix`, `zmtp`: the devices and peers: a raw
//!   MCU, a simulated Pico W, a StandardFirmata board, a Telemetrix board, a hostile ZMTP
//!   subscriber.

pub mod clock;
pub mod fault;
pub mod firmata_board;
pub mod linerate;
pub mod link;
pub mod mcu;
pub mod mem;
pub mod relay;
pub mod tcp_device;
pub mod telemetrix;
pub mod wire;
pub mod zmtp;
