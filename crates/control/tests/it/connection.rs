//! `Control::destination_test` end to end on a SQLite store: the stored settings and the
//! vault's values reach the vendor fakes, the report says what the vendor said, and no secret
//! appears in it.

use std::collections::BTreeMap;
use std::time::Duration;

use c15t_control::SsrfPolicy;
use c15t_control::{
    ConnectionOutcome, ControlError, DestinationPatch, Secret, Testers, VendorOptions,
};
use c15t_model::{DestinationSpec, RawValue};
use c15t_testkit::vendors::FakeVendors;
use c15t_vendors::VendorEndpoints;
use url::Url;

use crate::harness::{TestEnv, example, id, resolver, secrets, test_delivery};

fn testers(fake: &FakeVendors) -> Testers {
    let base = Url::parse(&fake.base_url()).unwrap();
    Testers::new(VendorOptions {
        endpoints: VendorEndpoints::all_at(&base),
        timeout: Some(Duration::from_secs(5)),
        ssrf: SsrfPolicy {
            allow: vec!["127.0.0.1/32".parse().unwrap()],
            allow_http: true,
        },
    })
    .unwrap()
}

fn set_host(host: &str) -> DestinationPatch {
    DestinationPatch {
        set: BTreeMap::from([("host".to_owned(), RawValue::Text(host.to_owned()))]),
        ..DestinationPatch::default()
    }
}

#[tokio::test]
async fn destination_test_uses_the_stored_settings_and_secrets() {
    let env = TestEnv::sqlite();
    let fake = FakeVendors::start().await;
    let control = env.control().await.with_vendors(testers(&fake));
    let cust = id("cust_abc123");
    let values = secrets("conn");
    control
        .import("ops", example(), &resolver(&values))
        .await
        .unwrap();
    let meta_token = values["META_PIXEL_ACCESS_TOKEN"].clone();
    let ga4_secret = values["GA4_API_SECRET"].clone();
    fake.add_meta_pixel("1234567890", "ABC pixel", &meta_token);
    fake.add_posthog_key("phc_yyyyyyyyyyyyyyyy");

    let report = control.destination_test(&cust, "meta-prod").await.unwrap();
    assert_eq!(report.outcome, ConnectionOutcome::Ok, "{report:?}");
    assert_eq!(report.kind, "meta-pixel");
    let report = control.destination_test(&cust, "ga4-prod").await.unwrap();
    assert_eq!(report.outcome, ConnectionOutcome::Ok, "{report:?}");
    let requests = fake.requests();
    assert_eq!(requests[0].param("access_token"), Some(meta_token.as_str()));
    assert_eq!(requests[1].param("api_secret"), Some(ga4_secret.as_str()));
    assert_eq!(requests[1].param("measurement_id"), Some("G-ABC123XYZ"));

    // PostHog's own host setting is where it is tested.
    control
        .destination_edit("ops", &cust, "posthog", set_host(&fake.base_url()), None)
        .await
        .unwrap();
    let report = control.destination_test(&cust, "posthog").await.unwrap();
    assert_eq!(report.outcome, ConnectionOutcome::Ok, "{report:?}");

    // A replaced token is what the next test sends; Meta refuses it.
    let wrong = "EAAwrong-token-stored-canary";
    let patch = DestinationPatch {
        secrets: BTreeMap::from([("accessToken".to_owned(), Secret::from(wrong))]),
        ..DestinationPatch::default()
    };
    control
        .destination_edit("ops", &cust, "meta-prod", patch, None)
        .await
        .unwrap();
    let report = control.destination_test(&cust, "meta-prod").await.unwrap();
    assert_eq!(
        report.outcome,
        ConnectionOutcome::BadCredentials,
        "{report:?}"
    );
    assert!(report.message.contains("code 190"), "{report:?}");
    let shown = format!("{report:?} {}", serde_json::to_string(&report).unwrap());
    for secret in [wrong, meta_token.as_str(), ga4_secret.as_str()] {
        assert!(!shown.contains(secret), "a secret leaked: {shown}");
    }
}

