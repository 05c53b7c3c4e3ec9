//! [`nonce`]: a random number per call, for names that must not collide between components
//! and processes: probe topics, in-process endpoints (stop sockets, publisher outboxes), the
//! gateway's boot nonce.

/// A random number per call (std's `RandomState` keys, mixed with the process id).
pub fn nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}
