//! Integration tests of `c15t-store`: the conformance suite (written once in `cases`, run on
//! SQLite and on PostgreSQL), SQLite file settings, and job claiming from two processes.
//!
//! PostgreSQL must be reachable at `C15T_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); every test makes a database of its own there.

mod cases;
mod harness;
mod sqlite;
mod two_process;

/// Run by `two_process` as a child process; returns at once in an ordinary run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_claimer() {
    two_process::child_main().await;
}

/// Instantiates every case once per backend: `sqlite::<case>` and `postgres::<case>`.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite_conformance {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = crate::harness::TestDb::sqlite().await;
                    crate::cases::$case(&db.store().await).await;
                }
            )*
        }
        mod postgres_conformance {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = crate::harness::TestDb::postgres().await;
                    crate::cases::$case(&db.store().await).await;
                }
            )*
        }
    };
}

conformance!(
    customer_round_trip,
    customer_configs_pages_in_id_order,
    customer_configs_round_trip_every_setting_kind,
    config_put_bumps_revision_and_replaces_destinations,
    stale_revision_conflicts_and_writes_nothing,
    concurrent_writers_one_wins,
    create_twice_already_exists,
    delete_removes_config_keeps_history,
    audit_records_before_after_without_plaintext,
    vault_reseal_compares_and_swaps,
    api_tokens_create_find_revoke,
    deployments_record_attempts,
    jobs_enqueue_claim_complete,
    jobs_lease_expiry_lets_another_worker_claim,
    jobs_fail_with_retry,
    jobs_fail_for_good_after_max_attempts,
    jobs_dedupe_updates_the_pending_job,
    jobs_release_returns_held_jobs,
    jobs_concurrent_claimers_take_each_job_once,
    unstorable_input_is_refused,
    delivery_settings_round_trip_with_vault_swap,
    deployments_by_job_and_live,
    webhook_delivery_log,
    health_counts_failures_in_a_row,
    jobs_abandoned_too_often_are_reaped,
    users_and_sessions,
    config_changes_enqueue_their_jobs_in_their_transaction,
    config_put_takes_more_destinations_than_bind_parameters,
    audit_entries_store_what_changed,
    audit_pages_with_a_cursor,
    reads_follow_every_change_of_the_destinations,
    worker_names_are_claimed_once_and_recorded_live,
    routes_are_recorded_per_environment,
);
