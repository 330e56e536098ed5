//! The admin UI's integration tests: one binary (see STYLE.md).

mod browser;
