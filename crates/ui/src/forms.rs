//! The destination add/edit form, generated from the catalogue's field schema, and the mapping
//! of validation problems back onto its fields.
//!
//! Secret fields are write-only: the form shows whether a value is stored (by fingerprint) and
//! an empty password input; leaving it empty keeps the stored value.

use std::collections::BTreeMap;

use c15t_control::{DestinationPatch, Secret, parse_setting};
use c15t_model::{
    Catalogue, ConsentCategory, DestinationSpec, FieldSpec, FieldType, KindSpec, RawValue,
    SecretRef, ValidationErrors,
};
use maud::{Markup, html};

/// What the user typed, by form field name.
pub(super) type Values = BTreeMap<String, String>;

/// Problems by form field name (`id`, `name`, `settings.pixelId`, ...); problems that belong to
/// no field are under `""`.
pub(super) type FieldErrors = BTreeMap<String, Vec<String>>;

/// Form field name of a setting.
fn setting_field(key: &str) -> String {
    format!("settings.{key}")
}

/// Form field name of the "remove the stored value" checkbox of an optional secret.
fn remove_field(key: &str) -> String {
    format!("remove.{key}")
}

/// The form's values collected from a submitted body (the last value of a repeated name wins).
pub(super) fn values(pairs: Vec<(String, String)>) -> Values {
    pairs.into_iter().collect()
}

/// Distributes validation problems of destination number `index` onto the form's fields.
pub(super) fn field_errors(errors: &ValidationErrors, index: usize) -> FieldErrors {
    let prefix = format!("destinations[{index}].");
    let mut out = FieldErrors::new();
    for problem in errors.problems() {
        let field = problem
            .path
            .strip_prefix(&prefix)
            .map_or_else(String::new, str::to_owned);
        let field = if field == "type" {
            String::new()
        } else {
            field
        };
        out.entry(field).or_default().push(problem.message.clone());
    }
    out
}

fn text(values: &Values, name: &str) -> String {
    values
        .get(name)
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

/// A new destination from the form: the spec and its secret settings.
pub(super) fn new_destination(
    catalogue: &Catalogue,
    kind: &KindSpec,
    values: &Values,
) -> (DestinationSpec, BTreeMap<String, Secret>) {
    let mut settings = BTreeMap::new();
    let mut secrets = BTreeMap::new();
    for field in kind.fields {
        let name = setting_field(field.key);
        if field.secret {
            let value = values.get(&name).cloned().unwrap_or_default();
            if !value.is_empty() {
                secrets.insert(field.key.to_owned(), Secret::new(value));
            }
        } else {
            let value = text(values, &name);
            if !value.is_empty() {
                settings.insert(
                    field.key.to_owned(),
                    parse_setting(catalogue, kind.slug, field.key, &value),
                );
            }
        }
    }
    let environment = Some(text(values, "environment")).filter(|e| !e.is_empty());
    let category = Some(text(values, "category")).filter(|c| !c.is_empty());
    let spec = DestinationSpec {
        id: text(values, "id"),
        name: text(values, "name"),
        kind: kind.slug.to_owned(),
        enabled: values.contains_key("enabled"),
        environment,
        category,
        settings,
    };
    (spec, secrets)
}

/// The changes the edit form asks for against the stored destination.
pub(super) fn patch(
    catalogue: &Catalogue,
    kind: &KindSpec,
    stored: &DestinationSpec,
    values: &Values,
) -> DestinationPatch {
    let mut patch = DestinationPatch {
        name: Some(text(values, "name")),
        enabled: Some(values.contains_key("enabled")),
        environment: Some(Some(text(values, "environment")).filter(|e| !e.is_empty())),
        category: Some(text(values, "category")).filter(|c| !c.is_empty()),
        ..DestinationPatch::default()
    };
    for field in kind.fields {
        let name = setting_field(field.key);
        if field.secret {
            let value = values.get(&name).cloned().unwrap_or_default();
            if !value.is_empty() {
                patch
                    .secrets
                    .insert(field.key.to_owned(), Secret::new(value));
            } else if values.contains_key(&remove_field(field.key))
                && stored.settings.contains_key(field.key)
            {
                patch.unset.push(field.key.to_owned());
            }
        } else {
            let value = text(values, &name);
            if value.is_empty() {
                if stored.settings.contains_key(field.key) {
                    patch.unset.push(field.key.to_owned());
                }
            } else {
                patch.set.insert(
                    field.key.to_owned(),
                    parse_setting(catalogue, kind.slug, field.key, &value),
                );
            }
        }
    }
    patch
}

/// The form's values for a stored destination (secrets stay empty).
pub(super) fn stored_values(d: &DestinationSpec) -> Values {
    let mut v = Values::new();
    v.insert("id".into(), d.id.clone());
    v.insert("name".into(), d.name.clone());
    if d.enabled {
        v.insert("enabled".into(), "on".into());
    }
    v.insert(
        "environment".into(),
        d.environment.clone().unwrap_or_default(),
    );
    v.insert("category".into(), d.category.clone().unwrap_or_default());
    for (key, value) in &d.settings {
        let text = match value {
            RawValue::Bool(b) => b.to_string(),
            RawValue::Integer(i) => i.to_string(),
            RawValue::Float(f) => f.to_string(),
            RawValue::Text(t) => t.clone(),
            _ => continue,
        };
        v.insert(setting_field(key), text);
    }
    v
}

/// The stored fingerprint of a secret setting, if one is stored.
fn stored_fingerprint<'a>(stored: Option<&'a DestinationSpec>, key: &str) -> Option<&'a str> {
    match stored?.settings.get(key)? {
        RawValue::Secret(SecretRef::Stored(fp)) => Some(fp),
        _ => None,
    }
}

