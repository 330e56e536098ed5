//! Integration tests of `c15t-deploy`: releases, the file deployer and archives.

mod archive;
mod cloudflare;
mod events;
mod file;
mod gitops;
mod release;
mod runtime;
mod subjects;
mod support;
mod webhook;
