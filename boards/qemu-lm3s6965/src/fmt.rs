//! The board's one logging door: [`info!`](crate::info), [`warn!`](crate::warn) and
//! [`error!`](crate::error) go to defmt (over semihosting, to QEMU's stdout) with the `defmt`
//! feature and nowhere without it — the arguments are still evaluated by reference, so nothing is "unused" and
//! the smallest build needs no `cfg` in the binaries. Format strings must be valid for defmt.
//! Modelled on embassy's `fmt.rs` (and `banyan-mcu`'s).

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
