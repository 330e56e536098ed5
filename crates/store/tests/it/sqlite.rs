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
