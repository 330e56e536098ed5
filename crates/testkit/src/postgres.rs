//! A fresh PostgreSQL database per test on the local server, dropped (best effort) when the
//! handle drops, panicking or not. Tests that need PostgreSQL fail, never skip, when it is not
//! reachable: CI provides it.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::{ConnectionTrait, Database};

/// The PostgreSQL server's maintenance database; override with `C15T_TEST_POSTGRES_URL`.
pub fn admin_url() -> String {
    std::env::var("C15T_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A database of its own for one test.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates a database named `{prefix}_{pid}_{random}_{n}`, unique across tests and test
    /// processes. Panics, naming the server, when PostgreSQL is not reachable.
    pub async fn create(prefix: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let random = RandomState::new().hash_one(std::process::id()) & 0xffff_ffff;
        let name = format!(
            "{prefix}_{}_{random:x}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let admin = admin_url();
        let conn = Database::connect(admin.as_str()).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {admin} is needed by these tests (start it first): {e}")
        });
        conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
        let _ = conn.close().await;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}");
        Self { name, url }
    }

    /// Its connection URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // A runtime of its own: the test's runtime may be gone or unwinding.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                if let Ok(conn) = Database::connect(admin_url().as_str()).await {
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = conn.execute_unprepared(&drop).await;
                    let _ = conn.close().await;
                }
            });
            Ok::<_, std::io::Error>(())
        })
        .join();
    }
}
