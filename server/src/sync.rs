//! Taking a `std::sync::Mutex`, the one way the server does it.
//!
//! The server's locks guard data that every update leaves consistent (a single insert, push or
//! pop), so a lock poisoned by a panic elsewhere is used as it is: that panic costs only the
//! task it happened in, not every later user of the lock.

use std::sync::{Mutex, MutexGuard, PoisonError};

pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
