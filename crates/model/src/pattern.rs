//! Compiled catalogue patterns, built once per process.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use regex::Regex;

use crate::catalogue::Pattern;

static COMPILED: LazyLock<Mutex<HashMap<&'static str, Regex>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Whether `value` matches the pattern (whole value).
pub(crate) fn matches(pattern: Pattern, value: &str) -> bool {
    let mut cache = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
    let re = cache.entry(pattern.regex).or_insert_with(|| {
        // Catalogue patterns are checked by the catalogue's tests; a bad one is a build defect.
        Regex::new(pattern.regex).expect("catalogue pattern compiles")
    });
    re.is_match(value)
}
