//! The server's clock: the one source of "now" for protocol code.

use std::sync::atomic::{AtomicI64, Ordering};

/// Unix time in seconds. Protocol code receives `now` from here and never reads the system
/// clock itself; tests move the offset to exercise expiry without sleeping, and freeze it
/// where an assertion sits on a one-second boundary (a real second ticking over between two
/// reads would otherwise make such a test flaky).
#[derive(Default)]
pub struct Clock {
    offset: AtomicI64,
    /// When set, the wall-clock reading at which time stopped; `advance` still moves it.
    frozen_at: std::sync::OnceLock<i64>,
}

impl Clock {
    pub fn now(&self) -> i64 {
        let base = match self.frozen_at.get() {
            Some(at) => *at,
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
        };
        base + self.offset.load(Ordering::Relaxed)
    }

    /// Stops the clock at the present moment (for tests); only `advance` moves it after this.
    pub fn freeze(&self) {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let _ = self.frozen_at.set(wall);
    }

    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::Relaxed);
    }
}
