//! Job claiming from two processes: the parent test enqueues N jobs, then runs this test
//! binary twice more as `child_claimer`; each child claims, records the job in a scratch
//! table, and completes until the queue is empty. Every job must be done exactly once.

use std::process::{Command, Stdio};
use std::time::Duration;

use c15t_store::{JobStatus, NewJob, SeaStore, Store};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::harness::{TestDb, t};

const URL_VAR: &str = "C15T_TEST_CLAIM_URL";
const WORKER_VAR: &str = "C15T_TEST_CLAIM_WORKER";
const N: usize = 200;

/// The child's side (the `child_claimer` test at the binary's root); does nothing unless the
/// parent set the environment.
pub async fn child_main() {
    let (Ok(url), Ok(worker)) = (std::env::var(URL_VAR), std::env::var(WORKER_VAR)) else {
        return;
    };
    let store = SeaStore::connect(&url).await.unwrap();
    let conn = store.connection();
    let insert = match conn.get_database_backend() {
        DbBackend::Postgres => "INSERT INTO job_done (job_id, worker) VALUES ($1, $2)",
        _ => "INSERT INTO job_done (job_id, worker) VALUES (?, ?)",
    };
    while let Some(job) = store
        .job_claim(&worker, &["work"], Duration::from_secs(600), t(10))
        .await
        .unwrap()
    {
        conn.execute_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            insert,
            [job.id.into(), worker.clone().into()],
        ))
        .await
        .unwrap();
        assert!(store.job_complete(job.id, &worker, t(11)).await.unwrap());
    }
}

async fn count(store: &SeaStore, sql: &str) -> i64 {
    let conn = store.connection();
    let row = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn two_processes_claim_each_job_once(db: TestDb) {
    let store = db.store().await;
    store
        .connection()
        .execute_unprepared("CREATE TABLE job_done (job_id BIGINT NOT NULL, worker TEXT NOT NULL)")
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..N {
        let job = NewJob {
            kind: "work".to_owned(),
            payload: serde_json::json!({ "n": i }),
            dedupe_key: None,
            run_at: t(0),
            max_attempts: 1,
        };
        ids.push(store.job_enqueue(job, t(0)).await.unwrap().id);
    }

    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = ["claimer-a", "claimer-b"]
        .into_iter()
        .map(|worker| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "child_claimer",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(URL_VAR, db.url())
                .env(WORKER_VAR, worker)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for out in &outputs {
        assert!(
            out.status.success(),
            "a claimer failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "the child did not run `child_claimer`: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    let n = i64::try_from(N).unwrap();
    assert_eq!(count(&store, "SELECT COUNT(*) FROM job_done").await, n);
    assert_eq!(
        count(&store, "SELECT COUNT(DISTINCT job_id) FROM job_done").await,
        n
    );
    for id in ids {
        assert_eq!(
            store.job_get(id).await.unwrap().unwrap().status,
            JobStatus::Done
        );
    }
    let counts = store.job_counts().await.unwrap();
    assert_eq!(
        (counts.done, counts.pending, counts.running),
        (N as u64, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_processes_claim_each_job_once() {
    two_processes_claim_each_job_once(TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_processes_claim_each_job_once() {
    two_processes_claim_each_job_once(TestDb::sqlite().await).await;
}
