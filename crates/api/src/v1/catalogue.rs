//! The destination catalogue: every kind with its settings.

// utoipa's `path` macro spells out paths to the parameter types it names.
#![allow(unused_qualifications)]

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use c15t_model::{Catalogue, ConsentCategory, FieldSpec, FieldType, KindSpec};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::Object;

use crate::{ApiState, ErrorBody, Principal};

super::resource!(catalogue);

/// A destination kind with its settings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KindOut {
    /// Stable identifier used in config files and the database, e.g. `meta-pixel`.
    pub slug: String,
    /// Name shown to people.
    pub display_name: String,
    /// The destination factory's name in the generated code, e.g. `metaPixel`.
    pub factory: String,
    /// Consent purpose a destination of this kind needs unless configured otherwise.
    #[schema(schema_with = category_schema)]
    pub default_category: String,
    /// Vendor documentation for the settings.
    pub docs_url: String,
    /// The settings, in the order forms and generated code show them.
    pub fields: Vec<FieldOut>,
}

impl From<&KindSpec> for KindOut {
    fn from(k: &KindSpec) -> Self {
        Self {
            slug: k.slug.to_owned(),
            display_name: k.display_name.to_owned(),
            factory: k.factory_name(),
            default_category: k.default_category.as_str().to_owned(),
            docs_url: k.docs_url.to_owned(),
            fields: k.fields.iter().map(FieldOut::from).collect(),
        }
    }
}

/// One setting of a destination kind.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldOut {
    /// Setting key as the destination takes it (camelCase), e.g. `pixelId`.
    pub key: String,
    /// Label for forms.
    pub label: String,
    /// The value's type.
    #[serde(rename = "type")]
    pub kind: FieldKind,
    /// The allowed values of an `enum` setting; `null` for the other types.
    #[schema(required = true)]
    pub values: Option<Vec<String>>,
    /// Whether the setting must be present.
    pub required: bool,
    /// Whether the value is a credential: write-only, stored encrypted, bound to the worker as
    /// a secret (set it in `secrets`).
    pub secret: bool,
    /// A regular expression a string value must match (as a whole), if any.
    #[schema(required = true)]
    pub pattern: Option<String>,
    /// What `pattern` requires, in words, completing "must ...".
    #[schema(required = true)]
    pub pattern_description: Option<String>,
    /// Where to find the value.
    pub description: String,
}

impl From<&FieldSpec> for FieldOut {
    fn from(f: &FieldSpec) -> Self {
        Self {
            key: f.key.to_owned(),
            label: f.label.to_owned(),
            kind: FieldKind::from(&f.ty),
            values: match f.ty {
                FieldType::Enum(values) => Some(values.iter().map(|v| (*v).to_owned()).collect()),
                _ => None,
            },
            required: f.required,
            secret: f.secret,
            pattern: f.pattern.map(|p| p.regex.to_owned()),
            pattern_description: f.pattern.map(|p| p.expected.to_owned()),
            description: f.description.to_owned(),
        }
    }
}

/// A setting's type: free text, an absolute `http`/`https` URL, one of `values`, `true` or
/// `false`, or a finite number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// Free text, constrained by `pattern` when it has one.
    String,
    /// An absolute `http` or `https` URL.
    Url,
    /// One of `values`.
    Enum,
    /// `true` or `false`.
    Bool,
    /// A finite number.
    Number,
}

impl From<&FieldType> for FieldKind {
    fn from(ty: &FieldType) -> Self {
        match ty {
            FieldType::String => Self::String,
            FieldType::Url => Self::Url,
            FieldType::Enum(_) => Self::Enum,
            FieldType::Bool => Self::Bool,
            FieldType::Number { .. } => Self::Number,
        }
    }
}

/// A consent category (c15t's purposes).
fn category_schema() -> Object {
    super::enum_schema(
        "Consent purpose a destination of this kind needs unless configured otherwise.",
        ConsentCategory::ALL.iter().map(|c| c.as_str()),
    )
}

/// Every kind of `catalogue`, as the API lists them.
pub fn kinds(catalogue: &Catalogue) -> Vec<KindOut> {
    catalogue.kinds().iter().map(KindOut::from).collect()
}

/// The destination kinds and their settings.
#[utoipa::path(get, path = "/api/v1/catalogue", tag = "catalogue",
    responses(
        (status = 200, description = "Every destination kind with its settings", body = Vec<KindOut>),
        (status = 401, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn catalogue(_principal: Principal, State(state): State<ApiState>) -> Response {
    Json(kinds(state.control().catalogue())).into_response()
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_same_json;

    #[test]
    fn the_catalogue_answer_is_the_control_planes_catalogue_json() {
        let catalogue = c15t_model::Catalogue::builtin();
        assert_same_json(
            &c15t_control::catalogue_json(&catalogue),
            &super::kinds(&catalogue),
        );
    }
}
