//! Fleet preparation speed (issue 3, section 5): `prepare::fleet_prepare` over 10,000
//! customers x 5 destinations, from SQLite and from PostgreSQL.
//!
//! A plain binary (`harness = false`): one run takes about a second, so Criterion's sampling
//! would add minutes and nothing else. It seeds each backend once through `Store::config_put`
//! (not timed), runs `fleet_prepare` several times and prints min/median wall time with the
//! phase breakdown of the median run.
//!
//! ```text
//! cargo bench -p c15t-control --bench fleet
//! C15T_BENCH_CUSTOMERS=1000 C15T_BENCH_RUNS=3 cargo bench -p c15t-control --bench fleet
//! ```
//!
//! Without `--bench` (as `cargo test --benches` runs it) it does one run of 50 customers.
//!
//! PostgreSQL: a fresh database `c15t_bench_<random>` is created through
//! `C15T_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`) and dropped at
//! the end.
//!
//! Fleet shape: every catalogue kind has exactly one secret field, so "3 secret fields per
//! destination" cannot be expressed as real settings. Each customer has 5 destinations of
//! distinct secret-capable kinds (rotating over all 8), each with its one secret setting, plus
//! the database token: 6 secret bindings per worker. Its vault holds 16 values (15 for the
//! destinations, 3 each, of which 2 are extra entries no binding reads, plus the database
//! token), so decryption handles the volume of 15 destination secrets.

#![allow(clippy::print_stdout, reason = "a bench binary reports on stdout")]

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::{Duration, Instant};

use c15t_codegen::TargetProfile;
use c15t_control::{vault_key_database, vault_key_destination};
use c15t_model::{
    Catalogue, CustomerSpec, DatabaseSpec, DestinationSpec, Environment, RawValue, SecretRef,
};
use c15t_secrets::{Keyring, Secret, Vault};
use c15t_store::{ConfigChange, SeaStore, Store};
use sea_orm::{ConnectionTrait, Database};

#[path = "fleet/prepare.rs"]
mod prepare;

const DESTINATIONS: usize = 5;
/// Vault entries per destination (one read by a binding, the rest extra volume).
const SECRETS_PER_DESTINATION: usize = 3;

