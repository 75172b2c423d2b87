//! Every duration the operator waits, polls or backs off by, in one place, so their
//! relations are visible (a requeue shorter than a lease, a refresh shorter than a
//! certificate's life) and tests use the same values as the code.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// How long a healthy, idle ModelDeployment (or Team) waits before it is looked at again.
pub const IDLE_REQUEUE: Duration = Duration::from_secs(300);
/// How often a rollout is checked besides the watch: its completion is a watch event,
/// and its deadline a requeue of its own, so this is only a safety net.
pub const ROLLOUT_POLL: Duration = Duration::from_secs(60);
/// Shortest requeue a decision asks for, so a deadline reached "now" is not a hot loop.
pub const MIN_REQUEUE: Duration = Duration::from_secs(1);
/// Retry after a write lost a race (HTTP 409): at once, with the current version.
pub const CONFLICT_RETRY: Duration = Duration::from_millis(500);
/// Longest wait between retries of a failing reconcile (exponential from 2 s).
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Watch retries while the API server cannot be reached: from the first to the cap,
/// doubling. A refused connection costs the server nothing, and a control-plane restart
/// must not leave the caches a long backoff behind (client-go's reflector backs off to
/// 30 s; Accord's gate waits on these caches).
pub const WATCH_RETRY_FIRST: Duration = Duration::from_millis(100);
pub const WATCH_RETRY_UNREACHABLE_MAX: Duration = Duration::from_secs(1);
/// Watch retries when the API server answers with an error (429, 5xx, 403): it is up and
/// said no, so back off as client-go does.
pub const WATCH_RETRY_REFUSED_MAX: Duration = Duration::from_secs(30);
/// Team status counts change with every sign-off; a Team is recounted at most this often.
pub const TEAM_DEBOUNCE: Duration = Duration::from_secs(1);

/// How often every replica re-reads the seal keys, so a rotation reaches all of them.
pub const SEAL_KEY_REFRESH: Duration = Duration::from_secs(30);
/// How long the webhook waits for its caches before answering from live reads.
pub const WEBHOOK_CACHE_SYNC: Duration = Duration::from_secs(30);
/// How often certificate files given with `--webhook-cert-file` are checked for changes.
pub const CERT_FILE_POLL: Duration = Duration::from_secs(10);
/// Bounds of the self-managed certificate's renewal check (a twelfth of its validity).
pub const CERT_CHECK_MIN: Duration = Duration::from_secs(2);
pub const CERT_CHECK_MAX: Duration = Duration::from_secs(60);
/// Retry bounds when the webhook configurations cannot be written.
pub const WEBHOOK_CONFIG_RETRY_MIN: Duration = Duration::from_secs(1);
pub const WEBHOOK_CONFIG_RETRY_MAX: Duration = Duration::from_secs(60);

/// Leader Lease duration and the grace before its renewal, in seconds.
pub const LEASE_SECONDS: u64 = 15;
pub const LEASE_GRACE_SECONDS: u64 = 5;
/// How long a stopping leader waits to release its Lease.
pub const LEASE_RELEASE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often start-up checks whether the CRDs are Established, and how often it says so.
pub const CRD_POLL: Duration = Duration::from_secs(2);
pub const CRD_WAIT_REPORT: Duration = Duration::from_secs(10);

/// How often PromotionRecords past `--record-retention` are deleted, and records whose
/// create failed are tried again.
pub const RECORD_MAINTENANCE: Duration = Duration::from_secs(300);

/// Parses `30s`, `15m`, `24h`, `1h30m`, `500ms`, and `90d` for flags (the CRD patterns
/// admit no days).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let value: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (Duration::from_millis(1), 2)
        } else {
            match rest.chars().next()? {
                's' => (Duration::from_secs(1), 1),
                'm' => (Duration::from_secs(60), 1),
                'h' => (Duration::from_secs(3600), 1),
                'd' => (Duration::from_secs(86_400), 1),
                _ => return None,
            }
        };
        total += unit.checked_mul(u32::try_from(value).ok()?)?;
        rest = &rest[len..];
    }
    Some(total)
}

/// Time from `since` to `now`, never negative.
pub fn elapsed(since: &Time, now: &Time) -> Duration {
    let secs = now.0.as_second() - since.0.as_second();
    Duration::from_secs(secs.max(0) as u64)
}

/// A count of seconds from the API (never negative) as a duration.
pub fn seconds(secs: i32) -> Duration {
    Duration::from_secs(secs.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("24h"), Some(Duration::from_secs(86400)));
        assert_eq!(
            parse_duration("90d"),
            Some(Duration::from_secs(90 * 86_400))
        );
        assert_eq!(parse_duration("1w"), None);
        assert_eq!(parse_duration(""), None);
    }
}
