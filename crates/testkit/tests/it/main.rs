//! Integration tests of c15t-testkit's fakes, driven over real HTTP.

mod cloudflare;
mod github;
mod libsql;
