//! When to try a call again, as a pure function of what failed, how many
//! attempts were made and how long they took. The admin client applies it;
//! the tests here pin it without a socket or a clock.

use std::time::Duration;

use super::config::ClientSettings;

/// What a failed attempt was, as far as retrying goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The connection failed, closed or timed out: reconnect (to that
    /// broker, or to any for a call any broker can serve) and retry.
    Network,
    /// A retriable Kafka code (NOT_CONTROLLER, LEADER_NOT_AVAILABLE,
    /// REQUEST_TIMED_OUT): refresh metadata and retry.
    Retriable,
    /// Anything else: retrying would get the same answer.
    Fatal,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait, refresh metadata (a leader or the controller may have moved,
    /// a broker may be gone), and try again.
    Retry {
        after: Duration,
    },
    GiveUp,
}

/// The wait before retry number `retry` (1 for the first): Kafka's
/// exponential backoff, `retry.backoff.ms` doubled per retry, capped at
/// `retry.backoff.max.ms`. No jitter: one client, and runs stay repeatable.
pub fn backoff(s: &ClientSettings, retry: u32) -> Duration {
    let factor = 1u32
        .checked_shl(retry.saturating_sub(1))
        .unwrap_or(u32::MAX);
    s.retry_backoff
        .checked_mul(factor)
        .unwrap_or(Duration::MAX)
        .min(s.retry_backoff_max)
}

/// Whether to retry after `attempts` attempts (the failed one included)
/// that have taken `elapsed` so far. A retry must start before the API
/// timeout, so a wait that would end past it gives up now.
pub fn decide(s: &ClientSettings, failure: Failure, attempts: u32, elapsed: Duration) -> Decision {
    if failure == Failure::Fatal || attempts > s.retries {
        return Decision::GiveUp;
    }
    let after = backoff(s, attempts);
    if elapsed.saturating_add(after) >= s.api_timeout {
        return Decision::GiveUp;
    }
    Decision::Retry { after }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ClientSettings {
        ClientSettings::with_timeout(Duration::from_secs(30))
    }

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn backoff_doubles_from_100_ms_to_1_s() {
        let s = settings();
        let waits: Vec<Duration> = (1..=7).map(|r| backoff(&s, r)).collect();
        assert_eq!(
            waits,
            vec![
                MS(100),
                MS(200),
                MS(400),
                MS(800),
                MS(1000),
                MS(1000),
                MS(1000)
            ]
        );
        assert_eq!(backoff(&s, 40), MS(1000), "no overflow far out");
        assert_eq!(backoff(&s, u32::MAX), MS(1000));
        let mut t = settings();
        t.retry_backoff = MS(0);
        assert_eq!(backoff(&t, 3), MS(0));
    }

    #[test]
    fn retries_network_and_retriable_failures_only() {
        let s = settings();
        for f in [Failure::Network, Failure::Retriable] {
            assert_eq!(
                decide(&s, f, 1, MS(0)),
                Decision::Retry { after: MS(100) },
                "{f:?}"
            );
            assert_eq!(
                decide(&s, f, 3, MS(500)),
                Decision::Retry { after: MS(400) }
            );
        }
        assert_eq!(decide(&s, Failure::Fatal, 1, MS(0)), Decision::GiveUp);
    }

    #[test]
    fn gives_up_at_the_retry_count() {
        let mut s = settings();
        s.retries = 2;
        assert!(matches!(
            decide(&s, Failure::Network, 1, MS(0)),
            Decision::Retry { .. }
        ));
        assert!(matches!(
            decide(&s, Failure::Network, 2, MS(0)),
            Decision::Retry { .. }
        ));
        assert_eq!(decide(&s, Failure::Network, 3, MS(0)), Decision::GiveUp);
        s.retries = 0;
        assert_eq!(decide(&s, Failure::Retriable, 1, MS(0)), Decision::GiveUp);
    }

    #[test]
    fn gives_up_when_the_wait_would_pass_the_api_timeout() {
        let mut s = settings();
        s.api_timeout = MS(1000);
        // A wait fits only if it ends before the timeout.
        assert!(
            matches!(decide(&s, Failure::Network, 3, MS(599)), Decision::Retry { after } if after == MS(400))
        );
        assert_eq!(decide(&s, Failure::Network, 3, MS(600)), Decision::GiveUp);
        assert_eq!(decide(&s, Failure::Network, 4, MS(700)), Decision::GiveUp);
        assert_eq!(decide(&s, Failure::Network, 1, MS(900)), Decision::GiveUp);
        assert_eq!(
            decide(&s, Failure::Network, 1, MS(899)),
            Decision::Retry { after: MS(100) }
        );
    }
}
