//! Other systems (BSDs, …): no probe is read; the byte budgets are off and the count bound and
//! the stall timeout remain.

use std::os::fd::RawFd;

use super::TcpSendState;

/// Not measurable here: the byte budget is off.
pub(crate) fn heap_in_use() -> Option<usize> {
    None
}

/// Not available here.
pub(crate) fn tcp_send_state(_fd: RawFd) -> Option<TcpSendState> {
    None
}

/// Not available here.
pub(crate) fn tcp_bytes_received(_fd: RawFd) -> Option<u64> {
    None
}

/// Not available here.
pub(crate) fn send_queue(_fd: RawFd) -> Option<u32> {
    None
}

/// Not listed here: the subscription-flood watch sees no connection.
pub(crate) fn open_descriptors() -> Vec<RawFd> {
    Vec::new()
}

/// [`shut_down`](super::shut_down).
pub(crate) fn abort(fd: RawFd) -> std::io::Result<()> {
    super::shut_down(fd)
}
