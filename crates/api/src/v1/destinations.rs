//! A customer's destinations: list, add, show, change, enable, disable, remove. Secret
//! settings are write-only (`secrets` in requests, fingerprints in answers).

// utoipa's `path` macro spells out paths to the parameter types it names.
#![allow(unused_qualifications)]

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use c15t_control::DestinationPatch;
use c15t_model::{CustomerId, DestinationId, DestinationSpec, Environment, RawValue};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::Object;

use super::{
    CustomerPath, DestinationPath, IfMatch, SecretState, expected_revision, nullable, one_of,
    secrets, string_schema, tagged,
};
use crate::auth::Scoped;
use crate::{ApiError, ApiState, Body, ErrorBody, Principal};

super::resource!(
    destination_list,
    destination_create,
    destination_get,
    destination_update,
    destination_delete,
    destination_enable,
    destination_disable,
);

/// A destination.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DestinationOut {
    /// Id, unique within the customer.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Catalogue slug, e.g. `meta-pixel`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether it runs.
    pub enabled: bool,
    /// The one environment it runs in (every environment when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Consent category, if not the kind's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Settings by key; secret settings as `{"set": true, "fingerprint": "..."}`.
    #[schema(value_type = Object)]
    pub settings: BTreeMap<String, serde_json::Value>,
    /// The customer's config revision.
    pub revision: u64,
}

impl DestinationOut {
    /// The destination as shown, with the customer's `revision`.
    pub fn new(d: DestinationSpec, revision: u64) -> Self {
        let settings = d
            .settings
            .iter()
            .map(|(k, v)| {
                let shown = match SecretState::of(v) {
                    Some(secret) => serde_json::to_value(secret),
                    None => serde_json::to_value(v),
                };
                (k.clone(), shown.unwrap_or(serde_json::Value::Null))
            })
            .collect();
        Self {
            id: d.id,
            name: d.name,
            kind: d.kind,
            enabled: d.enabled,
            environment: d.environment,
            category: d.category,
            settings,
            revision,
        }
    }
}

/// A new destination.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationCreate {
    /// Id, unique within the customer.
    #[schema(schema_with = destination_id_schema)]
    pub id: String,
    /// Display name.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// Catalogue slug, e.g. `meta-pixel`.
    #[serde(rename = "type")]
    #[schema(schema_with = kind_schema)]
    pub kind: String,
    /// Whether it runs (default `true`).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The one environment it runs in; every environment when absent.
    #[serde(default)]
    #[schema(schema_with = environment_schema)]
    pub environment: Option<String>,
    /// Consent category; the kind's default when absent.
    #[serde(default)]
    #[schema(schema_with = category_schema)]
    pub category: Option<String>,
    /// Non-secret settings (strings, numbers, booleans).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: BTreeMap<String, serde_json::Value>,
    /// Secret settings (write-only).
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// The revision this change is based on (or send `If-Match`).
    #[serde(default)]
    pub revision: Option<u64>,
}

/// Changes to a destination; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationUpdate {
    /// New display name.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// The one environment it runs in; `null` for every environment.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = environment_or_null_schema)]
    pub environment: Option<Option<String>>,
    /// New consent category.
    #[schema(schema_with = category_schema)]
    pub category: Option<String>,
    /// Non-secret settings to set.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: BTreeMap<String, serde_json::Value>,
    /// Settings to remove.
    #[serde(default)]
    pub unset: Vec<String>,
    /// Secret settings to set (write-only).
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// The revision this change is based on (or send `If-Match`).
    pub revision: Option<u64>,
}

