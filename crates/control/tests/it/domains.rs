//! Custom domains and the workers.dev switch: settings per environment, applied by deploys
//! through the Workers custom-domains API, with the domain's state tracked by probes.

use c15t_control::{ControlError, DeliveryPatch, HealthOptions, SyncStatus};
use c15t_model::{Environment, Routing};
use c15t_testkit::cloudflare::FakeCloudflare;

use crate::harness::{TestEnv, id};
use crate::worker_names::{ACCOUNT, TOKEN, control_on};

const WORKER: &str = "c15t-cust-abc123";

fn routing(hostname: Option<&str>, workers_dev: bool) -> Routing {
    Routing {
        hostname: hostname.map(str::to_owned),
        zone_id: None,
        workers_dev,
    }
}

/// The state of the first routed environment's custom domain.
async fn domain_state(
    control: &c15t_control::Control,
    cust: &c15t_model::CustomerId,
) -> &'static str {
    control.routes(cust).await.unwrap()[0]
        .domain
        .as_ref()
        .expect("a custom domain is recorded")
        .state
}

fn patch(environment: &Environment, routing: Routing) -> DeliveryPatch {
    DeliveryPatch {
        routing: vec![(environment.clone(), routing)],
        ..DeliveryPatch::default()
    }
}

#[tokio::test]
async fn a_custom_domain_is_attached_tracked_and_becomes_the_worker_url() {
    let env = TestEnv::sqlite();
    let cf = FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, "acme", TOKEN);
    let zone = cf.add_zone(ACCOUNT, "customer.com");
    let control = control_on(&env, &cf).await;
    let cust = id("cust_abc123");
    let production = Environment::production();

    // Deployed on workers.dev first.
    let report = control.deploy("ops", &cust, &production).await.unwrap();
    assert_eq!(
        report.deployment.url.as_deref(),
        Some("https://c15t-cust-abc123.acme.workers.dev")
    );

    // Written in any case and with a trailing dot: stored canonically.
    control
        .delivery_set(
            "ops",
            &cust,
            patch(&production, routing(Some("Consent.Customer.COM."), false)),
        )
        .await
        .unwrap();
    let plan = control.plan(&cust, Some(&production)).await.unwrap();
    assert_eq!(plan[0].status, SyncStatus::OutOfSync, "routes pending");
    let route = plan[0].routing.as_ref().unwrap();
    assert!(route.pending);
    assert_eq!(
        route.wanted.hostname.as_deref(),
        Some("consent.customer.com")
    );

    // The certificate is not issued yet: attached, pending.
    cf.set_hostname_pending("consent.customer.com", true);
    let report = control.deploy("ops", &cust, &production).await.unwrap();
    assert_eq!(report.deployment.status, "succeeded");
    assert!(!report.unchanged, "the routes changed, so the deploy ran");
    assert_eq!(
        report.deployment.url.as_deref(),
        Some("https://consent.customer.com")
    );
    let domains = cf.domains(ACCOUNT);
    assert_eq!(domains.len(), 1);
    assert_eq!(domains[0].hostname, "consent.customer.com");
    assert_eq!(domains[0].service, WORKER);
    assert_eq!(domains[0].zone_id, zone);
    assert!(
        !cf.script(ACCOUNT, WORKER).unwrap().subdomain_enabled,
        "workers.dev is switched off"
    );
    let routes = control.routes(&cust).await.unwrap();
    let domain = routes[0].domain.as_ref().unwrap();
    assert_eq!(domain.state, "pending");
    assert_eq!(domain.zone_name.as_deref(), Some("customer.com"));
    assert!(
        domain.message.as_deref().unwrap().contains("525"),
        "{domain:?}"
    );
    assert!(!routes[0].pending);
    let plan = control.plan(&cust, Some(&production)).await.unwrap();
    assert_eq!(plan[0].status, SyncStatus::Synced);

    // The health monitor probes the hostname; once it answers, the domain is active.
    let options = HealthOptions::default();
    control.health_check(&options, Some(&cust)).await.unwrap();
    assert_eq!(domain_state(&control, &cust).await, "pending");
    cf.set_hostname_pending("consent.customer.com", false);
    let report = control.health_check(&options, Some(&cust)).await.unwrap();
    assert_eq!(report.up, 1);
    assert_eq!(
        report.workers[0].probe.url,
        "https://consent.customer.com/status"
    );
    let routes = control.routes(&cust).await.unwrap();
    let domain = routes[0].domain.as_ref().unwrap();
    assert_eq!(domain.state, "active");
    assert_eq!(domain.message, None);

    // Nothing to do: the next deploy is unchanged and attaches nothing again.
    let requests = cf.request_count();
    let report = control.deploy("ops", &cust, &production).await.unwrap();
    assert!(report.unchanged);
    assert!(
        !cf.requests()[requests..]
            .iter()
            .any(|r| r.method == "PUT" && r.path.ends_with("/workers/domains")),
        "no attach when the routes are applied"
    );

    // Detached outside the control plane: the next probe that fails sees it and says so.
    let http = reqwest::Client::new();
    let gone = http
        .delete(format!(
            "{}/accounts/{ACCOUNT}/workers/domains/{}",
            cf.base_url(),
            domains[0].id
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(gone.status().is_success());
    let report = control.health_check(&options, Some(&cust)).await.unwrap();
    assert_eq!(report.down, 1);
    let routes = control.routes(&cust).await.unwrap();
    let domain = routes[0].domain.as_ref().unwrap();
    assert_eq!(domain.state, "error");
    assert!(
        domain
            .message
            .as_deref()
            .unwrap()
            .contains("no longer attached"),
        "{domain:?}"
    );
    assert!(routes[0].pending, "an error domain is applied again");

    // A deploy attaches it again.
    let report = control.deploy("ops", &cust, &production).await.unwrap();
    assert!(!report.unchanged);
    assert_eq!(cf.domains(ACCOUNT).len(), 1);
    assert_eq!(domain_state(&control, &cust).await, "active");

    // Removing the hostname (workers.dev back on) detaches it on the next deploy.
    control
        .delivery_set("ops", &cust, patch(&production, routing(None, true)))
        .await
        .unwrap();
    let report = control.deploy("ops", &cust, &production).await.unwrap();
    assert_eq!(
        report.deployment.url.as_deref(),
        Some("https://c15t-cust-abc123.acme.workers.dev")
    );
    assert!(cf.domains(ACCOUNT).is_empty(), "detached");
    assert!(cf.script(ACCOUNT, WORKER).unwrap().subdomain_enabled);
    let routes = control.routes(&cust).await.unwrap();
    assert_eq!(routes[0].domain, None);
    assert!(!routes[0].pending);
}

#[tokio::test]
async fn cloudflare_refusing_a_domain_fails_the_deploy_with_its_message() {
    let env = TestEnv::sqlite();
    let cf = FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, "acme", TOKEN);
    let control = control_on(&env, &cf).await;
    let cust = id("cust_abc123");
    let production = Environment::production();
    // No zone holds the hostname.
    control
        .delivery_set(
            "ops",
            &cust,
            patch(&production, routing(Some("consent.elsewhere.org"), true)),
        )
        .await
        .unwrap();
    let failure = control
        .deploy("ops", &cust, &production)
        .await
        .expect_err("no zone holds the hostname");
    let mut message = failure.error.to_string();
    let mut source = std::error::Error::source(&failure.error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    assert!(
        message.contains("Could not find zone for 'consent.elsewhere.org'"),
        "{message}"
    );
    assert!(message.contains("attach a custom domain"), "{message}");
    let history = control
        .deployments(&cust, Some(&production), 1)
        .await
        .unwrap();
    assert_eq!(history[0].status, "failed");
    let recorded = history[0].error.as_deref().unwrap();
    assert!(recorded.contains("Could not find zone"), "{recorded}");
    let routes = control.routes(&cust).await.unwrap();
    let domain = routes[0].domain.as_ref().unwrap();
    assert_eq!(domain.state, "error");
    assert!(
        domain
            .message
            .as_deref()
            .unwrap()
            .contains("Could not find zone"),
        "{domain:?}"
    );
    let plan = control.plan(&cust, Some(&production)).await.unwrap();
    assert_eq!(plan[0].status, SyncStatus::Failed);

    // The zone is onboarded: the same settings deploy.
    cf.add_zone(ACCOUNT, "elsewhere.org");
    let report = control.deploy("ops", &cust, &production).await.unwrap();
    assert_eq!(
        report.deployment.url.as_deref(),
        Some("https://consent.elsewhere.org")
    );
    assert!(
        cf.script(ACCOUNT, WORKER).unwrap().subdomain_enabled,
        "workers.dev stays on as asked"
    );
    assert_eq!(domain_state(&control, &cust).await, "active");
}

#[tokio::test]
async fn routing_settings_are_refused_with_the_field_named() {
    let env = TestEnv::sqlite();
    let cf = FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, "acme", TOKEN);
    let control = control_on(&env, &cf).await;
    let cust = id("cust_abc123");
    let before = control.delivery_settings(&cust).await.unwrap();
    let cases = [
        (
            patch(
                &"qa".parse().unwrap(),
                routing(Some("a.customer.com"), true),
            ),
            "routing.qa: customer `cust_abc123` has no environment `qa`; its environments: \
             production, staging",
        ),
        (
            patch(&Environment::production(), routing(None, false)),
            "routing.production.workers_dev",
        ),
        (
            patch(
                &Environment::production(),
                routing(Some("consent.customer.com/path"), true),
            ),
            "routing.production.hostname",
        ),
        (
            DeliveryPatch {
                routing: vec![
                    (
                        Environment::production(),
                        routing(Some("consent.customer.com"), true),
                    ),
                    (
                        "staging".parse().unwrap(),
                        routing(Some("consent.customer.com"), true),
                    ),
                ],
                ..DeliveryPatch::default()
            },
            "routing.staging.hostname",
        ),
    ];
    for (patch, needle) in cases {
        let err = control
            .delivery_set("ops", &cust, patch)
            .await
            .expect_err(needle);
        assert!(
            matches!(err, ControlError::Invalid(_) | ControlError::BadRequest(_)),
            "{err:?}"
        );
        assert!(err.to_string().contains(needle), "{needle}: {err}");
    }
    assert_eq!(
        control.delivery_settings(&cust).await.unwrap(),
        before,
        "nothing stored"
    );
}

