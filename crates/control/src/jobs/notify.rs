//! The customer's webhook notifications: events enqueued as `webhook` jobs, `notify` jobs'
//! `worker_config.updated` announcements, and one delivery attempt of either.

use c15t_deploy::webhook::{
    MessageId, WebhookEndpoint as Endpoint, WebhookEvent, WebhookMessage, WebhookNotifier,
    WebhookSecret, WorkerConfigUpdated,
};
use c15t_model::delivery::WEBHOOK_SECRETS_KEY;
use c15t_model::{CustomerId, Delivery};
use c15t_net::NextStep;
use c15t_secrets::Vault;
use c15t_store::{DeliveryChange, JobRecord, NewJob, NewWebhookDelivery};
use serde::{Deserialize, Serialize};

use super::{EnvironmentJob, JOB_ACTOR, JOB_WEBHOOK, JobOutcome};
use crate::deploy::error_chain;
use crate::{Control, ControlError};

#[derive(Debug, Serialize, Deserialize)]
struct WebhookJob {
    customer: CustomerId,
    message_id: String,
    event_type: String,
    body: String,
}

impl Control {
    /// Enqueues `event` for the customer's webhook endpoint, if it has an enabled one.
    pub(crate) async fn announce(
        &self,
        _vault: &Vault,
        customer: &CustomerId,
        event: WebhookEvent,
    ) -> Result<(), ControlError> {
        let delivery = self.delivery_settings(customer).await?;
        if !delivery.webhook.as_ref().is_some_and(|w| w.enabled) {
            return Ok(());
        }
        self.enqueue_event(customer, &event).await.map(drop)
    }

    /// Enqueues one webhook message of `event` to the customer's endpoint (delivered by the
    /// job runner, retried on the webhook schedule); returns the message id.
    pub async fn enqueue_event(
        &self,
        customer: &CustomerId,
        event: &WebhookEvent,
    ) -> Result<String, ControlError> {
        let message = WebhookMessage::new(MessageId::random(), event);
        let payload = serde_json::to_value(WebhookJob {
            customer: customer.clone(),
            message_id: message.id().as_str().to_owned(),
            event_type: message.event_type().to_owned(),
            body: message.body().to_owned(),
        })
        .map_err(|e| ControlError::BadRequest(format!("job payload: {e}")))?;
        let now = self.clock.now();
        self.store
            .job_enqueue(
                NewJob {
                    kind: JOB_WEBHOOK.to_owned(),
                    payload,
                    dedupe_key: None,
                    run_at: now,
                    max_attempts: self.delivery.webhook_schedule.attempts().max(1),
                },
                now,
            )
            .await?;
        Ok(message.id().as_str().to_owned())
    }

    pub(super) async fn execute_notify(&self, job: &JobRecord) -> Result<JobOutcome, ControlError> {
        let payload: EnvironmentJob = serde_json::from_value(job.payload.clone())
            .map_err(|e| ControlError::BadRequest(format!("notify job {}: {e}", job.id)))?;
        let Some(stored) = self.store.customer_get(&payload.customer).await? else {
            return Ok(JobOutcome::GiveUp {
                error: format!("customer `{}` no longer exists", payload.customer),
            });
        };
        let config = self.validated(&stored)?;
        let project = self.generated(&stored, &config, &payload.environment, self.target())?;
        let revision = stored.revision.to_string();
        let id = MessageId::derived(&[
            payload.customer.as_str(),
            payload.environment.as_str(),
            &revision,
            &project.content_hash,
        ]);
        let event = WebhookEvent::WorkerConfigUpdated {
            timestamp: self.clock.now().into(),
            data: WorkerConfigUpdated {
                customer: payload.customer.clone(),
                environment: payload.environment.clone(),
                revision: stored.revision,
                content_hash: project.content_hash.clone(),
                download_url: format!(
                    "{}/api/control-plane/customers/{}/worker-config",
                    self.delivery.public_base_url.trim_end_matches('/'),
                    payload.customer
                ),
            },
        };
        let message = WebhookMessage::new(id, &event);
        self.deliver(job, &payload.customer, &message).await
    }

