//! JSON request bodies: the content type, and keys given twice.
//!
//! serde's derived structs refuse a repeated field, but maps (`settings`, `secrets`) keep the
//! last value and nested objects were never looked at; so every body is walked once before it
//! is deserialized, and a key given twice at any level is refused, named by its path.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use axum::http::{HeaderMap, header};
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

/// Whether the request says its body is JSON (`application/json` or `application/*+json`).
pub(crate) fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

/// The path of the first key given twice in one object of `body` (`settings.pixelId`,
/// `destinations[0].id`); `None` when there is none or the body is not JSON (the
/// deserializer reports that).
pub(crate) fn duplicate_key(body: &[u8]) -> Option<String> {
    let found = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let _ = Keys {
        path: String::new(),
        found: &found,
    }
    .deserialize(&mut deserializer);
    found.into_inner()
}

/// Walks one JSON value, noting the first repeated key.
struct Keys<'a> {
    path: String,
    found: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for Keys<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Keys<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0_usize;
        loop {
            let element = Keys {
                path: format!("{}[{i}]", self.path),
                found: self.found,
            };
            if seq.next_element_seed(element)?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let shown = crate::error::prefix(&key);
            let shown = shown.trim_matches('`');
            let path = if self.path.is_empty() {
                shown.to_owned()
            } else {
                format!("{}.{shown}", self.path)
            };
            if !seen.insert(key) {
                *self.found.borrow_mut() = Some(path);
                return Err(A::Error::custom("duplicate key"));
            }
            map.next_value_seed(Keys {
                path,
                found: self.found,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::duplicate_key;

    #[test]
    fn repeated_keys_are_found_at_any_depth() {
        assert_eq!(
            duplicate_key(br#"{"a": 1, "b": {"c": [1, {"d": 2}]}}"#),
            None
        );
        assert_eq!(duplicate_key(br#"{"a": 1, "a": 2}"#).as_deref(), Some("a"));
        assert_eq!(
            duplicate_key(br#"{"s": {"k": "1", "k": "2"}}"#).as_deref(),
            Some("s.k")
        );
        assert_eq!(
            duplicate_key(br#"{"l": [{}, {"x": 1, "x": 1}]}"#).as_deref(),
            Some("l[1].x")
        );
        assert_eq!(duplicate_key(br#"{"a": "#), None);
    }
}
