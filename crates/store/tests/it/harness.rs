//! Test databases: a SQLite file in a temporary directory, or a fresh PostgreSQL database that
//! is dropped (best effort) when the test ends, panicking or not.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use c15t_store::SeaStore;
use chrono::{DateTime, TimeZone, Utc};
use sea_orm::{ConnectionTrait, Database};

/// The PostgreSQL server's maintenance database; override with `C15T_TEST_POSTGRES_URL`.
pub fn postgres_admin_url() -> String {
    std::env::var("C15T_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A fixed instant tests count from, so every time in a test is deterministic.
pub fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let random = RandomState::new().hash_one(std::process::id());
    format!(
        "{}_{:x}_{}",
        std::process::id(),
        random & 0xffff_ffff,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
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

/// A fresh PostgreSQL database, dropped on drop.
#[derive(Debug)]
pub struct PostgresDb {
    pub name: String,
    pub url: String,
}

impl PostgresDb {
    pub async fn new() -> Self {
        let admin = postgres_admin_url();
        let name = format!("c15t_test_{}", unique_suffix());
        let conn = Database::connect(admin.as_str()).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {admin} is needed by these tests (start it first): {e}")
        });
        conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        conn.close().await.unwrap();
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}");
        Self { name, url }
    }
}

impl Drop for PostgresDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // A runtime of its own: this may run while the test's runtime is unwinding.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                if let Ok(conn) = Database::connect(postgres_admin_url().as_str()).await {
                    let _ = conn
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    let _ = conn.close().await;
                }
            });
            Ok::<_, std::io::Error>(())
        })
        .join();
    }
}

/// Either database, kept alive for the test.
#[derive(Debug)]
pub enum TestDb {
    Sqlite(SqliteDb),
    Postgres(PostgresDb),
}

impl TestDb {
    pub async fn sqlite() -> Self {
        Self::Sqlite(SqliteDb::new())
    }

    pub async fn postgres() -> Self {
        Self::Postgres(PostgresDb::new().await)
    }

    pub fn url(&self) -> &str {
        match self {
            Self::Sqlite(db) => &db.url,
            Self::Postgres(db) => &db.url,
        }
    }

    pub async fn store(&self) -> SeaStore {
        SeaStore::connect(self.url()).await.unwrap()
    }
}