/// The secret-capable kinds: slug, its one secret field, and its public settings for customer
/// `i`.
type PublicSettings = fn(usize) -> Vec<(&'static str, RawValue)>;
const KINDS: [(&str, &str, PublicSettings); 8] = [
    ("meta-pixel", "accessToken", |i| {
        vec![("pixelId", text(format!("{:012}", i + 1)))]
    }),
    ("google-analytics", "apiSecret", |i| {
        vec![("measurementId", text(format!("G-C{i:06}")))]
    }),
    ("tiktok-pixel", "accessToken", |i| {
        vec![("pixelId", text(format!("C{i:019}")))]
    }),
    ("linkedin-insight", "accessToken", |i| {
        vec![("partnerId", text(format!("{:08}", i + 1)))]
    }),
    ("mixpanel", "apiSecret", |i| {
        vec![
            ("token", text(format!("{i:032x}"))),
            ("apiHost", text("https://api-eu.mixpanel.com".to_owned())),
        ]
    }),
    ("reddit-pixel", "accessToken", |i| {
        vec![("pixelId", text(format!("t2_{i:08}")))]
    }),
    ("snapchat-pixel", "accessToken", |i| {
        vec![("pixelId", text(format!("01234567-89ab-cdef-0123-{i:012x}")))]
    }),
    ("matomo", "tokenAuth", |i| {
        vec![
            (
                "matomoUrl",
                text("https://analytics.example.com".to_owned()),
            ),
            ("siteId", RawValue::Integer(i64::try_from(i).unwrap() + 1)),
        ]
    }),
];

fn text(s: String) -> RawValue {
    RawValue::Text(s)
}

/// A secret value of realistic length (access tokens run from 32 to a few hundred characters).
fn secret_value(customer: usize, what: &str) -> Secret {
    Secret::new(format!("{what}-{customer:06}-{}", "x".repeat(96)))
}

/// Customer `i`'s config (secrets as fingerprints) and its plaintext vault.
fn customer(keyring: &Keyring, i: usize) -> (CustomerSpec, Vault) {
    let id = format!("cust_{i:06}");
    let mut vault = Vault::new();
    let reference = |vault: &mut Vault, key: String, value: Secret| {
        let fingerprint = keyring.fingerprint(&value).to_string();
        vault.insert(key, value);
        RawValue::Secret(SecretRef::Stored(fingerprint))
    };
    let auth_token = reference(&mut vault, vault_key_database(), secret_value(i, "turso"));
    let destinations = (0..DESTINATIONS)
        .map(|j| {
            let (slug, secret_field, public) = KINDS[(i + j) % KINDS.len()];
            let mut settings: BTreeMap<String, RawValue> = public(i)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            let key = vault_key_destination(slug, secret_field);
            let value = reference(&mut vault, key, secret_value(i, slug));
            settings.insert(secret_field.to_owned(), value);
            for extra in 1..SECRETS_PER_DESTINATION {
                let key = vault_key_destination(slug, &format!("extra{extra}"));
                vault.insert(key, secret_value(i, "extra"));
            }
            DestinationSpec {
                id: slug.to_owned(),
                name: format!("{slug} of {id}"),
                kind: slug.to_owned(),
                enabled: true,
                environment: None,
                category: None,
                settings,
            }
        })
        .collect();
    let spec = CustomerSpec {
        events_debug_secret: None,
        name: format!("Customer {i}"),
        environments: Some(vec!["production".to_owned(), "staging".to_owned()]),
        trusted_origins: vec![
            format!("https://www.customer-{i}.example.com"),
            format!("*.customer-{i}.example.com"),
        ],
        log_level: Some("info".to_owned()),
        database: DatabaseSpec {
            provider: "turso".to_owned(),
            url: format!("libsql://customer-{i}.turso.io"),
            auth_token,
        },
        destinations,
        id,
    };
    (spec, vault)
}

/// Builds every customer and seals every vault, on all cores.
fn fleet(keyring: &Keyring, customers: usize) -> Vec<(CustomerSpec, String)> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = customers.div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t * per_thread..((t + 1) * per_thread).min(customers))
                        .map(|i| {
                            let (spec, vault) = customer(keyring, i);
                            (spec, keyring.seal(&vault).expect("seals"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("seeding thread"))
            .collect()
    })
}

