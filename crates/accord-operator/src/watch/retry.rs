//! When a failed watch tries again. kube's default (800 ms doubling to 30 s, whatever
//! the error) kept the caches up to 30 s behind an API server that had restarted: the
//! backoff grew through the outage, and the `410 Expired` every watch gets from a
//! restarted server cost one more step. Here, as in client-go's reflector, a `410` re-lists
//! at once; an unreachable server is retried quickly (a refused connection costs it
//! nothing), and only a server that answers with an error is backed off from for long.

use std::time::Duration;

use kube::runtime::watcher;

use crate::timing;

/// What a watch error says about the API server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// `410 Gone`: the resource version is too old (after a restart, or a long pause);
    /// the watcher has already dropped it and re-lists on its next step.
    Expired,
    /// The server answered with another error status.
    Refused,
    /// No answer: connection refused or reset, a timeout, a broken stream.
    Unreachable,
}

impl Failure {
    /// Classifies a watcher error.
    pub fn of(error: &watcher::Error) -> Self {
        let client = match error {
            watcher::Error::WatchError(status) => return Self::of_status(status.code),
            watcher::Error::NoResourceVersion => return Self::Refused,
            watcher::Error::InitialListFailed(e)
            | watcher::Error::WatchStartFailed(e)
            | watcher::Error::WatchFailed(e) => e,
        };
        match client {
            kube::Error::Api(status) => Self::of_status(status.code),
            _ => Self::Unreachable,
        }
    }

    fn of_status(code: u16) -> Self {
        if code == 410 {
            Self::Expired
        } else {
            Self::Refused
        }
    }
}

/// One watch's retry state.
#[derive(Debug, Default)]
pub struct Retry {
    /// Consecutive failures since the last success (or since the server answered again).
    failures: u32,
    /// The last failure since the last success.
    last: Option<Failure>,
}

impl Retry {
    /// The wait before the next attempt after `failure`. `jitter` in `[0, 1)` spreads
    /// the watches of many replicas: the wait is between half and all of the step.
    pub fn after(&mut self, failure: Failure, jitter: f64) -> Duration {
        let last = self.last.replace(failure);
        if last == Some(Failure::Unreachable) && failure != Failure::Unreachable {
            // The server answers again: what the outage counted says nothing about it.
            // (Right after a restart it may refuse for a moment, e.g. 403 until its RBAC
            // cache has synced.)
            self.failures = 0;
        }
        if failure == Failure::Expired && last != Some(Failure::Expired) {
            return Duration::ZERO;
        }
        let cap = match failure {
            Failure::Unreachable => timing::WATCH_RETRY_UNREACHABLE_MAX,
            Failure::Expired | Failure::Refused => timing::WATCH_RETRY_REFUSED_MAX,
        };
        let step = timing::WATCH_RETRY_FIRST
            .saturating_mul(2u32.saturating_pow(self.failures))
            .min(cap);
        self.failures = self.failures.saturating_add(1);
        step.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }

    /// The watch delivered an event: the next failure starts from the first step.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.last = None;
    }
}

/// A number in `[0, 1)` from the clock's nanoseconds: enough to spread retries.
pub fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1_000_000) / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(retry: &mut Retry, failure: Failure) -> Duration {
        // jitter just under 1: the whole step.
        retry.after(failure, 0.999_999)
    }

    #[test]
    fn an_unreachable_server_is_retried_within_a_second_however_long_it_is_down() {
        let mut retry = Retry::default();
        let waits: Vec<u128> = (0..30)
            .map(|_| full(&mut retry, Failure::Unreachable).as_millis())
            .collect();
        assert_eq!(&waits[..5], &[99, 199, 399, 799, 999]);
        assert!(waits.iter().all(|w| *w <= 1000), "{waits:?}");
    }

    #[test]
    fn expired_relists_at_once_after_an_outage_and_backs_off_when_it_repeats() {
        let mut retry = Retry::default();
        for _ in 0..20 {
            full(&mut retry, Failure::Unreachable);
        }
        assert_eq!(full(&mut retry, Failure::Expired), Duration::ZERO);
        // A second 410 in a row without success is not a restart: back off.
        assert!(full(&mut retry, Failure::Expired) > Duration::ZERO);
        retry.succeeded();
        assert_eq!(full(&mut retry, Failure::Expired), Duration::ZERO);
    }

    #[test]
    fn a_server_that_answers_again_is_retried_from_the_first_step() {
        // Seen after a restart: connection refused for ten seconds, then 403 for a
        // moment (the RBAC cache not yet synced), then 410 on the old resource version.
        let mut retry = Retry::default();
        for _ in 0..100 {
            full(&mut retry, Failure::Unreachable);
        }
        assert_eq!(full(&mut retry, Failure::Refused).as_millis(), 99);
        assert_eq!(full(&mut retry, Failure::Refused).as_millis(), 199);
        assert_eq!(full(&mut retry, Failure::Expired), Duration::ZERO);
    }

    #[test]
    fn a_server_that_refuses_is_backed_off_from_up_to_thirty_seconds() {
        let mut retry = Retry::default();
        let waits: Vec<Duration> = (0..20)
            .map(|_| full(&mut retry, Failure::Refused))
            .collect();
        assert!(waits[10] > Duration::from_secs(25), "{waits:?}");
        assert!(waits.iter().all(|w| *w <= timing::WATCH_RETRY_REFUSED_MAX));
        retry.succeeded();
        assert_eq!(
            full(&mut retry, Failure::Refused).as_millis(),
            99,
            "a success starts again from the first step"
        );
    }

    #[test]
    fn jitter_keeps_at_least_half_the_step() {
        let mut retry = Retry::default();
        assert_eq!(
            retry.after(Failure::Unreachable, 0.0),
            Duration::from_millis(50)
        );
        assert!((0..100).map(|_| jitter()).all(|j| (0.0..1.0).contains(&j)));
    }

    #[test]
    fn errors_are_classified_by_what_the_server_said() {
        let status = |code| {
            Box::new(kube::core::Status {
                code,
                ..Default::default()
            })
        };
        assert_eq!(
            Failure::of(&watcher::Error::WatchError(status(410))),
            Failure::Expired
        );
        assert_eq!(
            Failure::of(&watcher::Error::InitialListFailed(kube::Error::Api(
                status(410)
            ))),
            Failure::Expired
        );
        assert_eq!(
            Failure::of(&watcher::Error::WatchStartFailed(kube::Error::Api(status(
                429
            )))),
            Failure::Refused
        );
        assert_eq!(
            Failure::of(&watcher::Error::WatchFailed(kube::Error::Service(
                "connection refused".into()
            ))),
            Failure::Unreachable
        );
    }
}
