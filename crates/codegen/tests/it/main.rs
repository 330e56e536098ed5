//! Integration tests of the generator: snapshots, the real TypeScript toolchain, injection.

mod injection;
mod package;
mod snapshots;
mod support;
mod typescript;
