//! Printing: human tables or `--json` for every listing.

use c15t_control::{AuditRecord, CustomerSummary, CustomerView};
use c15t_model::{Catalogue, DestinationSpec, FieldType, RawValue, SecretRef};
use serde::Serialize;

/// Prints one line to standard output; a closed pipe (`c15tctl ... | head`) ends the process
/// quietly instead of panicking.
pub fn print(s: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{s}").is_err() {
        std::process::exit(0);
    }
}

fn json(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// Output style of one command.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    json: bool,
}

impl Out {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    pub fn customers(self, list: &[CustomerSummary]) {
        if self.json {
            let rows: Vec<_> = list
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "id": c.id.as_str(),
                        "name": c.display_name,
                        "revision": c.revision,
                        "destinations": c.destination_count,
                        "updated_at": c.updated_at,
                    })
                })
                .collect();
            return print(&json(&rows));
        }
        print(&format!(
            "{:<24} {:>8} {:>12}  {}",
            "ID", "REVISION", "DESTINATIONS", "NAME"
        ));
        for c in list {
            print(&format!(
                "{:<24} {:>8} {:>12}  {}",
                c.id.as_str(),
                c.revision,
                c.destination_count,
                one_line(&c.display_name)
            ));
        }
    }

    pub fn customer(self, view: &CustomerView) {
        if self.json {
            return print(&json(view));
        }
        let s = &view.spec;
        print(&format!(
            "customer      {}  (revision {})",
            s.id, view.revision
        ));
        print(&format!("name          {}", one_line(&s.name)));
        if let Some(envs) = &s.environments {
            print(&format!("environments  {}", envs.join(", ")));
        }
        print(&format!("origins       {}", s.trusted_origins.join(", ")));
        print(&format!(
            "log level     {}",
            s.log_level.as_deref().unwrap_or("info")
        ));
        print(&format!(
            "database      {} {}  token {}",
            s.database.provider,
            s.database.url,
            value(&s.database.auth_token)
        ));
        print("destinations");
        self.destinations(&s.destinations);
    }

    pub fn destinations(self, list: &[DestinationSpec]) {
        if self.json {
            return print(&json(&list));
        }
        print(&format!(
            "  {:<20} {:<22} {:<8} {:<12} {}",
            "ID", "TYPE", "ENABLED", "ENVIRONMENT", "NAME"
        ));
        for d in list {
            print(&format!(
                "  {:<20} {:<22} {:<8} {:<12} {}",
                d.id,
                d.kind,
                d.enabled,
                d.environment.as_deref().unwrap_or("all"),
                one_line(&d.name)
            ));
        }
    }

    pub fn destination(self, d: &DestinationSpec) {
        if self.json {
            return print(&json(d));
        }
        print(&format!("destination  {} ({})", d.id, d.kind));
        print(&format!("name         {}", one_line(&d.name)));
        print(&format!("enabled      {}", d.enabled));
        print(&format!(
            "environment  {}",
            d.environment.as_deref().unwrap_or("all")
        ));
        print(&format!(
            "category     {}",
            d.category.as_deref().unwrap_or("(kind default)")
        ));
        for (key, raw) in &d.settings {
            print(&format!("  {key:<20} {}", value(raw)));
        }
    }

    pub fn audit(self, entries: &[AuditRecord]) {
        if self.json {
            let rows: Vec<_> = entries
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "id": e.id, "at": e.at, "actor": e.actor, "action": e.action,
                        "resource": e.resource, "customer": e.customer,
                        "before": e.before, "after": e.after, "changes": e.changes,
                    })
                })
                .collect();
            return print(&json(&rows));
        }
        for e in entries {
            print(&format!(
                "{:>6}  {}  {:<20} {:<22} {}",
                e.id,
                e.at.format("%Y-%m-%d %H:%M:%S"),
                one_line(&e.actor),
                e.action,
                e.resource
            ));
            for c in &e.changes {
                let shown = |v: &Option<serde_json::Value>| {
                    v.as_ref()
                        .map_or_else(|| "(none)".to_owned(), |v| one_line(&v.to_string()))
                };
                print(&format!(
                    "        {}: {} -> {}",
                    one_line(&c.path),
                    shown(&c.before),
                    shown(&c.after)
                ));
            }
        }
    }
}

/// A setting as shown: secrets by fingerprint only.
fn value(raw: &RawValue) -> String {
    match raw {
        RawValue::Secret(SecretRef::Stored(fp)) => format!("(secret, {fp})"),
        RawValue::Secret(SecretRef::Env(var)) => format!("(secret from ${var})"),
        RawValue::Text(t) => one_line(t),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// User text on one terminal line: control characters escaped.
fn one_line(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

fn field_type(ty: FieldType) -> String {
    match ty {
        FieldType::Enum(values) => format!("enum({})", values.join("|")),
        other => other.name().to_owned(),
    }
}

pub fn catalogue_table() -> String {
    let mut out = String::new();
    for kind in Catalogue::builtin().kinds() {
        out.push_str(&format!(
            "{}  {} ({}, factory {}, {})\n",
            kind.slug,
            kind.display_name,
            kind.default_category,
            kind.factory_name(),
            kind.docs_url
        ));
        for f in kind.fields {
            let mut flags = Vec::new();
            if f.required {
                flags.push("required");
            }
            if f.secret {
                flags.push("secret");
            }
            out.push_str(&format!(
                "    {:<20} {:<12} {:<18} {}\n",
                f.key,
                field_type(f.ty),
                flags.join(","),
                f.description
            ));
        }
    }
    out.trim_end().to_owned()
}

pub fn catalogue_json() -> String {
    json(&c15t_control::catalogue_json(&Catalogue::builtin()))
}
