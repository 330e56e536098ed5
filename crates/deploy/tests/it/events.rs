//! Server-side events end to end: a generated worker's upload in workerd, with the real
//! `@c15t/backend` on the fake libSQL server (migrated by c15t's own migrator) and the vendor
//! fakes of `c15t_testkit::vendors` behind the worker's `C15T_ENDPOINT_*` vars. Consent is
//! recorded through c15t's own `POST /subjects`; `POST /analytics/events` forwards an event
//! only to the destinations whose purpose c15t says the subject granted.

use std::time::{Duration, Instant};

use c15t_codegen::{Input, TargetProfile, generate, generate_worker_module};
use c15t_deploy::runtime::{RuntimeBundle, worker_modules};
use c15t_model::{Catalogue, CustomerConfig, CustomerSpec, Environment};
use c15t_testkit::libsql::FakeLibsql;
use c15t_testkit::vendors::{FakeVendors, Recorded};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::runtime::{Running, node_modules, run_upload, runtime_build};

const META_TOKEN: &str = "EAAcanaryMetaToken0123456789";
const TIKTOK_TOKEN: &str = "canarytiktoktoken0123456789";
const REDDIT_TOKEN: &str = "canaryreddittoken0123456789";
const SNAPCHAT_TOKEN: &str = "canarysnapchattoken0123456789";
const GA4_SECRET: &str = "canaryga4secret0123";
const EMAIL: &str = "Canary.Person@Example.com";
const PHONE: &str = "+44 20 7946 0958";
const DEBUG_SECRET: &str = "canary-debug-secret-0123";

const CUSTOMER: &str = r#"
id = "cust_events"
name = "Events"
environments = ["production"]
trusted_origins = ["https://shop.example"]
log_level = "warn"

[database]
provider = "turso"
url = "libsql://cust-events.turso.io"
auth_token = { env = "TURSO_AUTH_TOKEN" }

[[destinations]]
id = "meta"
name = "Meta"
type = "meta-pixel"
[destinations.settings]
pixelId = "1234567890"
accessToken = { env = "META" }

[[destinations]]
id = "ga4"
name = "GA4"
type = "google-analytics"
[destinations.settings]
measurementId = "G-ABC123XYZ"
apiSecret = { env = "GA4" }

[[destinations]]
id = "posthog"
name = "PostHog"
type = "posthog"
[destinations.settings]
apiKey = "phc_canaryproject0123"
host = "https://eu.i.posthog.com"

[[destinations]]
id = "tiktok"
name = "TikTok"
type = "tiktok-pixel"
[destinations.settings]
pixelId = "C4D45N9U9OSI64ECRUG0"
accessToken = { env = "TIKTOK" }

[[destinations]]
id = "reddit"
name = "Reddit"
type = "reddit-pixel"
[destinations.settings]
pixelId = "a2_shop1234"
accessToken = { env = "REDDIT" }

[[destinations]]
id = "snapchat"
name = "Snapchat"
type = "snapchat-pixel"
[destinations.settings]
pixelId = "11111111-2222-3333-4444-555555555555"
accessToken = { env = "SNAPCHAT" }
"#;

fn config() -> CustomerConfig {
    let spec: CustomerSpec = toml::from_str(CUSTOMER).expect("customer file");
    spec.validate(&Catalogue::builtin())
        .expect("valid customer")
}

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

struct World {
    _runtime: tokio::runtime::Runtime,
    vendors: FakeVendors,
    database: FakeLibsql,
    worker: Running,
}

