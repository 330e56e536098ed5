//! [`RetrySchedule`]: when the control layer's job queue tries a message again.
//!
//! The schedule knows no sender: what an attempt came to reaches it as a [`Verdict`], through
//! [`Answer`] (the `Ok` side of the attempt's result) and [`Failure`] (the `Err` side), which
//! the sender's types implement (`c15t-deploy`'s webhook notifier does).

use std::time::Duration;

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

/// What one attempt came to, as far as the schedule is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The message was delivered.
    Delivered,
    /// The receiver answered `410 Gone`: it wants no more messages.
    Gone,
    /// The attempt failed and may be retried, no sooner than `after` if the receiver asked
    /// for a delay (`Retry-After`).
    Retry {
        /// The receiver's `Retry-After`.
        after: Option<Duration>,
    },
    /// The attempt failed in a way retrying cannot fix.
    Fatal,
}

/// An attempt that got an answer: the `Ok` side of an attempt's result.
pub trait Answer {
    /// What the answer means for the message.
    fn verdict(&self) -> Verdict;
}

/// An attempt that failed: the `Err` side of an attempt's result.
///
/// [`Failure::Answer`] names the sender's `Ok` side, so that [`RetrySchedule::after`] takes
/// `&Result<F::Answer, F>` and a bare `Err(error)` needs no type annotation.
pub trait Failure {
    /// The sender's answered attempt.
    type Answer: Answer;

    /// What the failure means for the message.
    fn verdict(&self) -> Verdict;
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
    pub fn after<F: Failure>(&self, attempt: u32, result: &Result<F::Answer, F>) -> NextStep {
        let verdict = match result {
            Ok(answer) => answer.verdict(),
            Err(failure) => failure.verdict(),
        };
        let retry_after = match verdict {
            Verdict::Delivered => return NextStep::Done,
            Verdict::Gone => return NextStep::DisableEndpoint,
            Verdict::Retry { after } => after,
            Verdict::Fatal => return NextStep::GiveUp,
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

    struct Answered(Verdict);

    impl Answer for Answered {
        fn verdict(&self) -> Verdict {
            self.0
        }
    }

    struct Failed(Verdict);

    impl Failure for Failed {
        type Answer = Answered;

        fn verdict(&self) -> Verdict {
            self.0
        }
    }

    #[test]
    fn after_follows_the_verdict_of_either_side() {
        let r = RetrySchedule::default();
        let retry = |after| Verdict::Retry { after };
        let retry_in = |secs| NextStep::RetryIn(Duration::from_secs(secs));
        for (result, expected) in [
            (Ok(Answered(Verdict::Delivered)), NextStep::Done),
            (Ok(Answered(Verdict::Gone)), NextStep::DisableEndpoint),
            (Ok(Answered(retry(None))), retry_in(5)),
            (Ok(Answered(retry(s(60)))), retry_in(60)),
            (Err(Failed(Verdict::Gone)), NextStep::DisableEndpoint),
            (Err(Failed(retry(None))), retry_in(5)),
            (Err(Failed(Verdict::Fatal)), NextStep::GiveUp),
        ] {
            assert_eq!(r.after(1, &result), expected);
        }
        assert_eq!(r.after(7, &Err(Failed(retry(None)))), NextStep::GiveUp);
    }
}
