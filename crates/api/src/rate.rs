//! Per-token request rate limits: every API request a token authenticates counts against that
//! token's bucket (a generic cell rate algorithm, the `governor` crate); a request over it is
//! answered `429 rate_limited` with `Retry-After`, before its handler runs.
//!
//! Buckets are kept per token (keyed by the token's SHA-256, never its text) and per process:
//! with several replicas behind a balancer, a token gets up to the limit on each. Only tokens
//! that authenticated get a bucket, so unknown tokens cannot grow the table; buckets back to
//! full are dropped when the table passes [`SWEEP_AT`] entries.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// The table of buckets is swept of full buckets when it holds more than this many.
const SWEEP_AT: usize = 10_000;

/// A rate limit: a sustained rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per second a token may make, sustained.
    pub per_second: NonZeroU32,
    /// Requests a token may make at once after being idle.
    pub burst: NonZeroU32,
}

impl RateLimit {
    /// `per_second` sustained with a burst of ten seconds' worth; `None` when `per_second` is
    /// 0 (no limit).
    pub fn per_second(per_second: u32) -> Option<Self> {
        let per_second = NonZeroU32::new(per_second)?;
        Some(Self {
            per_second,
            burst: per_second.saturating_mul(NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN)),
        })
    }
}

/// The limits of customer and operator tokens; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    /// Each customer API token.
    pub customer: Option<RateLimit>,
    /// Each operator token.
    pub operator: Option<RateLimit>,
}

impl RateLimits {
    /// The server's defaults: 20 requests per second (burst 200) per customer token, 200 per
    /// second (burst 2,000) per operator token.
    pub fn server_default() -> Self {
        Self {
            customer: RateLimit::per_second(20),
            operator: RateLimit::per_second(200),
        }
    }
}

/// The buckets of one class of tokens.
pub(crate) struct Limiter {
    limiter: DefaultKeyedRateLimiter<[u8; 32]>,
    clock: DefaultClock,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("tokens", &self.limiter.len())
            .finish()
    }
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        let quota = Quota::per_second(limit.per_second).allow_burst(limit.burst);
        Self {
            limiter: DefaultKeyedRateLimiter::dashmap(quota),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request of the token whose SHA-256 is `digest`: `Err(wait)` when it is over
    /// the limit, `wait` being how long until one more is allowed.
    pub(crate) fn check(&self, digest: &[u8; 32]) -> Result<(), Duration> {
        if self.limiter.len() > SWEEP_AT {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(digest)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}
