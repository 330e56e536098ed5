//! What the fakes share to inject faults.

use std::fmt;

/// The answer is lost: hyper closes the connection without writing a response when the
/// service fails.
#[derive(Debug)]
pub(crate) struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DropConnection {}
