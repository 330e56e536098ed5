//! [`RetrySchedule`]: when the control layer's job queue tries a message again.

use std::time::Duration;

use super::{DeliveryAttempt, DeliveryOutcome, WebhookError};

/// The delays between attempts of one message, and the cap on a receiver's `Retry-After`.
///
/// The default is the Standard Webhooks example schedule up to ten hours: immediately, then
/// 5 s, 5 min, 30 min, 2 h, 5 h and 10 h; seven attempts over about 17.5 hours.
///
/// TODO-scalability: the spec recommends jitter so that retries of many messages to one
/// struggling receiver do not arrive together; the job queue should add it when it schedules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    /// `delays[n]` is the wait before attempt `n + 1`; `delays[0]` is the first attempt's
    /// (normally zero).
    pub delays: Vec<Duration>,
    /// The longest `Retry-After` honoured; a longer one is cut to this.
    pub max_retry_after: Duration,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        const MIN: u64 = 60;
        const HOUR: u64 = 60 * MIN;
        Self {
            delays: [0, 5, 5 * MIN, 30 * MIN, 2 * HOUR, 5 * HOUR, 10 * HOUR]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            max_retry_after: Duration::from_secs(10 * HOUR),
        }
    }
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// The message was delivered.
    Done,
    /// Try again after this long.
    RetryIn(Duration),
    /// Out of attempts, or the failure is not retryable: the message failed for good.
    GiveUp,
    /// The endpoint answered `410 Gone`: disable it and drop its pending messages.
    DisableEndpoint,
}

impl RetrySchedule {
    /// How many attempts a message gets in all.
    pub fn attempts(&self) -> u32 {
        u32::try_from(self.delays.len()).unwrap_or(u32::MAX)
    }

    /// The wait before the attempt after attempt number `attempt` (1-based), or `None` once
    /// every attempt is used.
    pub fn next_delay(&self, attempt: u32) -> Option<Duration> {
        self.delays.get(usize::try_from(attempt).ok()?).copied()
    }

    /// [`RetrySchedule::next_delay`] honouring the receiver's `Retry-After`: the larger of the
    /// scheduled delay and `Retry-After` (capped at `max_retry_after`). `Retry-After` never
    /// adds attempts.
    pub fn next_delay_with(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let scheduled = self.next_delay(attempt)?;
        Some(match retry_after {
            Some(asked) => scheduled.max(asked.min(self.max_retry_after)),
            None => scheduled,
        })
    }

    /// What to do after attempt number `attempt` (1-based) ended with `result`.
    pub fn after(&self, attempt: u32, result: &Result<DeliveryAttempt, WebhookError>) -> NextStep {
        let retry_after = match result {
            Ok(a) => match a.outcome {
                DeliveryOutcome::Delivered => return NextStep::Done,
                DeliveryOutcome::Gone => return NextStep::DisableEndpoint,
                DeliveryOutcome::Retry { after } => after,
            },
            Err(e) if e.is_gone() => return NextStep::DisableEndpoint,
            Err(e) if e.is_retryable() => e.retry_after(),
            Err(_) => return NextStep::GiveUp,
        };
        self.next_delay_with(attempt, retry_after)
            .map_or(NextStep::GiveUp, NextStep::RetryIn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn s(secs: u64) -> Option<Duration> {
        Some(Duration::from_secs(secs))
    }

    #[test]
    fn default_schedule() {
        let r = RetrySchedule::default();
        assert_eq!(r.attempts(), 7);
        assert_eq!(r.next_delay(0), s(0));
        assert_eq!(r.next_delay(1), s(5));
        assert_eq!(r.next_delay(2), s(300));
        assert_eq!(r.next_delay(3), s(1800));
        assert_eq!(r.next_delay(4), s(7200));
        assert_eq!(r.next_delay(5), s(18_000));
        assert_eq!(r.next_delay(6), s(36_000));
        assert_eq!(r.next_delay(7), None);
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let r = RetrySchedule::default();
        assert_eq!(r.next_delay_with(1, s(60)), s(60));
        assert_eq!(r.next_delay_with(2, s(60)), s(300));
        assert_eq!(r.next_delay_with(1, s(100 * 3600)), s(36_000));
        assert_eq!(r.next_delay_with(7, s(1)), None);
    }
}