/// Converts API settings into the model's values. Secret references are refused: secret
/// values go in `secrets`, and only the control plane makes references.
pub fn settings(
    prefix: &str,
    input: BTreeMap<String, serde_json::Value>,
) -> Result<BTreeMap<String, RawValue>, ApiError> {
    let mut out = BTreeMap::new();
    for (key, value) in input {
        let raw: RawValue = serde_json::from_value(value).map_err(|_| {
            ApiError::invalid_field(
                format!("{prefix}.{key}"),
                "must be a string, a number or a boolean",
            )
        })?;
        if matches!(raw, RawValue::Secret(_)) {
            return Err(ApiError::invalid_field(
                format!("{prefix}.{key}"),
                "secret values go in `secrets`, as plain strings",
            ));
        }
        out.insert(key, raw);
    }
    Ok(out)
}

/// A new destination's id, with the model's pattern.
fn destination_id_schema() -> Object {
    string_schema(
        DestinationId::PATTERN,
        false,
        "Id, unique within the customer.",
    )
}

/// The one environment a new destination runs in, with the model's pattern.
fn environment_schema() -> Object {
    string_schema(
        Environment::PATTERN,
        true,
        "The one environment it runs in; every environment when absent.",
    )
}

/// The one environment a changed destination runs in, or `null`.
fn environment_or_null_schema() -> Object {
    string_schema(
        Environment::PATTERN,
        true,
        "The one environment it runs in; `null` for every environment.",
    )
}

/// `type` of a destination: a slug of the built-in catalogue.
fn kind_schema() -> Object {
    super::enum_schema(
        "Catalogue slug, e.g. `meta-pixel` (`GET /api/v1/catalogue` lists each with its \
         settings).",
        c15t_model::Catalogue::builtin()
            .kinds()
            .iter()
            .map(|k| k.slug),
    )
}

/// A consent category (c15t's purposes).
fn category_schema() -> Object {
    one_of(
        "Consent category; the kind's default when absent.",
        c15t_model::ConsentCategory::ALL
            .iter()
            .map(|c| c.as_str())
            .collect(),
    )
}

/// `DestinationCreate` with the catalogue in it: the struct's own schema, and one branch per
/// destination kind naming its settings (typed, with the catalogue's patterns, required where
/// the kind requires them) and its secret settings, so that a client reading the document knows
/// what each kind takes. `type` selects the branch.
pub fn destination_create_by_kind(
    base: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
) -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{
        AdditionalProperties, AllOfBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
    };
    let closed = || Some(AdditionalProperties::FreeForm(false));
    let mut kinds = OneOfBuilder::new();
    for kind in c15t_model::Catalogue::builtin().kinds() {
        let mut settings = ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::Object))
            .additional_properties(closed());
        let mut secrets = ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::Object))
            .additional_properties(closed());
        let (mut needs_settings, mut needs_secrets) = (false, false);
        for field in kind.fields {
            let description = format!("{}: {}", field.label, field.description);
            if field.secret {
                secrets = secrets.property(
                    field.key,
                    ObjectBuilder::new()
                        .schema_type(SchemaType::new(Type::String))
                        .min_length(Some(1))
                        .description(Some(description)),
                );
                if field.required {
                    secrets = secrets.required(field.key);
                    needs_secrets = true;
                }
                continue;
            }
            settings = settings.property(field.key, setting_schema(field, description));
            if field.required {
                settings = settings.required(field.key);
                needs_settings = true;
            }
        }
        let mut branch = ObjectBuilder::new()
            .title(Some(kind.slug))
            .property(
                "type",
                ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::String))
                    .enum_values(Some([kind.slug])),
            )
            .required("type")
            .property("settings", settings)
            .property("secrets", secrets)
            .description(Some(kind.display_name));
        if needs_settings {
            branch = branch.required("settings");
        }
        if needs_secrets {
            branch = branch.required("secrets");
        }
        kinds = kinds.item(branch);
    }
    Schema::AllOf(
        AllOfBuilder::new()
            .item(base)
            .item(kinds)
            .description(Some(
                "A new destination: `type` names a catalogue kind, `settings` its plain \
                 settings and `secrets` its secret ones (write-only, stored encrypted).",
            ))
            .build(),
    )
}

