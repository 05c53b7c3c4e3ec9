//! Time arithmetic for small cores.

/// `micros / 1000` without a 64-bit division.
///
/// Cortex-M0+ (thumbv6m) has no divide instruction; a `u64 / u64` pulls in compiler-builtins'
/// 64-bit division routine, ~0.9 KiB of flash — a measurable part of a 16 KiB firmware whose
/// only 64-bit division is turning the 1 MHz timer into milliseconds. This is schoolbook long
/// division in 16-bit digits: four `u32` divisions (the partial remainder is below 1000, so
/// each partial dividend is below 1000 · 2¹⁶ and fits a `u32`).
///
/// ```
/// use banyan_firmware::time::micros_to_millis;
/// assert_eq!(micros_to_millis(1_999), 1);
/// assert_eq!(micros_to_millis(u64::MAX), u64::MAX / 1000);
/// ```
pub const fn micros_to_millis(micros: u64) -> u64 {
    let mut quotient: u64 = 0;
    let mut remainder: u32 = 0;
    let mut shift = 48;
    loop {
        let digit = ((micros >> shift) & 0xFFFF) as u32;
        let partial = (remainder << 16) | digit;
        quotient = (quotient << 16) | (partial / 1000) as u64;
        remainder = partial % 1000;
        if shift == 0 {
            return quotient;
        }
        shift -= 16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges() {
        for us in [
            0,
            1,
            999,
            1000,
            1001,
            65_535,
            65_536,
            65_999_999,
            u64::from(u32::MAX),
        ] {
            assert_eq!(micros_to_millis(us), us / 1000, "{us}");
        }
        assert_eq!(micros_to_millis(u64::MAX), u64::MAX / 1000);
    }

    proptest::proptest! {
        #[test]
        fn matches_the_division(us in proptest::num::u64::ANY) {
            proptest::prop_assert_eq!(micros_to_millis(us), us / 1000);
        }
    }
}
