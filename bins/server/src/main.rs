//! `c15t-server` (being written).

fn main() {}
