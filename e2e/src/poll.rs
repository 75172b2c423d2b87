//! Waiting for the cluster with a deadline: no sleeps as synchronisation.

use std::time::{Duration, Instant};

/// Polls `check` until it returns `Ok`, or panics after `timeout` with the last
/// observed state (the `Err` text), so a failure says what the test saw.
pub fn poll<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    let mut last;
    loop {
        match check() {
            Ok(value) => return value,
            Err(state) => last = state,
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}; last observed:\n{last}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
