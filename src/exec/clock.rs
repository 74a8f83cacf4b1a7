//! Time as the executor's driver sees it: a trait, so the same loop runs
//! on the wall clock against a real cluster and on stepped time against
//! the in-process cluster, where a sleep advances the simulated cluster
//! instead of waiting.

use std::time::Duration;

/// The driver's only source of time.
#[allow(async_fn_in_trait)]
pub trait Clock {
    /// Time since the clock started.
    fn now(&self) -> Duration;

    /// Waits `d` (or, on stepped time, advances everything by `d`).
    async fn sleep(&mut self, d: Duration);
}

/// The wall clock, for live commands.
pub struct WallClock {
    start: tokio::time::Instant,
}

impl WallClock {
    pub fn new() -> WallClock {
        WallClock {
            start: tokio::time::Instant::now(),
        }
    }
}

impl Default for WallClock {
    fn default() -> Self {
        WallClock::new()
    }
}

impl Clock for WallClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    async fn sleep(&mut self, d: Duration) {
        tokio::time::sleep(d).await
    }
}