#[tokio::test]
async fn with_the_automatic_strategy_a_routing_change_deploys_its_environment() {
    let env = TestEnv::sqlite();
    let cf = FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, "acme", TOKEN);
    cf.add_zone(ACCOUNT, "customer.com");
    let control = control_on(&env, &cf).await;
    let cust = id("cust_abc123");
    let production = Environment::production();
    let runner = c15t_control::RunnerOptions {
        worker: "r1".to_owned(),
        lease: std::time::Duration::from_secs(30),
        poll: std::time::Duration::from_millis(20),
        concurrency: 2,
        once: true,
    };
    control
        .delivery_set(
            "ops",
            &cust,
            DeliveryPatch {
                strategy: Some(c15t_model::Strategy::Automatic),
                ..DeliveryPatch::default()
            },
        )
        .await
        .unwrap();
    let report = control
        .run_jobs(&runner, std::future::pending())
        .await
        .unwrap();
    assert_eq!(report.completed, 2, "both environments deployed");
    assert!(cf.domains(ACCOUNT).is_empty());

    // Only production's routes change: only production deploys, and gets its domain.
    control
        .delivery_set(
            "ops",
            &cust,
            patch(&production, routing(Some("consent.customer.com"), true)),
        )
        .await
        .unwrap();
    let report = control
        .run_jobs(&runner, std::future::pending())
        .await
        .unwrap();
    assert_eq!(report.completed, 1, "one environment was re-routed");
    let domains = cf.domains(ACCOUNT);
    assert_eq!(domains.len(), 1);
    assert_eq!(domains[0].service, WORKER);
    let plans = control.plan(&cust, None).await.unwrap();
    assert!(
        plans.iter().all(|p| p.status == SyncStatus::Synced),
        "{:?}",
        plans.iter().map(|p| p.status).collect::<Vec<_>>()
    );
    assert_eq!(
        plans[0].live.as_ref().unwrap().url.as_deref(),
        Some("https://consent.customer.com")
    );
}