/// One plain setting of a kind, typed as the catalogue checks it.
fn setting_schema(
    field: &c15t_model::FieldSpec,
    description: String,
) -> utoipa::openapi::schema::Object {
    use c15t_model::FieldType;
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let text = |pattern: Option<&str>| {
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .max_length(Some(c15t_model::SETTING_MAX))
            .pattern(pattern.map(str::to_owned))
    };
    let builder = match field.ty {
        FieldType::String => text(field.pattern.map(|p| p.regex)),
        // A URL's own pattern (if any) is the stricter rule; else the shape every URL has.
        FieldType::Url => text(Some(field.pattern.map_or(SETTING_URL_PATTERN, |p| p.regex))),
        FieldType::Enum(values) => ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .enum_values(Some(values.iter().copied())),
        FieldType::Bool => ObjectBuilder::new().schema_type(SchemaType::new(Type::Boolean)),
        FieldType::Number { integer, min, max } => ObjectBuilder::new()
            .schema_type(SchemaType::new(if integer {
                Type::Integer
            } else {
                Type::Number
            }))
            .minimum(min)
            .maximum(max),
    };
    builder.description(Some(description)).build()
}

/// A setting URL as the model checks it: `http` or `https`, a host without credentials, then
/// printable ASCII without `"`, `<`, `>`, `\`, `^`, a backtick, `{`, `|` or `}` (a real URL parser checks the rest).
const SETTING_URL_PATTERN: &str = r"^https?://(?:[a-zA-Z0-9_-][a-zA-Z0-9._-]*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?(?:[/?#][!#-;=?-\[\]_a-z~]*)?$";

/// Answers with one destination as it is now (after a change).
async fn destination_now(
    state: &ApiState,
    customer: &CustomerId,
    id: &str,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let view = state.control().customer_show(customer).await?;
    let destination = view
        .spec
        .destinations
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "destination `{id}` of customer `{customer}` does not exist"
            ))
        })?;
    Ok(tagged(
        status,
        view.revision,
        DestinationOut::new(destination, view.revision),
    ))
}

