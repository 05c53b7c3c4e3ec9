//! Board support for QEMU's `lm3s6965evb` (TI Stellaris LM3S6965, Cortex-M3): a SysTick
//! millisecond clock, semihosting exit and the logging door. The UART is
//! `banyan_firmware::pl011` (shared with the Pico's blocking firmware).
//!
//! Firmware: `src/bin/echo.rs`, `sensor.rs`, `onegpio.rs`; `scripts/qemu-e2e.sh --app NAME`
//! (repository root) runs each against the real backplane and gateway.
#![no_std]
#![deny(missing_docs)]

mod fmt;
pub mod systick;

/// Ends the QEMU run with `code` as QEMU's exit status (0 success, 1 failure), through
/// semihosting (`SYS_EXIT`). QEMU must run with `-semihosting-config enable=on`; without it
/// the call would hang, which is why the scripts always wrap QEMU in `timeout`.
pub fn exit(success: bool) -> ! {
    use cortex_m_semihosting::debug;
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Not reached under QEMU; on hardware without a debugger, stop here.
    loop {
        cortex_m::asm::wfi();
    }
}
