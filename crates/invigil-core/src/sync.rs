//! Locking shared with every thread of a session.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, taking the data over even when a thread panicked while
/// holding it: the state a session keeps under its locks (snapshots,
/// journals, counters) stays consistent after each statement, and one
/// failed thread must not take the session and its UI down with it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
