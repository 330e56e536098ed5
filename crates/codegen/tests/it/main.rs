//! Integration tests of the generator: snapshots, the real TypeScript toolchain, injection, and
//! the generated worker's destinations in a real browser.

mod browser;
mod injection;
mod package;
mod snapshots;
mod support;
mod typescript;
mod write;