fn start() -> World {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let vendors = runtime.block_on(FakeVendors::start());
    vendors.add_meta_pixel("1234567890", "Shop pixel", META_TOKEN);
    vendors.add_posthog_key("phc_canaryproject0123");
    vendors.add_tiktok_pixel("C4D45N9U9OSI64ECRUG0", TIKTOK_TOKEN);
    vendors.add_reddit_pixel("a2_shop1234", REDDIT_TOKEN);
    vendors.add_snapchat_pixel("11111111-2222-3333-4444-555555555555", SNAPCHAT_TOKEN);

    let token = "libsql-token-events";
    let database = FakeLibsql::start(token);
    database.migrate_c15t(&node_modules());

    let target = TargetProfile::default();
    let bundle = RuntimeBundle::build(&runtime_build(&target)).expect("runtime builds");
    let config = config();
    let environment = Environment::production();
    let input = Input {
        config: &config,
        environment: &environment,
        target: &target,
        revision: 1,
    };
    let entry = generate_worker_module(&input, &bundle.specifier()).expect("entry generates");
    let project = generate(&input).expect("project generates");
    let base = vendors.base_url();
    let mut vars = vec![
        ("TURSO_DATABASE_URL".to_owned(), database.url().to_owned()),
        ("TURSO_AUTH_TOKEN".to_owned(), token.to_owned()),
        ("META_PIXEL_ACCESS_TOKEN".to_owned(), META_TOKEN.to_owned()),
        (
            "GOOGLE_ANALYTICS_API_SECRET".to_owned(),
            GA4_SECRET.to_owned(),
        ),
        (
            "TIKTOK_PIXEL_ACCESS_TOKEN".to_owned(),
            TIKTOK_TOKEN.to_owned(),
        ),
        (
            "REDDIT_PIXEL_ACCESS_TOKEN".to_owned(),
            REDDIT_TOKEN.to_owned(),
        ),
        (
            "SNAPCHAT_PIXEL_ACCESS_TOKEN".to_owned(),
            SNAPCHAT_TOKEN.to_owned(),
        ),
        (
            "C15T_EVENTS_DEBUG_SECRET".to_owned(),
            DEBUG_SECRET.to_owned(),
        ),
    ];
    for name in ["META", "GA4", "POSTHOG", "TIKTOK", "REDDIT", "SNAPCHAT"] {
        vars.push((format!("C15T_ENDPOINT_{name}"), base.clone()));
    }
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let worker = run_upload(&project, &worker_modules(entry, &bundle), &refs);
    World {
        _runtime: runtime,
        vendors,
        database,
        worker,
    }
}

impl World {
    fn consent(&self, subject: &str, preferences: Value, given_at: i64) {
        let body = json!({
            "subjectId": subject,
            "domain": "shop.example",
            "type": "cookie_banner",
            "preferences": preferences,
            "givenAt": given_at,
        })
        .to_string();
        let answer = self
            .worker
            .server
            .request(
                "POST",
                "/subjects",
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            )
            .expect("POST /subjects");
        assert_eq!(answer.status, 200, "{}", answer.body);
    }

    fn event(&self, body: &Value, extra: &[(&str, &str)]) -> c15t_testkit::workerd::HttpResponse {
        let mut headers = vec![
            ("Content-Type", "application/json"),
            ("User-Agent", "Mozilla/5.0 (events test)"),
        ];
        headers.extend_from_slice(extra);
        self.worker
            .server
            .request(
                "POST",
                "/analytics/events",
                &headers,
                body.to_string().as_bytes(),
            )
            .expect("POST /analytics/events")
    }

