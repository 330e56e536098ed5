//! `c15tctl destination test`: runs a destination's connection test (the use case lives in
//! `c15t-control`) and prints the report; the vendor base URLs and timeout come from flags or
//! environment variables so that tests can point them at fakes.

use std::time::Duration;

use anyhow::anyhow;
use c15t_control::{
    ConnectionOutcome, ConnectionReport, Control, Testers, VendorEndpoints, VendorOptions,
};
use clap::Args;
use url::Url;

use crate::output::print;
use crate::{Failure, customer_id, invalid};

/// Exit code when the vendor refused the settings or could not be reached.
const EXIT_TEST_FAILED: u8 = 6;

/// Where the vendors are and how long a test may take. Customer-supplied hosts (PostHog's
/// `host`) are checked against the same SSRF policy as webhooks (`--webhook-allow`,
/// `--webhook-allow-http`).
#[derive(Debug, Args)]
pub struct VendorFlags {
    /// Meta's Graph API base URL.
    #[arg(
        long,
        env = "C15T_META_GRAPH_URL",
        default_value = "https://graph.facebook.com"
    )]
    meta_graph_url: Url,
    /// Google Analytics' Measurement Protocol base URL (the test uses its validation server).
    #[arg(
        long,
        env = "C15T_GA4_MP_URL",
        default_value = "https://www.google-analytics.com"
    )]
    ga4_mp_url: Url,
    /// PostHog host for destinations that set no `host`.
    #[arg(
        long,
        env = "C15T_POSTHOG_URL",
        default_value = "https://us.i.posthog.com"
    )]
    posthog_url: Url,
    /// Timeout of the test, in milliseconds.
    #[arg(long, env = "C15T_VENDOR_TIMEOUT_MS", default_value_t = 10_000)]
    vendor_timeout_ms: u64,
}

/// Tests destination `id` of `customer` and prints the report; an outcome other than ok or
/// unsupported exits with [`EXIT_TEST_FAILED`].
pub async fn test(
    control: &Control,
    customer: &str,
    id: &str,
    json: bool,
    flags: &VendorFlags,
) -> Result<(), Failure> {
    let testers = Testers::new(VendorOptions {
        endpoints: VendorEndpoints {
            meta_graph: flags.meta_graph_url.clone(),
            ga4_mp: flags.ga4_mp_url.clone(),
            posthog: flags.posthog_url.clone(),
            ..VendorEndpoints::default()
        },
        timeout: Some(Duration::from_millis(flags.vendor_timeout_ms.max(1))),
        ssrf: control.delivery_options().ssrf.clone(),
    })
    .map_err(|e| invalid(anyhow!(e)))?;
    let control = control.clone().with_vendors(testers);
    let report = control
        .destination_test(&customer_id(customer)?, id)
        .await?;
    if json {
        print(&serde_json::to_string_pretty(&report).map_err(|e| invalid(anyhow!(e)))?);
    } else {
        print(&text(id, &report));
    }
    match report.outcome {
        ConnectionOutcome::Ok | ConnectionOutcome::Unsupported => Ok(()),
        outcome => Err(Failure {
            code: EXIT_TEST_FAILED,
            error: anyhow!(
                "the connection test of destination `{id}` failed: {}",
                outcome.label()
            ),
        }),
    }
}

/// `meta-prod (meta-pixel): bad credentials after 84 ms` and the message on the next line.
fn text(id: &str, report: &ConnectionReport) -> String {
    let status = match report.outcome {
        ConnectionOutcome::VendorError { status } => format!("vendor error {status}"),
        other => other.label().to_owned(),
    };
    let timing = report
        .latency_ms
        .map(|ms| format!(" after {ms} ms"))
        .unwrap_or_default();
    format!(
        "{id} ({}): {status}{timing}\n  {}",
        report.kind, report.message
    )
}