    pub(super) async fn execute_webhook(
        &self,
        job: &JobRecord,
    ) -> Result<JobOutcome, ControlError> {
        let payload: WebhookJob = serde_json::from_value(job.payload.clone())
            .map_err(|e| ControlError::BadRequest(format!("webhook job {}: {e}", job.id)))?;
        let id = MessageId::parse(&payload.message_id)?;
        let message = WebhookMessage::from_parts(id, payload.event_type, payload.body);
        self.deliver(job, &payload.customer, &message).await
    }

    /// One delivery attempt of `message`, logged, with what the job does next.
    async fn deliver(
        &self,
        job: &JobRecord,
        customer: &CustomerId,
        message: &WebhookMessage,
    ) -> Result<JobOutcome, ControlError> {
        let Some(stored) = self.store.customer_get(customer).await? else {
            return Ok(JobOutcome::GiveUp {
                error: format!("customer `{customer}` no longer exists"),
            });
        };
        let mut delivery = self.delivery_settings(customer).await?;
        let vault = match &stored.vault {
            Some(sealed) => self.keys.keyring()?.open(sealed)?,
            None => Vault::default(),
        };
        let Some(endpoint) = self.webhook_endpoint(&delivery, &vault)? else {
            return Ok(JobOutcome::GiveUp {
                error: "the customer's webhook endpoint is not set or was disabled".to_owned(),
            });
        };
        let notifier = self.notifier()?;
        let started = std::time::Instant::now();
        let result = notifier.send(&endpoint, message).await;
        let step = self.delivery.webhook_schedule.after(job.attempts, &result);
        let (status_code, error) = match &result {
            Ok(a) if a.is_delivered() => (Some(a.status), None),
            Ok(a) => (
                Some(a.status),
                Some(format!("answered {}: {}", a.status, a.response_excerpt)),
            ),
            Err(e) => (None, Some(error_chain(e))),
        };
        let outcome = match step {
            NextStep::Done => "delivered",
            NextStep::RetryIn(_) => "retry",
            NextStep::GiveUp => "failed",
            NextStep::DisableEndpoint => "gone",
        };
        self.store
            .webhook_delivery_append(NewWebhookDelivery {
                customer: customer.clone(),
                message_id: message.id().as_str().to_owned(),
                event_type: message.event_type().to_owned(),
                attempt: job.attempts,
                status_code,
                outcome: outcome.to_owned(),
                error: error.clone(),
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                at: self.clock.now(),
            })
            .await?;
        Ok(match step {
            NextStep::Done => JobOutcome::Done,
            NextStep::RetryIn(after) => JobOutcome::Retry {
                after,
                error: error.unwrap_or_default(),
            },
            NextStep::GiveUp => JobOutcome::GiveUp {
                error: error.unwrap_or_default(),
            },
            NextStep::DisableEndpoint => {
                if let Some(webhook) = delivery.webhook.as_mut() {
                    webhook.enabled = false;
                    webhook.disabled_reason = Some(format!(
                        "the endpoint answered 410 Gone on {}",
                        self.clock.now().format("%Y-%m-%d %H:%M UTC")
                    ));
                }
                self.store
                    .delivery_put(DeliveryChange {
                        actor: JOB_ACTOR,
                        action: "delivery.webhook.disable",
                        customer,
                        delivery: &delivery,
                        vault: None,
                        jobs: &[],
                        now: self.clock.now(),
                    })
                    .await?;
                tracing::warn!(%customer, "webhook endpoint answered 410 Gone; disabled");
                JobOutcome::GiveUp {
                    error: "the endpoint answered 410 Gone and was disabled".to_owned(),
                }
            }
        })
    }

    /// The webhook endpoint of a customer, with its signing secrets, if it has an enabled one.
    pub(crate) fn webhook_endpoint(
        &self,
        delivery: &Delivery,
        vault: &Vault,
    ) -> Result<Option<Endpoint>, ControlError> {
        let Some(webhook) = delivery.webhook.as_ref().filter(|w| w.enabled) else {
            return Ok(None);
        };
        let secrets = vault
            .get(WEBHOOK_SECRETS_KEY)
            .map(|s| WebhookSecret::parse_list(s.expose()))
            .transpose()?
            .unwrap_or_default();
        Ok(Some(Endpoint::new(&webhook.url, secrets)?))
    }

    /// The webhook notifier of the operator's options.
    pub(crate) fn notifier(&self) -> Result<WebhookNotifier, ControlError> {
        Ok(WebhookNotifier::new(self.delivery.ssrf.clone())?
            .with_timeout(self.delivery.webhook_timeout))
    }
}
