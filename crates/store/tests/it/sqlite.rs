//! SQLite specifics: the file is created on first use, in WAL mode with foreign keys on, and
//! reopening it keeps the data (migrations are applied once).

use c15t_model::CustomerId;
use c15t_store::{ConfigChange, SeaStore, Store, default_database_url};
use sea_orm::{ConnectionTrait, Statement};

use crate::cases::example_spec;
use crate::harness::t;

async fn pragma(store: &SeaStore, name: &str) -> String {
    let conn = store.connection();
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            format!("PRAGMA {name}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0)
        .map(|n| n.to_string())
        .or_else(|_| row.try_get_by_index::<String>(0))
        .unwrap()
}

#[tokio::test]
async fn file_is_created_in_wal_mode_with_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested-name.db");
    assert!(!path.exists());
    // A plain path works as well as a URL.
    let store = SeaStore::connect(path.to_str().unwrap()).await.unwrap();
    assert!(path.exists());
    assert_eq!(pragma(&store, "journal_mode").await, "wal");
    assert_eq!(pragma(&store, "foreign_keys").await, "1");
    assert_eq!(pragma(&store, "busy_timeout").await, "5000");

    let spec = example_spec();
    store
        .config_put(ConfigChange {
            actor: "a",
            action: "customer.create",
            resource: "customer/cust_abc123",
            spec: &spec,
            vault: None,
            expected_revision: None,
            jobs: &[],
            now: t(0),
        })
        .await
        .unwrap();
    drop(store);

    let url = format!("sqlite://{}", path.display());
    let reopened = SeaStore::connect(&url).await.unwrap();
    reopened.migrate().await.unwrap();
    let id = CustomerId::new("cust_abc123").unwrap();
    assert_eq!(
        reopened.customer_get(&id).await.unwrap().unwrap().spec,
        spec
    );
}

#[test]
fn default_url_is_a_file_in_the_working_directory() {
    assert_eq!(default_database_url(), "sqlite://c15t.db?mode=rwc");
}

/// Entries written before changes were stored (the whole config before and after) still read,
/// as their diff.
#[tokio::test]
async fn audit_entries_of_the_old_form_read_as_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = SeaStore::connect(dir.path().join("a.db").to_str().unwrap())
        .await
        .unwrap();
    let conn = store.connection();
    conn.execute_raw(Statement::from_string(
        conn.get_database_backend(),
        "INSERT INTO audit_log (at, actor, action, resource, customer_id, before_json, \
         after_json) VALUES ('2026-01-01T00:00:00Z', 'a', 'customer.update', 'customer/c', 'c', \
         '{\"name\":\"A\",\"log_level\":\"info\"}', '{\"name\":\"B\",\"log_level\":\"info\"}')",
    ))
    .await
    .unwrap();
    let entry = &store.audit_list(None, 1).await.unwrap()[0];
    assert_eq!((&entry.before, &entry.after), (&None, &None));
    assert_eq!(
        serde_json::to_value(&entry.changes).unwrap(),
        serde_json::json!([{"path": "name", "before": "A", "after": "B"}])
    );
}

