//! A millisecond clock from the SysTick exception, implementing `banyan_mcu::Clock`.

use core::cell::Cell;

use banyan_mcu::Clock;
use cortex_m::interrupt::Mutex;
use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;

/// Core clock of QEMU's lm3s6965evb after reset: the RCC reset value bypasses the PLL and
/// QEMU derives 12.5 MHz from it (80 ns per cycle). Measured with semihosting `SYS_CLOCK`:
/// 5 s of SysTick milliseconds took 5.1 s of host time (QEMU's virtual clock follows the
/// host's; emulation overhead stretches it a little under load).
pub const QEMU_CORE_HZ: u32 = 12_500_000;

static MILLIS: Mutex<Cell<u64>> = Mutex::new(Cell::new(0));

/// The SysTick millisecond clock. Create it with [`SysTickClock::start`].
#[derive(Debug, Clone, Copy)]
pub struct SysTickClock(());

impl SysTickClock {
    /// Starts SysTick on the core clock (`core_hz`) with one exception per millisecond.
    pub fn start(mut syst: SYST, core_hz: u32) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(core_hz / 1000 - 1);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        SysTickClock(())
    }

    /// Milliseconds since [`start`](Self::start); usable before a `SysTickClock` exists (for
    /// defmt timestamps), 0 until then.
    pub fn millis() -> u64 {
        cortex_m::interrupt::free(|cs| MILLIS.borrow(cs).get())
    }
}

impl Clock for SysTickClock {
    fn now_ms(&self) -> u64 {
        Self::millis()
    }
}

#[exception]
fn SysTick() {
    cortex_m::interrupt::free(|cs| {
        let millis = MILLIS.borrow(cs);
        millis.set(millis.get() + 1);
    });
}
