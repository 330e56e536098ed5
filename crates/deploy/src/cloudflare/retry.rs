//! [`RetryPolicy`]: how often and how patiently the Cloudflare deployer tries a request again.

use std::time::Duration;

use rand::Rng;

/// Retries of Cloudflare requests: exponential backoff with jitter on rate limiting (429,
/// honouring `Retry-After`), server errors (5xx), timeouts and connection failures; never on
/// other 4xx answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included (at least one).
    pub max_attempts: u32,
    /// The delay before the first retry; it doubles with every further retry.
    pub base_delay: Duration,
    /// The longest delay between two attempts, `Retry-After` excepted: Cloudflare's word on
    /// when to come back is always honoured.
    pub max_delay: Duration,
    /// How long one request may take, answer included, before it counts as timed out.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1`, after `attempt` (1-based) failed: "equal
    /// jitter", a uniformly random point in the upper half of the exponential delay, so
    /// deployers that failed together do not retry together; never less than `retry_after`.
    pub(crate) fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.max_delay);
        let half = exp / 2;
        let jitter = if half.is_zero() {
            Duration::ZERO
        } else {
            rand::rng().random_range(Duration::ZERO..=half)
        };
        (half + jitter).max(retry_after.unwrap_or_default())
    }

    pub(crate) fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_bounds() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            request_timeout: Duration::from_secs(1),
        };
        for _ in 0..100 {
            let first = policy.delay(1, None);
            assert!((50..=100).contains(&first.as_millis()), "{first:?}");
            let third = policy.delay(3, None);
            assert!((200..=400).contains(&third.as_millis()), "{third:?}");
            let capped = policy.delay(30, None);
            assert!((500..=1000).contains(&capped.as_millis()), "{capped:?}");
        }
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
    }
}