/// Everything the form needs to render.
pub(super) struct FormView<'a> {
    /// Where the form posts.
    pub(super) action: String,
    /// The kind being configured.
    pub(super) kind: &'static KindSpec,
    /// The customer's environments.
    pub(super) environments: &'a [String],
    /// The values to show.
    pub(super) values: &'a Values,
    /// Problems by field.
    pub(super) errors: &'a FieldErrors,
    /// The stored destination when editing.
    pub(super) stored: Option<&'a DestinationSpec>,
}

fn errors_of(errors: &FieldErrors, name: &str) -> Markup {
    html! {
        @if let Some(list) = errors.get(name) {
            @for message in list {
                p.field-error id={ "error-" (name) } role="alert" { (message) }
            }
        }
    }
}

fn invalid(errors: &FieldErrors, name: &str) -> bool {
    errors.contains_key(name)
}

/// The add or edit form.
pub(super) fn destination_form(view: &FormView<'_>, csrf: Markup) -> Markup {
    let FormView {
        action,
        kind,
        environments,
        values,
        errors,
        stored,
    } = view;
    let value = |name: &str| values.get(name).cloned().unwrap_or_default();
    let editing = stored.is_some();
    let category = value("category");
    let environment = value("environment");
    html! {
        form.destination method="post" action=(action) novalidate {
            (csrf)
            @if let Some(general) = errors.get("") {
                div.error role="alert" #form-errors {
                    p { "The destination was not saved:" }
                    ul { @for m in general { li { (m) } } }
                }
            } @else if !errors.is_empty() {
                div.error role="alert" #form-errors { p { "The destination was not saved: correct the fields marked below." } }
            }
            input type="hidden" name="kind" value=(kind.slug);
            fieldset {
                legend { (kind.display_name) " " a.muted href=(kind.docs_url) target="_blank" rel="noopener noreferrer" { "vendor docs" } }
                label for="f-id" { "ID" }
                @if editing {
                    input #f-id type="text" name="id" value=(value("id")) disabled;
                } @else {
                    input #f-id type="text" name="id" value=(value("id")) placeholder="meta-prod" aria-invalid=[invalid(errors, "id").then_some("true")];
                    p.hint { "Lower-case letters, digits, - and _; unique within the customer." }
                }
                (errors_of(errors, "id"))
                label for="f-name" { "Name" }
                input #f-name type="text" name="name" value=(value("name")) aria-invalid=[invalid(errors, "name").then_some("true")];
                (errors_of(errors, "name"))
                label for="f-environment" { "Environment" }
                select #f-environment name="environment" {
                    option value="" selected[environment.is_empty()] { "Every environment" }
                    @for env in *environments {
                        option value=(env) selected[&environment == env] { (env) }
                    }
                }
                (errors_of(errors, "environment"))
                label for="f-category" { "Consent category" }
                select #f-category name="category" {
                    option value="" selected[category.is_empty()] { "Default (" (kind.default_category) ")" }
                    @for c in ConsentCategory::ALL {
                        option value=(c.as_str()) selected[category == c.as_str()] { (c.as_str()) }
                    }
                }
                (errors_of(errors, "category"))
                label.inline {
                    input type="checkbox" name="enabled" checked[values.contains_key("enabled")];
                    " Enabled"
                }
            }
            fieldset {
                legend { "Settings" }
                @for field in kind.fields {
                    (setting_input(field, &value(&setting_field(field.key)), errors, stored_fingerprint(*stored, field.key)))
                }
            }
            button.primary type="submit" #save { @if editing { "Save changes" } @else { "Add destination" } }
        }
    }
}