#[tokio::test]
async fn unknown_destinations_and_unsupported_kinds() {
    let env = TestEnv::sqlite();
    let fake = FakeVendors::start().await;
    let control = env.control().await.with_vendors(testers(&fake));
    let cust = id("cust_abc123");
    control
        .import("ops", example(), &resolver(&secrets("u")))
        .await
        .unwrap();
    let err = control.destination_test(&cust, "nope").await.unwrap_err();
    assert!(matches!(err, ControlError::NotFound { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "destination `nope` of customer `cust_abc123` does not exist"
    );
    let err = control
        .destination_test(&id("cust_missing"), "meta-prod")
        .await
        .unwrap_err();
    assert!(matches!(err, ControlError::NotFound { .. }), "{err:?}");

    // A kind whose check needs a credential the destination lacks is reported unsupported,
    // with the reason, and nothing is sent.
    let matomo = DestinationSpec {
        id: "matomo".to_owned(),
        name: "Matomo".to_owned(),
        kind: "matomo".to_owned(),
        enabled: true,
        environment: None,
        category: None,
        settings: BTreeMap::from([
            (
                "matomoUrl".to_owned(),
                RawValue::Text("https://matomo.example.com".to_owned()),
            ),
            ("siteId".to_owned(), RawValue::Integer(3)),
        ]),
    };
    control
        .destination_add("ops", &cust, matomo, BTreeMap::new(), None)
        .await
        .unwrap();
    let report = control.destination_test(&cust, "matomo").await.unwrap();
    assert_eq!(report.outcome, ConnectionOutcome::Unsupported, "{report:?}");
    assert!(
        report.message.contains("no auth token is stored"),
        "{report:?}"
    );
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn without_testers_the_delivery_ssrf_policy_guards_customer_hosts() {
    let env = TestEnv::sqlite();
    let fake = FakeVendors::start().await;
    fake.add_posthog_key("phc_yyyyyyyyyyyyyyyy");
    let cust = id("cust_abc123");
    // The default options: the production SSRF policy refuses the loopback fake.
    let strict = env.control().await;
    strict
        .import("ops", example(), &resolver(&secrets("s")))
        .await
        .unwrap();
    strict
        .destination_edit("ops", &cust, "posthog", set_host(&fake.base_url()), None)
        .await
        .unwrap();
    let report = strict.destination_test(&cust, "posthog").await.unwrap();
    assert_eq!(report.outcome, ConnectionOutcome::Unreachable, "{report:?}");
    assert!(report.message.contains("refusing to connect"), "{report:?}");
    assert!(fake.requests().is_empty());
    // An operator who allows loopback (as the tests' delivery options do) reaches it.
    let open = env.delivering(test_delivery("http://127.0.0.1:9")).await;
    let report = open.destination_test(&cust, "posthog").await.unwrap();
    assert_eq!(report.outcome, ConnectionOutcome::Ok, "{report:?}");
}

#[tokio::test]
async fn numeric_settings_and_added_secrets_reach_the_tester() {
    let env = TestEnv::sqlite();
    let fake = FakeVendors::start().await;
    fake.add_matomo_site(7, "Shop", "matomo-token-from-vault");
    let control = env.control().await.with_vendors(testers(&fake));
    let cust = id("cust_abc123");
    control
        .import("ops", example(), &resolver(&secrets("m")))
        .await
        .unwrap();
    let matomo = DestinationSpec {
        id: "matomo".to_owned(),
        name: "Matomo".to_owned(),
        kind: "matomo".to_owned(),
        enabled: true,
        environment: None,
        category: None,
        settings: BTreeMap::from([
            ("matomoUrl".to_owned(), RawValue::Text(fake.base_url())),
            ("siteId".to_owned(), RawValue::Integer(7)),
        ]),
    };
    let secrets = BTreeMap::from([(
        "tokenAuth".to_owned(),
        Secret::from("matomo-token-from-vault"),
    )]);
    control
        .destination_add("ops", &cust, matomo, secrets, None)
        .await
        .unwrap();
    let report = control.destination_test(&cust, "matomo").await.unwrap();
    assert_eq!(report.outcome, ConnectionOutcome::Ok, "{report:?}");
    assert_eq!(fake.requests()[0].param("idSite"), Some("7"));
    assert!(!format!("{report:?}").contains("matomo-token-from-vault"));
}
