//! What a webhook attempt came to, in the terms of the retry schedule
//! ([`c15t_net::RetrySchedule::after`] judges `Result<DeliveryAttempt, WebhookError>`).

use c15t_net::{Answer, Failure, Verdict};

use super::{DeliveryAttempt, DeliveryOutcome, WebhookError};

impl Answer for DeliveryAttempt {
    fn verdict(&self) -> Verdict {
        match self.outcome {
            DeliveryOutcome::Delivered => Verdict::Delivered,
            DeliveryOutcome::Gone => Verdict::Gone,
            DeliveryOutcome::Retry { after } => Verdict::Retry { after },
        }
    }
}

impl Failure for WebhookError {
    type Answer = DeliveryAttempt;

    fn verdict(&self) -> Verdict {
        if self.is_gone() {
            Verdict::Gone
        } else if self.is_retryable() {
            Verdict::Retry {
                after: self.retry_after(),
            }
        } else {
            Verdict::Fatal
        }
    }
}