fn setting_input(
    field: &FieldSpec,
    value: &str,
    errors: &FieldErrors,
    fingerprint: Option<&str>,
) -> Markup {
    let name = setting_field(field.key);
    let id = format!("f-{}", field.key);
    let bad = invalid(errors, &name).then_some("true");
    html! {
        label for=(id) {
            (field.label)
            @if field.required { span.required title="required" { " *" } }
            @if field.secret { span.muted { " (secret)" } }
        }
        @match field.ty {
            _ if field.secret => {
                @if let Some(fp) = fingerprint {
                    p.secret-state { "Set, fingerprint " code { (super::views::short_fingerprint(fp)) } "; type a new value to replace it." }
                } @else {
                    p.secret-state { "Not set." }
                }
                input id=(id) type="password" name=(name) value="" autocomplete="new-password" aria-invalid=[bad];
                @if fingerprint.is_some() && !field.required {
                    label.inline { input type="checkbox" name=(remove_field(field.key)); " Remove the stored value" }
                }
            }
            FieldType::Enum(options) => {
                select id=(id) name=(name) aria-invalid=[bad] {
                    option value="" selected[value.is_empty()] { "—" }
                    @for o in options {
                        option value=(o) selected[value == *o] { (o) }
                    }
                }
            }
            FieldType::Bool => {
                select id=(id) name=(name) aria-invalid=[bad] {
                    option value="" selected[value.is_empty()] { "—" }
                    option value="true" selected[value == "true"] { "yes" }
                    option value="false" selected[value == "false"] { "no" }
                }
            }
            FieldType::Number { .. } => {
                input id=(id) type="text" inputmode="decimal" name=(name) value=(value) aria-invalid=[bad];
            }
            FieldType::Url => {
                input id=(id) type="text" inputmode="url" name=(name) value=(value) placeholder="https://" aria-invalid=[bad];
            }
            FieldType::String => {
                input id=(id) type="text" name=(name) value=(value) aria-invalid=[bad];
            }
        }
        p.hint { (field.description) }
        (errors_of(errors, &name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_land_on_their_fields() {
        let spec = c15t_model::CustomerSpec {
            events_debug_secret: None,
            id: "cust_a".into(),
            name: "A".into(),
            environments: None,
            trusted_origins: vec![],
            log_level: None,
            database: c15t_model::DatabaseSpec {
                provider: "turso".into(),
                url: "libsql://a.turso.io".into(),
                auth_token: RawValue::Secret(SecretRef::Stored("hmac-sha256:00".into())),
            },
            destinations: vec![DestinationSpec {
                id: "meta".into(),
                name: "Meta".into(),
                kind: "meta-pixel".into(),
                enabled: true,
                environment: None,
                category: None,
                settings: [("pixelId".to_owned(), RawValue::Text("abc".into()))].into(),
            }],
        };
        let errors = spec.validate(&Catalogue::builtin()).unwrap_err();
        let fields = field_errors(&errors, 0);
        assert!(fields.contains_key("settings.pixelId"), "{fields:?}");
        assert!(field_errors(&errors, 1).contains_key(""));
    }
}
