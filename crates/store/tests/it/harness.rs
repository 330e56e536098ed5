//! Test databases: a SQLite file in a temporary directory, or a fresh PostgreSQL database that
//! is dropped (best effort) when the test ends, panicking or not.

use c15t_store::SeaStore;
use c15t_testkit::postgres::TestDatabase;
use chrono::{DateTime, TimeZone, Utc};

/// A fixed instant tests count from, so every time in a test is deterministic.
pub fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
}

/// A SQLite store in its own temporary directory.
#[derive(Debug)]
pub struct SqliteDb {
    _dir: tempfile::TempDir,
    pub url: String,
}

impl SqliteDb {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("c15t.db").display());
        Self { _dir: dir, url }
    }
}

/// Either database, kept alive for the test.
#[derive(Debug)]
pub enum TestDb {
    Sqlite(SqliteDb),
    Postgres(TestDatabase),
}

impl TestDb {
    pub async fn sqlite() -> Self {
        Self::Sqlite(SqliteDb::new())
    }

    pub async fn postgres() -> Self {
        Self::Postgres(TestDatabase::create("c15t_test").await)
    }

    pub fn url(&self) -> &str {
        match self {
            Self::Sqlite(db) => &db.url,
            Self::Postgres(db) => db.url(),
        }
    }

    pub async fn store(&self) -> SeaStore {
        SeaStore::connect(self.url()).await.unwrap()
    }
}
