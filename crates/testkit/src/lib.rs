//! Faithful fakes of the outside services the c15t control plane talks to, for tests only.
//!
//! Every fake is a real HTTP server on `127.0.0.1` with an ephemeral port, started by the test
//! that uses it and stopped when its handle drops. Tests point the code under test at the
//! fake's base URL exactly as an operator points it at the real service; nothing of our own
//! code is replaced.
//!
//! - [`cloudflare`]: the Cloudflare Workers API (scripts, versions, deployments, secrets,
//!   subdomains), with rate limiting and fault injection.
//! - [`github`]: the GitHub REST API's Git database (blobs, trees, commits, refs) and pull
//!   requests, backed by a real bare git repository, with rate limits and fault injection.
//! - [`libsql`]: Turso's libSQL server (Hrana over HTTP, JSON) backed by a real SQLite file,
//!   and c15t's own migrator run against it.
//! - [`postgres`]: a fresh PostgreSQL database per test on the local server.
//! - [`webhook`]: a webhook receiver that records and verifies Standard Webhooks deliveries.
//! - [`vendors`]: the vendors' APIs on one port: the server event endpoints workers forward
//!   to (Meta CAPI, GA4 Measurement Protocol, TikTok, LinkedIn, Reddit, Snapchat, PostHog,
//!   Mixpanel, Amplitude, Segment, Plausible, Umami, Matomo), the reads connection tests make,
//!   and the vendors' script hosts.
//! - [`assets`]: the vendors' script hosts (Meta, Google, TikTok, PostHog) over HTTPS with a
//!   self-signed certificate, for browser tests; records every request.
//! - [`workerd`]: not a fake but the real runtime: generated workers run by `wrangler dev`.
//! - [`webdriver`]: not a fake either: headless Chromium driven through chromedriver.

pub mod assets;
pub mod cloudflare;
mod fault;
pub mod github;
pub mod libsql;
pub mod postgres;
pub mod vendors;
pub mod webdriver;
pub mod webhook;
pub mod workerd;
