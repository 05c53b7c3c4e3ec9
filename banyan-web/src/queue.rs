//! [`DropOldest`]: the bounded per-client queue between the backplane task and a browser.
//!
//! The backplane task must never wait for a browser, so [`DropOldest::push`] never blocks:
//! when the queue holds `max_items` messages or `max_bytes` bytes, the oldest messages are
//! dropped (and counted) to make room. A message larger than `max_bytes` on its own is
//! dropped at once. The client's task waits with [`DropOldest::pop`].

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

/// What [`DropOldest::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pushed {
    /// Whether the new message is in the queue.
    pub queued: bool,
    /// Messages dropped by this push (old ones, or the new one when `queued` is false).
    pub dropped: u64,
}

#[derive(Debug)]
struct Inner<T> {
    items: VecDeque<(T, usize)>,
    bytes: usize,
    closed: bool,
}

/// A bounded multi-producer queue that drops its oldest entries instead of blocking.
#[derive(Debug)]
pub struct DropOldest<T> {
    inner: Mutex<Inner<T>>,
    ready: Notify,
    max_items: usize,
    max_bytes: usize,
    dropped: AtomicU64,
    pushed: AtomicU64,
}

impl<T> DropOldest<T> {
    /// A queue of at most `max_items` messages (at least 1) and `max_bytes` bytes.
    pub fn new(max_items: usize, max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                bytes: 0,
                closed: false,
            }),
            ready: Notify::new(),
            max_items: max_items.max(1),
            max_bytes,
            dropped: AtomicU64::new(0),
            pushed: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<T>> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `item` of `size` bytes, dropping the oldest entries as needed. Never blocks
    /// (beyond a short lock). A closed queue drops everything.
    pub fn push(&self, item: T, size: usize) -> Pushed {
        self.pushed.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.lock();
        if inner.closed || size > self.max_bytes {
            drop(inner);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return Pushed {
                queued: false,
                dropped: 1,
            };
        }
        let mut dropped = 0;
        while inner.items.len() >= self.max_items || inner.bytes + size > self.max_bytes {
            match inner.items.pop_front() {
                Some((_, old)) => {
                    inner.bytes -= old;
                    dropped += 1;
                }
                None => break,
            }
        }
        inner.items.push_back((item, size));
        inner.bytes += size;
        drop(inner);
        if dropped > 0 {
            self.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
        self.ready.notify_one();
        Pushed {
            queued: true,
            dropped,
        }
    }

    /// Takes the oldest message, waiting for one; `None` once the queue is closed.
    pub async fn pop(&self) -> Option<T> {
        loop {
            let notified = self.ready.notified();
            {
                let mut inner = self.lock();
                if inner.closed {
                    return None;
                }
                if let Some((item, size)) = inner.items.pop_front() {
                    inner.bytes -= size;
                    return Some(item);
                }
            }
            notified.await;
        }
    }

    /// Takes the oldest message without waiting.
    pub fn try_pop(&self) -> Option<T> {
        let mut inner = self.lock();
        let (item, size) = inner.items.pop_front()?;
        inner.bytes -= size;
        Some(item)
    }

    /// Empties the queue and refuses later pushes; a waiting [`pop`](Self::pop) returns
    /// `None`.
    pub fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.items.clear();
        inner.bytes = 0;
        drop(inner);
        self.ready.notify_waiters();
        self.ready.notify_one();
    }

    /// Messages and bytes queued now.
    pub fn len(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.items.len(), inner.bytes)
    }

    /// `true` when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.lock().items.is_empty()
    }

    /// Messages dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Messages pushed so far (queued or dropped).
    pub fn pushed(&self) -> u64 {
        self.pushed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn drops_the_oldest_by_count_and_by_bytes() {
        let queue = DropOldest::new(3, 100);
        for i in 0..5 {
            queue.push(i, 10);
        }
        assert_eq!(queue.len(), (3, 30));
        assert_eq!(queue.dropped(), 2);
        assert_eq!(queue.try_pop(), Some(2));
        let pushed = queue.push(9, 80); // 3 + 4 = 20 bytes queued, 20 + 80 = 100 fits
        assert_eq!(
            pushed,
            Pushed {
                queued: true,
                dropped: 0
            }
        );
        let pushed = queue.push(10, 50); // needs 50: drops 3, 4 (and 9)
        assert_eq!(
            pushed,
            Pushed {
                queued: true,
                dropped: 3
            }
        );
        assert_eq!(queue.len(), (1, 50));
        let pushed = queue.push(11, 101); // larger than the whole queue
        assert_eq!(
            pushed,
            Pushed {
                queued: false,
                dropped: 1
            }
        );
        assert_eq!(queue.try_pop(), Some(10));
        assert_eq!(queue.try_pop(), None);
        assert_eq!(queue.dropped(), 6);
        assert_eq!(queue.pushed(), 8);
    }

    #[test]
    fn pop_waits_and_close_wakes() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let queue = Arc::new(DropOldest::new(4, 1024));
            let producer = {
                let queue = queue.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(20));
                    queue.push("late", 4);
                })
            };
            assert_eq!(queue.pop().await, Some("late"));
            producer.join().expect("producer");
            let waiter = {
                let queue = queue.clone();
                tokio::spawn(async move { queue.pop().await })
            };
            tokio::task::yield_now().await;
            queue.close();
            assert_eq!(waiter.await.expect("task"), None);
            assert!(!queue.push("after", 5).queued);
        });
    }
}
