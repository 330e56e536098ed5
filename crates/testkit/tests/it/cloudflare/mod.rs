//! Tests of the fake Cloudflare Workers API, driven with reqwest as a deployer would.

mod auth;
mod deployments;
mod faults;
mod secrets;
mod support;
mod upload;
