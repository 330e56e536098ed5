//! Integration tests of `c15t-control`: the use cases on a real store (SQLite, and PostgreSQL
//! where concurrency matters) with a real key file.
//!
//! PostgreSQL must be reachable at `C15T_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); each test makes a database of its own there.

mod concurrency;
mod config;
mod connection;
mod delivery;
mod domains;
mod drift;
mod fleet;
mod generate;
mod harness;
mod import;
mod input;
mod keys;
mod layers;
mod rollout;
mod rotation;
mod worker_names;
