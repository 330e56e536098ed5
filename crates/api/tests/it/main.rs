//! The API's integration tests: one binary (see STYLE.md), a real SQLite store and key file in
//! a temporary directory, requests through the router in process.

mod access;
mod cancel;
mod documented;
mod downloads;
mod fixtures;
mod hardening;
mod harness;
mod input;
mod quotas;
