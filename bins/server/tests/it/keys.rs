//! The key file at start: created only on a fresh install, shared by replicas starting
//! together, refused when it does not open the stored vaults, and checked by `/readyz`.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use c15t_control::{Control, KeySource, Secret, SystemClock};
use c15t_model::CustomerSpec;
use c15t_store::SeaStore;

use crate::harness::Env;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A `Control` on `env`'s database with its key file as it is now.
async fn control(env: &Env) -> Control {
    Control::new(
        Arc::new(SeaStore::connect(&env.url).await.unwrap()),
        KeySource::load(env.key_path()).unwrap(),
        Arc::new(SystemClock),
    )
}

/// Stores the example customer as `id`, with its secrets sealed to the key file.
async fn add_customer(env: &Env, id: &str) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/cust_abc123.toml"
    );
    let mut spec: CustomerSpec = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    spec.id = id.to_owned();
    let resolve = |var: &str| Some(Secret::new(format!("{var}-value")));
    control(env)
        .await
        .import("test", spec, &resolve)
        .await
        .unwrap();
}

/// The recipient (public key) a server's log says it loaded or created.
fn recipient(logs: &str) -> Option<String> {
    logs.lines().find_map(|line| {
        let json: serde_json::Value = serde_json::from_str(line).ok()?;
        let message = json["message"].as_str()?;
        (message.contains("key file") && json["recipient"].is_string())
            .then(|| json["recipient"].as_str().unwrap_or_default().to_owned())
    })
}

fn refused(env: &Env) -> String {
    let (status, logs) = env.run_to_exit(Duration::from_secs(20));
    let status = status.unwrap_or_else(|| panic!("the server started anyway; its log:\n{logs}"));
    assert!(!status.success(), "exit status {status}:\n{logs}");
    logs
}

fn names_the_recovery(logs: &str) {
    for part in [
        "restore the key file",
        "`c15tctl customer remove <id>`",
        "`c15tctl import --config <file>`",
    ] {
        assert!(logs.contains(part), "{part:?} missing from:\n{logs}");
    }
}

#[tokio::test]
async fn a_deleted_key_file_with_customers_stored_stops_the_start_and_creates_nothing() {
    let env = Env::sqlite();
    drop(env.start(&[]));
    add_customer(&env, "cust_abc123").await;
    add_customer(&env, "cust_def456").await;
    std::fs::remove_file(env.key_path()).unwrap();

    let logs = refused(&env);
    assert!(
        logs.contains("does not exist, so it does not open the 2 vaults in this database"),
        "{logs}"
    );
    assert!(logs.contains("`cust_abc123`, `cust_def456`"), "{logs}");
    names_the_recovery(&logs);
    assert!(!logs.contains("created a new key file"), "{logs}");
    assert!(!env.key_path().exists(), "a new key file was created");
}

#[tokio::test]
async fn a_wrong_key_file_stops_the_start() {
    let env = Env::sqlite();
    drop(env.start(&[]));
    add_customer(&env, "cust_abc123").await;
    // Another installation's key file in its place.
    std::fs::remove_file(env.key_path()).unwrap();
    c15t_control::keys_init(&env.key_path()).unwrap();
    let wrong = std::fs::read(env.key_path()).unwrap();

    let logs = refused(&env);
    assert!(
        logs.contains(&format!(
            "the key file {} does not open the 1 vault in this database (customers `cust_abc123`)",
            env.key_path().display()
        )),
        "{logs}"
    );
    names_the_recovery(&logs);
    assert_eq!(std::fs::read(env.key_path()).unwrap(), wrong);
}

#[tokio::test]
async fn replicas_starting_together_on_a_fresh_database_share_one_new_key() {
    let env = Env::postgres().await;
    let replicas = 4;
    let barrier = Barrier::new(replicas);
    let servers: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..replicas)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    env.start(&[])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let on_disk = c15t_secrets::Keyring::load(&env.key_path())
        .unwrap()
        .primary_recipient();
    let created = servers
        .iter()
        .filter(|s| s.logs().contains("created a new key file"))
        .count();
    assert_eq!(created, 1, "exactly one replica creates the key file");
    for server in &servers {
        assert_eq!(
            recipient(&server.logs()).as_deref(),
            Some(on_disk.as_str()),
            "{}",
            server.logs()
        );
    }
    // A customer stored by one opens on every replica.
    add_customer(&env, "cust_abc123").await;
    let http = client();
    for server in &servers {
        let readyz = http.get(server.url("/readyz")).send().await.unwrap();
        assert_eq!(readyz.status(), 200, "{}", server.logs());
    }
}

#[tokio::test]
async fn readyz_is_503_when_the_latest_vault_does_not_open() {
    let env = Env::sqlite();
    let server = env.start(&[]);
    add_customer(&env, "cust_abc123").await;
    let http = client();
    let readyz = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(readyz.status(), 200, "{}", server.logs());

    // `c15tctl keys rotate` while the server runs: the vault is re-sealed to a key the server
    // has not loaded, so it can no longer open it until restarted.
    control(&env).await.keys_rotate("ops").await.unwrap();
    let readyz = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(readyz.status(), 503, "{}", server.logs());
    assert_eq!(
        readyz.text().await.unwrap(),
        "not ready: the key file does not open the stored vaults\n"
    );
    let logs = server
        .logs_containing("restart after `c15tctl keys rotate`")
        .await;
    assert!(
        logs.contains("restart after `c15tctl keys rotate`"),
        "{logs}"
    );

    // Restarted, it loads the rotated key file and is ready again.
    drop(server);
    let server = env.start(&[]);
    let readyz = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(readyz.status(), 200, "{}", server.logs());
}
