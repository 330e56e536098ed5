//! Log set-up: text or JSON lines on standard error, filtered by `RUST_LOG` (default `info`),
//! plus a layer that counts the control layer's deploy events into the metrics.

use c15t_api::ops::Metrics;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, filter};

use crate::config::LogFormat;

/// Where the control layer logs the end of each deploy.
const DEPLOY_TARGET: &str = "c15t_control::deploy";

/// Installs the global subscriber.
pub fn init(format: LogFormat, metrics: Metrics) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let output = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    // The counter has its own filter so that `RUST_LOG=warn` does not stop deploys being
    // counted.
    let deploys = DeployCounter(metrics)
        .with_filter(filter::Targets::new().with_target(DEPLOY_TARGET, tracing::Level::INFO));
    let _ = tracing_subscriber::registry()
        .with(output.with_filter(filter))
        .with(deploys)
        .try_init();
}

/// Counts finished deploys from the control layer's events: `deployed`, `already live;
/// recorded as unchanged`, `deploy failed` and `deploy rolled back automatically` (see
/// `c15t_control`'s `deploy.rs`).
///
/// Counting log events couples the metric to those messages; the unit test below pins them.
/// The alternative, polling the deployments table, would count other replicas' deploys too
/// and cost a query per scrape.
#[derive(Debug)]
pub struct DeployCounter(pub Metrics);

impl<S: tracing::Subscriber> Layer<S> for DeployCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != DEPLOY_TARGET {
            return;
        }
        let mut message = Message(None);
        event.record(&mut message);
        let outcome = match message.0.as_deref() {
            Some("deployed") => "succeeded",
            Some("already live; recorded as unchanged") => "unchanged",
            Some("deploy failed") => "failed",
            Some("deploy rolled back automatically") => "rolled_back",
            _ => return,
        };
        self.0.record_deploy(outcome);
    }
}

struct Message(Option<String>);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deploy_events_are_counted_by_outcome() {
        let metrics = Metrics::new();
        let subscriber = tracing_subscriber::registry().with(DeployCounter(metrics.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "c15t_control::deploy", id = 1, "deployed");
            tracing::info!(target: "c15t_control::deploy", id = 2, "deployed");
            tracing::info!(target: "c15t_control::deploy", "already live; recorded as unchanged");
            tracing::warn!(target: "c15t_control::deploy", error = "x", "deploy failed");
            tracing::warn!(target: "c15t_control::deploy", error = "x", "deploy rolled back automatically");
            tracing::info!(target: "elsewhere", "deployed");
        });
        assert_eq!(metrics.deploys("succeeded"), 2);
        assert_eq!(metrics.deploys("unchanged"), 1);
        assert_eq!(metrics.deploys("failed"), 1);
        assert_eq!(metrics.deploys("rolled_back"), 1);
    }

    #[test]
    fn the_control_layer_still_logs_these_messages() {
        let source = include_str!("../../../crates/control/src/deploy.rs");
        for message in [
            "\"deployed\")",
            "\"already live; recorded as unchanged\")",
            "\"deploy failed\");",
            "\"deploy rolled back automatically\");",
        ] {
            assert!(
                source.contains(message),
                "c15t_control's deploy.rs no longer logs {message}; update DeployCounter"
            );
        }
    }
}