    /// Waits until `count` requests reached `prefix` (the worker forwards after answering).
    fn wait_for(&self, prefix: &str, count: usize) -> Vec<Recorded> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.vendors.requests_to(prefix);
            if got.len() >= count || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn purchase(subject: &str, event_id: &str) -> Value {
    json!({
        "event": "Purchase",
        "eventId": event_id,
        "subjectId": subject,
        "url": "https://shop.example/checkout/done",
        "properties": { "value": 42.5, "currency": "EUR", "contentIds": ["sku-1"] },
        "user": { "email": EMAIL, "phone": PHONE, "externalId": "user-77" },
    })
}

#[test]
fn events_reach_only_the_vendors_whose_purpose_c15t_recorded_as_granted() {
    let world = start();
    let subject = "sub_2jv6z8n4q9Ab";

    // Measurement only: GA4 and PostHog get the event, Meta and TikTok do not.
    world.consent(
        subject,
        json!({ "necessary": true, "measurement": true, "marketing": false }),
        1_767_225_600_000,
    );
    let answer = world.event(&purchase(subject, "evt-1"), &[]);
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(
        answer.json(),
        json!({ "accepted": true, "eventId": "evt-1" })
    );
    let ga4 = world.wait_for("/mp/collect", 1);
    assert_eq!(ga4.len(), 1, "GA4 got the event");
    let posthog = world.wait_for("/i/v0/e/", 1);
    assert_eq!(posthog.len(), 1, "PostHog got the event");
    assert!(
        ga4[0].dropped.is_none(),
        "GA4 would not count it: {:?}",
        ga4[0].dropped
    );
    assert!(
        posthog[0].dropped.is_none(),
        "PostHog would not count it: {:?}",
        posthog[0].dropped
    );
    let sent: Value = serde_json::from_str(&ga4[0].body).expect("GA4 JSON");
    assert_eq!(
        sent["consent"],
        json!({ "ad_user_data": "DENIED", "ad_personalization": "DENIED" })
    );
    assert_eq!(ga4[0].param("api_secret"), Some(GA4_SECRET));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        world.vendors.requests_to("/v21.0/").is_empty(),
        "Meta got an event without marketing consent"
    );
    assert!(
        world.vendors.requests_to("/open_api/").is_empty(),
        "TikTok got an event without marketing consent"
    );

    // Marketing granted later: the next event reaches Meta and TikTok, hashed, with the tokens
    // from the worker's secrets.
    world.consent(
        subject,
        json!({ "necessary": true, "measurement": true, "marketing": true }),
        1_767_225_700_000,
    );
    let answer = world.event(&purchase(subject, "evt-2"), &[]);
    assert_eq!(answer.status, 202, "{}", answer.body);
    let meta = world.wait_for("/v21.0/1234567890/events", 1);
    assert_eq!(meta.len(), 1, "Meta got the event");
    assert!(
        meta[0].dropped.is_none(),
        "Meta would not count it: {:?}",
        meta[0].dropped
    );
    let body: Value = serde_json::from_str(&meta[0].body).expect("Meta JSON");
    assert_eq!(body["access_token"], META_TOKEN);
    assert_eq!(body["data"][0]["event_id"], "evt-2");
    assert_eq!(
        body["data"][0]["user_data"]["em"],
        json!([sha("canary.person@example.com")])
    );
    assert_eq!(
        body["data"][0]["user_data"]["ph"],
        json!([sha("442079460958")])
    );
    let tiktok = world.wait_for("/open_api/v1.3/event/track/", 1);
    assert_eq!(tiktok.len(), 1, "TikTok got the event");
    assert_eq!(tiktok[0].header("access-token"), Some(TIKTOK_TOKEN));
    assert!(
        tiktok[0].dropped.is_none(),
        "TikTok would not count it: {:?}",
        tiktok[0].dropped
    );
    let reddit = world.wait_for("/api/v3/pixels/a2_shop1234/conversion_events", 1);
    assert_eq!(
        reddit.len(),
        1,
        "Reddit got the event: {:?}",
        world
            .vendors
            .requests()
            .iter()
            .map(|r| r.path.clone())
            .collect::<Vec<_>>()
    );
    let snapchat = world.wait_for("/v3/11111111-2222-3333-4444-555555555555/events", 1);
    assert_eq!(snapchat.len(), 1, "Snapchat got the event");

