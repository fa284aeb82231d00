//! Clients' IP addresses in the log: kept out of info and warning lines unless the operator
//! asks for them (`--log-addresses`). A log kept for weeks, shipped to a journal or shared in
//! a bug report should not be a record of who connected from where; debug lines (`-v`) still
//! carry addresses, for an operator chasing one client.
//!
//! A switch for the whole process, set once at start-up beside the log's other settings: the
//! log itself (the `tracing` subscriber) is the process's too.

use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::field::DisplayValue;

/// Whether info and warning lines name clients' addresses.
static SHOWN: AtomicBool = AtomicBool::new(false);

/// Info and warning lines name clients' addresses from now on (`--log-addresses`), or not.
pub fn show(shown: bool) {
    SHOWN.store(shown, Ordering::Relaxed);
}

/// An address (or address block) as a field of an info or warning line: written out with
/// `--log-addresses`; without it `None`, which `tracing` leaves out of the line.
pub fn shown<T: Display>(address: T) -> Option<DisplayValue<T>> {
    SHOWN.load(Ordering::Relaxed).then(|| tracing::field::display(address))
}