/// A customer's destinations.
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/destinations", tag = "destinations",
    params(CustomerPath),
    responses(
        (status = 200, body = Vec<DestinationOut>, headers(("ETag" = String, description = "The revision"))),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn destination_list(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
) -> Result<Response, ApiError> {
    let view = state.control().customer_show(&id).await?;
    let revision = view.revision;
    let list: Vec<DestinationOut> = view
        .spec
        .destinations
        .into_iter()
        .map(|d| DestinationOut::new(d, revision))
        .collect();
    Ok(tagged(StatusCode::OK, revision, list))
}

/// Adds a destination; secret settings go in `secrets` and are stored encrypted.
#[utoipa::path(post, path = "/api/v1/customers/{customerId}/destinations", tag = "destinations",
    params(CustomerPath, IfMatch),
    request_body = DestinationCreate,
    responses(
        (status = 201, body = DestinationOut, headers(("ETag" = String, description = "The revision"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn destination_create(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    headers: HeaderMap,
    Body(body): Body<DestinationCreate>,
) -> Result<Response, ApiError> {
    let expected = expected_revision(&headers, body.revision)?;
    let destination = DestinationSpec {
        id: body.id.clone(),
        name: body.name,
        kind: body.kind,
        enabled: body.enabled.unwrap_or(true),
        environment: body.environment,
        category: body.category,
        settings: settings("settings", body.settings)?,
    };
    let result = state
        .control()
        .destination_add(
            &principal.actor(),
            &id,
            destination,
            secrets(body.secrets),
            expected,
        )
        .await;
    // Forgotten whatever the outcome: a failed write may still have committed (a
    // connection lost during COMMIT), and a cached revision must never outlive it.
    state.changed(&id);
    result?;
    destination_now(&state, &id, &body.id, StatusCode::CREATED).await
}

/// One destination.
#[utoipa::path(get, path = "/api/v1/customers/{customerId}/destinations/{destinationId}", tag = "destinations",
    params(CustomerPath, DestinationPath),
    responses(
        (status = 200, body = DestinationOut, headers(("ETag" = String, description = "The revision"))),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn destination_get(
    Scoped { customer: id, .. }: Scoped,
    State(state): State<ApiState>,
    DestinationPath(destination): DestinationPath,
) -> Result<Response, ApiError> {
    destination_now(&state, &id, &destination, StatusCode::OK).await
}

async fn edit_destination(
    principal: &Principal,
    state: &ApiState,
    id: &CustomerId,
    destination: &str,
    patch: DestinationPatch,
    expected: Option<u64>,
) -> Result<Response, ApiError> {
    let result = state
        .control()
        .destination_edit(&principal.actor(), id, destination, patch, expected)
        .await;
    // Forgotten whatever the outcome: a failed write may still have committed (a
    // connection lost during COMMIT), and a cached revision must never outlive it.
    state.changed(id);
    result?;
    destination_now(state, id, destination, StatusCode::OK).await
}

/// Changes a destination.
#[utoipa::path(patch, path = "/api/v1/customers/{customerId}/destinations/{destinationId}", tag = "destinations",
    params(CustomerPath, DestinationPath, IfMatch),
    request_body = DestinationUpdate,
    responses(
        (status = 200, body = DestinationOut, headers(("ETag" = String, description = "The revision"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn destination_update(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    DestinationPath(destination): DestinationPath,
    headers: HeaderMap,
    Body(body): Body<DestinationUpdate>,
) -> Result<Response, ApiError> {
    let expected = expected_revision(&headers, body.revision)?;
    let patch = DestinationPatch {
        name: body.name,
        enabled: body.enabled,
        environment: body.environment,
        category: body.category,
        set: settings("settings", body.settings)?,
        unset: body.unset,
        secrets: secrets(body.secrets),
    };
    edit_destination(&principal, &state, &id, &destination, patch, expected).await
}

/// Enables a destination.
#[utoipa::path(post, path = "/api/v1/customers/{customerId}/destinations/{destinationId}/enable", tag = "destinations",
    params(CustomerPath, DestinationPath, IfMatch),
    responses(
        (status = 200, body = DestinationOut, headers(("ETag" = String, description = "The revision"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn destination_enable(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    DestinationPath(destination): DestinationPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let expected = expected_revision(&headers, None)?;
    let patch = DestinationPatch {
        enabled: Some(true),
        ..DestinationPatch::default()
    };
    edit_destination(&principal, &state, &id, &destination, patch, expected).await
}

/// Disables a destination.
#[utoipa::path(post, path = "/api/v1/customers/{customerId}/destinations/{destinationId}/disable", tag = "destinations",
    params(CustomerPath, DestinationPath, IfMatch),
    responses(
        (status = 200, body = DestinationOut, headers(("ETag" = String, description = "The revision"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn destination_disable(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    DestinationPath(destination): DestinationPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let expected = expected_revision(&headers, None)?;
    let patch = DestinationPatch {
        enabled: Some(false),
        ..DestinationPatch::default()
    };
    edit_destination(&principal, &state, &id, &destination, patch, expected).await
}

/// Removes a destination and its secrets.
#[utoipa::path(delete, path = "/api/v1/customers/{customerId}/destinations/{destinationId}", tag = "destinations",
    params(CustomerPath, DestinationPath, IfMatch),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn destination_delete(
    Scoped {
        principal,
        customer: id,
    }: Scoped,
    State(state): State<ApiState>,
    DestinationPath(destination): DestinationPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let expected = expected_revision(&headers, None)?;
    let result = state
        .control()
        .destination_remove(&principal.actor(), &id, &destination, expected)
        .await;
    // Forgotten whatever the outcome: a failed write may still have committed (a
    // connection lost during COMMIT), and a cached revision must never outlive it.
    state.changed(&id);
    result?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
