//! Integration tests of the `c15t-server` binary: started for real on an ephemeral port.

mod faults;
mod harness;
mod keys;
mod server;
