//! The board's one logging door: [`info!`](crate::info), [`warn!`](crate::warn) and
//! [`error!`](crate::error) go to defmt (over RTT) with the `defmt` feature and nowhere
//! without it — the arguments are still evaluated by reference, so nothing is "unused" and
//! the smallest build needs no `cfg` in the binaries. Format strings must be valid for defmt.
//! Modelled on embassy's `fmt.rs` (and `banyan-mcu`'s).
//!
//! Without `defmt` there is no panic-probe either: this module's panic handler resets the
//! chip, so a field device comes back by itself (the gateway sees a new boot nonce).

/// Logs at info level through defmt (feature `defmt`), or nowhere.
#[macro_export]
macro_rules! info {
    ($s:literal $(, $x:expr)* $(,)?) => {
        {
            #[cfg(feature = "defmt")]
            ::defmt::info!($s $(, $x)*);
            #[cfg(not(feature = "defmt"))]
            let _ = ($( & $x ),*);
        }
    };
}

/// Logs at warn level through defmt (feature `defmt`), or nowhere.
#[macro_export]
macro_rules! warn {
    ($s:literal $(, $x:expr)* $(,)?) => {
        {
            #[cfg(feature = "defmt")]
            ::defmt::warn!($s $(, $x)*);
            #[cfg(not(feature = "defmt"))]
            let _ = ($( & $x ),*);
        }
    };
}

/// Logs at error level through defmt (feature `defmt`), or nowhere.
#[macro_export]
macro_rules! error {
    ($s:literal $(, $x:expr)* $(,)?) => {
        {
            #[cfg(feature = "defmt")]
            ::defmt::error!($s $(, $x)*);
            #[cfg(not(feature = "defmt"))]
            let _ = ($( & $x ),*);
        }
    };
}

#[cfg(feature = "defmt")]
use {defmt_rtt as _, panic_probe as _};

/// Without defmt (and so without panic-probe), a panic resets the chip.
#[cfg(not(feature = "defmt"))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    cortex_m::peripheral::SCB::sys_reset()
}