/// Writes the fleet through `config_put`, a few writers at a time.
async fn seed(store: Arc<dyn Store>, fleet: Arc<Vec<(CustomerSpec, String)>>) {
    const WRITERS: usize = 8;
    let now = chrono::Utc::now();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = Arc::clone(&store);
            let fleet = Arc::clone(&fleet);
            tokio::spawn(async move {
                for (spec, vault) in fleet.iter().skip(w).step_by(WRITERS) {
                    let resource = format!("customer/{}", spec.id);
                    store
                        .config_put(ConfigChange {
                            actor: "bench",
                            action: "customer.import",
                            resource: &resource,
                            spec,
                            vault: Some(c15t_store::VaultSwap {
                                old: None,
                                new: vault,
                            }),
                            expected_revision: None,
                            jobs: &[],
                            now,
                        })
                        .await
                        .expect("seeds a customer");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("seeding task");
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

/// Checks the plan is complete and right, so the timing is of real work.
fn check(plan: &prepare::FleetPlan, customers: usize) {
    if let Some(failure) = plan.failures.first() {
        panic!("customer {} failed: {}", failure.customer, failure.error);
    }
    assert!(plan.skipped.is_empty());
    assert_eq!(plan.workers.len(), customers);
    for (i, worker) in plan.workers.iter().enumerate() {
        assert_eq!(worker.customer.as_str(), format!("cust_{i:06}"));
        assert_eq!(worker.worker_name, format!("c15t-cust-{i:06}"));
        assert_eq!(worker.revision, 1);
        assert_eq!(worker.secrets.len(), 1 + DESTINATIONS);
        assert_eq!(worker.secrets[0].0, "TURSO_AUTH_TOKEN");
        assert_eq!(
            worker.secrets[0].1.expose(),
            secret_value(i, "turso").expose()
        );
        assert!(worker.content_hash.starts_with("sha256:"));
    }
}

async fn measure(
    label: &str,
    store: &dyn Store,
    keyring: &Arc<Keyring>,
    customers: usize,
    runs: usize,
) {
    let env = Environment::production();
    let target = TargetProfile::default();
    let mut plans = Vec::new();
    for _ in 0..runs {
        let plan = prepare::fleet_prepare(
            store,
            Arc::clone(keyring),
            Catalogue::builtin(),
            &env,
            &target,
        )
        .await
        .expect("prepares");
        check(&plan, customers);
        plans.push(plan.timings);
    }
    plans.sort_by_key(|t| t.total);
    let min = plans[0];
    let median = plans[plans.len() / 2];
    println!(
        "{label}: {customers} customers, {runs} runs: min {}, median {}",
        ms(min.total),
        ms(median.total)
    );
    let per = |d: Duration| d.as_secs_f64() * 1e6 / customers as f64;
    println!(
        "  median run: load (wall, until the last page) {}; on {} threads (overlapping the load): \
         validate+generate {} thread time ({:.0} us/customer), open vaults+bindings {} thread \
         time ({:.0} us/customer)",
        ms(median.load),
        median.threads,
        ms(median.validate_generate),
        per(median.validate_generate),
        ms(median.vaults_bindings),
        per(median.vaults_bindings),
    );
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} must be a number"))
        })
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and then one small
    // run checks that the bench still works, as Criterion's test mode does.
    let bench = std::env::args().any(|a| a == "--bench");
    let customers = env_usize("C15T_BENCH_CUSTOMERS", if bench { 10_000 } else { 50 });
    let runs = env_usize("C15T_BENCH_RUNS", if bench { 5 } else { 1 }).max(1);
    let keyring = Arc::new(Keyring::generate());
    let started = Instant::now();
    let fleet = Arc::new(fleet(&keyring, customers));
    println!(
        "seeding: built and sealed {customers} customers in {}",
        ms(started.elapsed())
    );
    // SQLite.
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("c15t.db").display());
    let store: Arc<dyn Store> = Arc::new(SeaStore::connect(&url).await.expect("opens SQLite"));
    let started = Instant::now();
    seed(Arc::clone(&store), Arc::clone(&fleet)).await;
    println!("seeding: SQLite written in {}", ms(started.elapsed()));
    measure("SQLite", store.as_ref(), &keyring, customers, runs).await;
    drop(store);

    // PostgreSQL.
    let admin = std::env::var("C15T_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let name = format!(
        "c15t_bench_{}_{:x}",
        std::process::id(),
        RandomState::new().hash_one(0u8) & 0xffff_ffff
    );
    let conn = Database::connect(admin.as_str())
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is needed (start it first): {e}"));
    conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("creates the bench database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let url = format!("{base}/{name}");
    let result = async move {
        let store: Arc<dyn Store> =
            Arc::new(SeaStore::connect(&url).await.expect("opens PostgreSQL"));
        let started = Instant::now();
        seed(Arc::clone(&store), Arc::clone(&fleet)).await;
        println!("seeding: PostgreSQL written in {}", ms(started.elapsed()));
        measure("PostgreSQL", store.as_ref(), &keyring, customers, runs).await;
    };
    // Drop the database even if a run panics.
    let outcome = tokio::spawn(result).await;
    conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .expect("drops the bench database");
    conn.close().await.expect("closes");
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
