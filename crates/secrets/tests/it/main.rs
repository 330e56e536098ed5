//! Integration tests of `c15t-secrets`: the key file on disk, rotation end to end, and
//! interoperability with the stock `age` command-line tool.

mod age_cli;
mod keyfile;
mod rotation;

use c15t_secrets::{Secret, Vault};

/// A customer's vault as the control plane would build it.
fn sample_vault() -> Vault {
    let mut vault = Vault::new();
    vault.insert(
        "destination/meta-pixel/accessToken",
        Secret::from("EAAB-secret-access-token"),
    );
    vault.insert(
        "destination/ga4/apiSecret",
        Secret::from("ga4 secret with \"quotes\", \\ and ünïcödé"),
    );
    vault.insert("database/auth_token", Secret::from("turso-secret-token"));
    vault
}
