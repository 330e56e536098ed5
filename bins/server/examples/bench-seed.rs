//! Seeds a database with a fleet of customers for `cargo xtask bench-server` (issue 6,
//! section 5): every customer has two environments, five destinations of distinct kinds with
//! their secrets in a sealed vault, and a Turso database token, like the control crate's fleet
//! bench. Creates the key file when it is missing (the server then reads the same one).
//!
//! ```text
//! cargo run --release -p c15t-server --example bench-seed -- \
//!     sqlite:///tmp/bench/c15t.db?mode=rwc /tmp/bench/c15t.key 10000
//! ```

#![allow(clippy::print_stdout, reason = "a bench tool reports on stdout")]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use c15t_model::{CustomerSpec, DatabaseSpec, DestinationSpec, RawValue, SecretRef};
use c15t_secrets::{Keyring, Secret, Vault};
use c15t_store::{ConfigChange, SeaStore, Store, VaultSwap};

/// The destination kinds used: slug, its secret field, and a public setting for customer `i`.
type Public = fn(usize) -> (&'static str, String);
const KINDS: [(&str, &str, Public); 6] = [
    ("meta-pixel", "accessToken", |i| {
        ("pixelId", format!("{:012}", i + 1))
    }),
    ("google-analytics", "apiSecret", |i| {
        ("measurementId", format!("G-C{i:06}"))
    }),
    ("tiktok-pixel", "accessToken", |i| {
        ("pixelId", format!("C{i:019}"))
    }),
    ("linkedin-insight", "accessToken", |i| {
        ("partnerId", format!("{:08}", i + 1))
    }),
    ("reddit-pixel", "accessToken", |i| {
        ("pixelId", format!("t2_{i:08}"))
    }),
    ("snapchat-pixel", "accessToken", |i| {
        ("pixelId", format!("01234567-89ab-cdef-0123-{i:012x}"))
    }),
];
const DESTINATIONS: usize = 5;

fn customer(keyring: &Keyring, i: usize) -> (CustomerSpec, String) {
    let mut vault = Vault::new();
    let mut secret = |key: String, value: String| {
        let value = Secret::new(value);
        let fingerprint = keyring.fingerprint(&value).to_string();
        vault.insert(key, value);
        RawValue::Secret(SecretRef::Stored(fingerprint))
    };
    let auth_token = secret(
        c15t_control::vault_key_database(),
        format!("turso-{i:06}-{}", "x".repeat(96)),
    );
    let destinations = (0..DESTINATIONS)
        .map(|j| {
            let (slug, secret_field, public) = KINDS[(i + j) % KINDS.len()];
            let (key, value) = public(i);
            let mut settings = BTreeMap::from([(key.to_owned(), RawValue::Text(value))]);
            settings.insert(
                secret_field.to_owned(),
                secret(
                    c15t_control::vault_key_destination(slug, secret_field),
                    format!("{slug}-{i:06}-{}", "x".repeat(96)),
                ),
            );
            DestinationSpec {
                id: slug.to_owned(),
                name: format!("{slug} of customer {i}"),
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
        id: format!("cust_{i:06}"),
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
    };
    let sealed = keyring.seal(&vault).expect("seals a vault");
    (spec, sealed)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(key_file), Some(count)) = (args.next(), args.next(), args.next()) else {
        println!("usage: bench-seed <database-url> <key-file> <customers>");
        std::process::exit(2);
    };
    let count: usize = count.parse().expect("customers is a number");
    let key_file = PathBuf::from(key_file);
    if !key_file.exists() {
        c15t_control::keys_init(&key_file).expect("creates the key file");
    }
    let keyring = Keyring::load(&key_file).expect("loads the key file");
    let started = Instant::now();

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = count.div_ceil(threads);
    let fleet: Vec<(CustomerSpec, String)> = std::thread::scope(|scope| {
        let keyring = &keyring;
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t * per_thread..((t + 1) * per_thread).min(count))
                        .map(|i| customer(keyring, i))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("seeding thread"))
            .collect()
    });

    let store: Arc<dyn Store> =
        Arc::new(SeaStore::connect(&url).await.expect("opens the database"));
    let fleet = Arc::new(fleet);
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
                            actor: "bench-seed",
                            action: "customer.import",
                            resource: &resource,
                            spec,
                            vault: Some(VaultSwap {
                                old: None,
                                new: vault,
                            }),
                            expected_revision: None,
                            jobs: &[],
                            now,
                        })
                        .await
                        .expect("stores a customer");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("seeding task");
    }
    println!(
        "seeded {count} customers in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