/// The migration to changes rewrites each old entry with a state before and after into its
/// diff, and leaves creations alone.
#[tokio::test]
async fn migration_rewrites_old_entries_into_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let store = SeaStore::connect(path.to_str().unwrap()).await.unwrap();
    let conn = store.connection();
    let run = |sql: &str| {
        conn.execute_raw(Statement::from_string(
            conn.get_database_backend(),
            sql.to_owned(),
        ))
    };
    // Back to the schema before the migration, with entries of the old form.
    run("ALTER TABLE audit_log DROP COLUMN changes_json")
        .await
        .unwrap();
    run("DELETE FROM seaql_migrations WHERE version = 'm20261127_000006_audit_changes'")
        .await
        .unwrap();
    let big = format!("\"{}\"", "x".repeat(10_000));
    for i in 0..250 {
        run(&format!(
            "INSERT INTO audit_log (at, actor, action, resource, customer_id, before_json, \
             after_json) VALUES ('2026-01-01T00:00:00Z', 'a', 'customer.update', 'customer/c', \
             'c', '{{\"big\":{big},\"n\":{i}}}', '{{\"big\":{big},\"n\":{}}}')",
            i + 1
        ))
        .await
        .unwrap();
    }
    run(
        "INSERT INTO audit_log (at, actor, action, resource, customer_id, after_json) VALUES \
         ('2026-01-01T00:00:00Z', 'a', 'customer.create', 'customer/c', 'c', '{\"n\":0}')",
    )
    .await
    .unwrap();
    drop(store);

    let store = SeaStore::connect(path.to_str().unwrap()).await.unwrap();
    let conn = store.connection();
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT COUNT(*) AS n, SUM(LENGTH(COALESCE(before_json, '')) + \
             LENGTH(COALESCE(after_json, '')) + LENGTH(COALESCE(changes_json, ''))) AS bytes \
             FROM audit_log WHERE action = 'customer.update' AND changes_json IS NOT NULL \
             AND before_json IS NULL AND after_json IS NULL",
        ))
        .await
        .unwrap()
        .unwrap();
    let (n, bytes): (i64, i64) = (
        row.try_get("", "n").unwrap(),
        row.try_get("", "bytes").unwrap(),
    );
    assert_eq!(n, 250, "every old update was rewritten");
    assert!(
        bytes < 250 * 100,
        "{bytes} bytes stored for 250 one-number changes"
    );
    let all = store.audit_list(None, 1000).await.unwrap();
    assert_eq!(all.len(), 251);
    assert_eq!(
        serde_json::to_value(&all[1].changes).unwrap(),
        serde_json::json!([{"path": "n", "before": 249, "after": 250}])
    );
    assert_eq!(all[0].after, Some(serde_json::json!({"n": 0})));
}

/// The worker-name migration records the first rule's name of every environment that went
/// live, and reserves today's name beside it.
#[tokio::test]
async fn migration_records_the_names_deployed_workers_run_under() {
    use c15t_model::Environment;
    use c15t_store::{DeploymentStatus, DeploymentUpdate, NewDeployment};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    let store = SeaStore::connect(path.to_str().unwrap()).await.unwrap();
    let spec = example_spec();
    store
        .config_put(ConfigChange {
            actor: "a",
            action: "customer.create",
            resource: "customer/cust_abc123",
            spec: &spec,
            vault: None,
            expected_revision: None,
            jobs: &[],
            now: t(0),
        })
        .await
        .unwrap();
    let id = CustomerId::new("cust_abc123").unwrap();
    for (env, status) in [
        ("production", DeploymentStatus::Succeeded),
        ("staging", DeploymentStatus::Failed),
    ] {
        let d = store
            .deployment_create(
                NewDeployment {
                    customer: id.clone(),
                    environment: Environment::new(env).unwrap(),
                    target: "c15t-v2".to_owned(),
                    config_revision: 1,
                    content_hash: "sha256:1".to_owned(),
                    files: Vec::new(),
                    rollback_of: None,
                    job_id: None,
                    secret_fingerprints: Default::default(),
                    entry_module: None,
                    runtime_module: None,
                    destination: "file".to_owned(),
                },
                t(1),
            )
            .await
            .unwrap();
        store
            .deployment_update(
                d.id,
                DeploymentUpdate {
                    status,
                    url: None,
                    error: None,
                    remote_version: None,
                },
                t(2),
            )
            .await
            .unwrap();
    }
    let conn = store.connection();
    let run = |sql: &str| {
        conn.execute_raw(Statement::from_string(
            conn.get_database_backend(),
            sql.to_owned(),
        ))
    };
    // Back to the schema before the migration.
    run("DROP TABLE worker_names").await.unwrap();
    run("DELETE FROM seaql_migrations WHERE version = 'm20261206_000008_worker_names'")
        .await
        .unwrap();
    drop(store);

    let store = SeaStore::connect(path.to_str().unwrap()).await.unwrap();
    let names: Vec<(String, String, bool)> = store
        .worker_names(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.environment.to_string(), r.name, r.live))
        .collect();
    assert_eq!(
        names,
        [
            (
                "production".to_owned(),
                "c15t-cust-abc123".to_owned(),
                false
            ),
            ("production".to_owned(), "c15t-cust_abc123".to_owned(), true),
        ]
    );
}