    // A forged event for a subject c15t does not know forwards nothing, whatever it claims.
    let before = world.vendors.requests().len();
    let forged = world.event(&purchase("sub_UnknownSubject9", "evt-3"), &[]);
    assert_eq!(forged.status, 202, "{}", forged.body);
    let claim = world.event(&json!({ "event": "Lead", "subjectId": "sub_UnknownSubject9", "consent": { "marketing": true } }), &[]);
    assert_eq!(claim.status, 400, "{}", claim.body);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        world.vendors.requests().len(),
        before,
        "a forged event was forwarded"
    );

    // Debug mode (with the worker's secret) reports each destination; a vendor answering 500
    // is retried and does not stop the others.
    world.vendors.fail_path(
        "/v21.0/",
        Some((
            500,
            r#"{"error":{"message":"Service unavailable","code":2}}"#,
        )),
    );
    let debug = world
        .worker
        .server
        .request(
            "POST",
            "/analytics/events?debug=1",
            &[
                ("Content-Type", "application/json"),
                ("User-Agent", "Mozilla/5.0 (events test)"),
                ("Authorization", &format!("Bearer {DEBUG_SECRET}")),
            ],
            purchase(subject, "evt-4").to_string().as_bytes(),
        )
        .expect("debug event");
    assert_eq!(debug.status, 200, "{}", debug.body);
    let report = debug.json();
    let outcome = |id: &str| {
        report["destinations"]
            .as_array()
            .and_then(|list| list.iter().find(|d| d["id"] == id))
            .cloned()
            .unwrap_or_else(|| panic!("no outcome for {id}: {report}"))
    };
    assert_eq!(outcome("meta")["outcome"], "failed", "{report}");
    assert_eq!(outcome("meta")["attempts"], 3, "{report}");
    for id in ["ga4", "posthog", "tiktok", "reddit", "snapchat"] {
        assert_eq!(outcome(id)["outcome"], "sent", "{report}");
    }
    assert_eq!(report["subject"]["found"], true, "{report}");

    // The 202 does not wait for a slow vendor.
    world.vendors.fail_path("/v21.0/", None);
    world.vendors.set_delay(Duration::from_secs(3));
    let started = Instant::now();
    let quick = world.event(&purchase(subject, "evt-5"), &[]);
    assert_eq!(quick.status, 202, "{}", quick.body);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the 202 waited for the vendors"
    );
    world.vendors.set_delay(Duration::ZERO);

    // A burst from many clients at once: every event still reaches every vendor. (The libSQL
    // client's default queue of 20 started queued queries in other requests' contexts, which
    // workerd cancels as hung when those requests end.)
    let prefixes = [
        "/mp/collect",
        "/v21.0/",
        "/i/v0/e/",
        "/open_api/",
        "/api/v3/pixels/",
        "/v3/11111111-",
    ];
    let before: Vec<usize> = prefixes
        .iter()
        .map(|p| world.vendors.requests_to(p).len())
        .collect();
    let burst = 60;
    std::thread::scope(|scope| {
        for client in 0..12 {
            let world = &world;
            scope.spawn(move || {
                for n in 0..burst / 12 {
                    let event = purchase(subject, &format!("burst-{client}-{n}"));
                    let answer = world.event(&event, &[]);
                    assert_eq!(answer.status, 202, "{}", answer.body);
                }
            });
        }
    });
    for (prefix, before) in prefixes.iter().zip(before) {
        let got = world.wait_for(prefix, before + burst).len();
        // At least: the slow vendor's event above may still land inside the count.
        assert!(
            got >= before + burst,
            "{prefix} lost events of the burst: {got} of {}",
            before + burst
        );
    }

    // No secret in any answer, and no plain email or phone in anything sent to a vendor.
    for text in [
        &answer.body,
        &forged.body,
        &claim.body,
        &debug.body,
        &quick.body,
    ] {
        for secret in [
            META_TOKEN,
            TIKTOK_TOKEN,
            REDDIT_TOKEN,
            SNAPCHAT_TOKEN,
            GA4_SECRET,
            DEBUG_SECRET,
        ] {
            assert!(!text.contains(secret), "an answer carries a secret: {text}");
        }
    }
    for r in world.vendors.requests() {
        let all = format!("{} {:?} {:?} {}", r.path, r.query, r.headers, r.body).to_lowercase();
        assert!(
            !all.contains("canary.person"),
            "{} got the email in plain text",
            r.path
        );
        assert!(
            !all.contains("7946"),
            "{} got the phone in plain text",
            r.path
        );
    }
    let consents = world.database.query("SELECT count(*) FROM consent");
    assert_eq!(consents[0][0]["value"], "2", "{consents:?}");
}
