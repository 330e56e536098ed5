//! What an audit entry stores of a change: a structural diff of the state before and after.
//!
//! An entry of a change to something that existed before and after (a config edit, a delivery
//! change) stores only the values that differ, each as an [`AuditChange`] with its path, so the
//! entry's size follows the change and not the size of the config. Paths use the customer
//! file's syntax: `name`, `trusted_origins[2]`, `destinations[id=meta-prod].settings.pixelId`
//! (arrays of objects that all carry a unique string `id`, such as destinations, are matched by
//! id, not by position; a change of their order is one `destinations(order)` change with the ids
//! before and after). Secrets are references in a config (`{"stored": "hmac-sha256:..."}`), so
//! a diff holds fingerprints, never values.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One value that changed: absent `before` is an addition, absent `after` a removal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditChange {
    /// Where, e.g. `destinations[id=meta-prod].enabled`; empty for the whole value.
    pub path: String,
    /// The value before (absent when added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The value after (absent when removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// The changes that turn `before` into `after` (empty when they are equal).
pub fn changes(before: &Value, after: &Value) -> Vec<AuditChange> {
    let mut out = Vec::new();
    diff(&mut out, String::new(), before, after);
    out
}

fn change(out: &mut Vec<AuditChange>, path: String, before: Option<&Value>, after: Option<&Value>) {
    out.push(AuditChange {
        path,
        before: before.cloned(),
        after: after.cloned(),
    });
}

fn diff(out: &mut Vec<AuditChange>, path: String, before: &Value, after: &Value) {
    if before == after {
        return;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (key, bv) in b {
                let p = field(&path, key);
                match a.get(key) {
                    Some(av) => diff(out, p, bv, av),
                    None => change(out, p, Some(bv), None),
                }
            }
            for (key, av) in a {
                if !b.contains_key(key) {
                    change(out, field(&path, key), None, Some(av));
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => match (keyed(b), keyed(a)) {
            (Some(bk), Some(ak)) => {
                for (id, bv) in &bk {
                    let p = format!("{path}[id={id}]");
                    match ak.iter().find(|(k, _)| k == id) {
                        Some((_, av)) => diff(out, p, bv, av),
                        None => change(out, p, Some(bv), None),
                    }
                }
                for (id, av) in &ak {
                    if !bk.iter().any(|(k, _)| k == id) {
                        change(out, format!("{path}[id={id}]"), None, Some(av));
                    }
                }
                let common_b: Vec<&str> = bk
                    .iter()
                    .map(|(k, _)| *k)
                    .filter(|k| ak.iter().any(|(a, _)| a == k))
                    .collect();
                let common_a: Vec<&str> = ak
                    .iter()
                    .map(|(k, _)| *k)
                    .filter(|k| bk.iter().any(|(b, _)| b == k))
                    .collect();
                if common_b != common_a {
                    let ids = |v: &[&str]| Value::from(v.to_vec());
                    out.push(AuditChange {
                        path: format!("{path}(order)"),
                        before: Some(ids(&common_b)),
                        after: Some(ids(&common_a)),
                    });
                }
            }
            _ => {
                for i in 0..b.len().max(a.len()) {
                    let p = format!("{path}[{i}]");
                    match (b.get(i), a.get(i)) {
                        (Some(bv), Some(av)) => diff(out, p, bv, av),
                        (bv, av) => change(out, p, bv, av),
                    }
                }
            }
        },
        _ => change(out, path, Some(before), Some(after)),
    }
}

/// `items` by their `id`, when every item is an object with a unique string `id`.
fn keyed(items: &[Value]) -> Option<Vec<(&str, &Value)>> {
    let mut out: Vec<(&str, &Value)> = Vec::with_capacity(items.len());
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    for item in items {
        let id = item
            .as_object()
            .and_then(|o: &Map<String, Value>| o.get("id"))?
            .as_str()?;
        if !seen.insert(id) {
            return None;
        }
        out.push((id, item));
    }
    Some(out)
}

fn field(path: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match (path.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", Value::from(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diffs_follow_the_change() {
        let before = json!({
            "name": "A",
            "trusted_origins": ["https://a.com"],
            "destinations": [
                {"id": "m", "enabled": true, "settings": {"pixelId": "1", "accessToken": {"stored": "hmac-sha256:00"}}},
                {"id": "g", "enabled": true, "settings": {}},
            ],
        });
        let after = json!({
            "name": "A",
            "trusted_origins": ["https://a.com", "https://b.com"],
            "destinations": [
                {"id": "m", "enabled": false, "settings": {"pixelId": "1", "accessToken": {"stored": "hmac-sha256:11"}, "a.b": 1}},
                {"id": "t", "enabled": true, "settings": {}},
            ],
        });
        let got = serde_json::to_value(changes(&before, &after)).unwrap();
        assert_eq!(
            got,
            json!([
                {"path": "trusted_origins[1]", "after": "https://b.com"},
                {"path": "destinations[id=m].enabled", "before": true, "after": false},
                {"path": "destinations[id=m].settings.accessToken.stored", "before": "hmac-sha256:00", "after": "hmac-sha256:11"},
                {"path": "destinations[id=m].settings[\"a.b\"]", "after": 1},
                {"path": "destinations[id=g]", "before": {"id": "g", "enabled": true, "settings": {}}},
                {"path": "destinations[id=t]", "after": {"id": "t", "enabled": true, "settings": {}}},
            ])
        );
        assert!(changes(&before, &before).is_empty());
        let swapped = json!({"destinations": [{"id": "b"}, {"id": "a"}]});
        let order = json!({"destinations": [{"id": "a"}, {"id": "b"}]});
        assert_eq!(
            serde_json::to_value(changes(&order, &swapped)).unwrap(),
            json!([{"path": "destinations(order)", "before": ["a", "b"], "after": ["b", "a"]}])
        );
    }
}
