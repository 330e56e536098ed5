//! Parsing and checking a multipart Worker upload (`metadata` part plus module parts).

use std::collections::BTreeSet;

use bytes::Bytes;
use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::api::{ApiError, code};
use super::model::{Binding, ModulePart};

/// Content types of ES modules; the main module must have one of them.
const ESM_TYPES: &[&str] = &["application/javascript+module", "text/javascript+module"];

/// Content types Cloudflare accepts for the other parts of a module upload (commonjs, wasm,
/// data, text, source maps, Python).
const OTHER_MODULE_TYPES: &[&str] = &[
    "application/javascript",
    "text/javascript",
    "application/wasm",
    "application/octet-stream",
    "text/plain",
    "application/json",
    "application/source-map",
    "text/x-python",
    "text/x-python-requirement",
];

/// Binding types this fake stores; Cloudflare has more (KV, D1, ...) but c15t uses none of
/// them, so an upload with any other type is refused as a sign of a deployer bug.
const BINDING_TYPES: &[&str] = &["plain_text", "secret_text", "json"];

/// Annotations a client may set on a version.
const VERSION_ANNOTATIONS: &[&str] = &["workers/message", "workers/tag"];

/// Longest `workers/message` wrangler lets through.
const MAX_MESSAGE_CHARS: usize = 100;

/// Longest `workers/tag`.
const MAX_TAG_CHARS: usize = 100;

/// A checked upload, ready to become a version.
#[derive(Debug)]
pub(crate) struct Upload {
    pub(crate) main_module: String,
    pub(crate) modules: Vec<ModulePart>,
    pub(crate) compatibility_date: String,
    pub(crate) compatibility_flags: Vec<String>,
    pub(crate) bindings: Vec<Binding>,
    pub(crate) keep_bindings: Vec<String>,
    pub(crate) annotations: Map<String, Value>,
    pub(crate) metadata: Value,
}

/// One part of the multipart body.
#[derive(Debug)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    bytes: Bytes,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(code::SCRIPT_INVALID, message)
}

/// Parses and checks a Worker upload body; `today` bounds the compatibility date.
pub(crate) async fn parse(
    content_type: Option<&str>,
    body: Bytes,
    today: NaiveDate,
) -> Result<Upload, ApiError> {
    let parts = read_parts(content_type, body).await?;
    check(parts, today)
}

async fn read_parts(content_type: Option<&str>, body: Bytes) -> Result<Vec<Part>, ApiError> {
    let content_type = content_type.unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return Err(ApiError::bad_request(
            code::BAD_REQUEST,
            format!(
                "Content-Type must be multipart/form-data for a Worker upload, got `{content_type}`"
            ),
        ));
    }
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| ApiError::bad_request(code::BAD_REQUEST, "multipart body has no boundary"))?;
    let stream = axum::body::Body::from(body).into_data_stream();
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|error| invalid(format!("malformed multipart body: {error}")))?;
        let Some(field) = field else { break };
        let Some(name) = field.name().map(str::to_owned) else {
            return Err(invalid("a multipart part has no name"));
        };
        let filename = field.file_name().map(str::to_owned);
        let content_type = field
            .content_type()
            .map(|mime| mime.essence_str().to_owned());
        let bytes = field
            .bytes()
            .await
            .map_err(|error| invalid(format!("malformed multipart part `{name}`: {error}")))?;
        parts.push(Part {
            name,
            filename,
            content_type,
            bytes,
        });
    }
    Ok(parts)
}

fn check(parts: Vec<Part>, today: NaiveDate) -> Result<Upload, ApiError> {
    let mut seen = BTreeSet::new();
    for part in &parts {
        if !seen.insert(part.name.as_str()) {
            return Err(invalid(format!(
                "multipart part `{}` is given more than once",
                part.name
            )));
        }
    }
    let mut metadata = None;
    let mut modules = Vec::new();
    for part in parts {
        if part.name == "metadata" {
            metadata = Some(parse_metadata(&part)?);
        } else {
            modules.push(module(part)?);
        }
    }
    let Some(metadata) = metadata else {
        return Err(invalid(
            "missing metadata part: a Worker upload needs a `metadata` part",
        ));
    };
    let Value::Object(fields) = &metadata else {
        return Err(invalid("metadata must be a JSON object"));
    };
    if fields.contains_key("body_part") && !fields.contains_key("main_module") {
        return Err(invalid(
            "service-worker uploads (`body_part`) are not supported; upload modules with `main_module`",
        ));
    }
    let main_module = match fields.get("main_module") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        Some(_) => return Err(invalid("metadata.main_module must be a non-empty string")),
        None => {
            return Err(invalid(
                "metadata.main_module is required for a module Worker",
            ));
        }
    };
    let Some(main) = modules.iter().find(|module| module.name == main_module) else {
        return Err(invalid(format!(
            "Uncaught Error: No such module \"{main_module}\": metadata.main_module names no uploaded part"
        )));
    };
    if !ESM_TYPES.contains(&main.content_type.as_str()) {
        return Err(invalid(format!(
            "main module `{main_module}` has content type `{}`; it must be application/javascript+module",
            main.content_type
        )));
    }
    let compatibility_date = compatibility_date(fields.get("compatibility_date"), today)?;
    let compatibility_flags =
        string_array(fields.get("compatibility_flags"), "compatibility_flags")?;
    let bindings = bindings(fields.get("bindings"))?;
    let keep_bindings = string_array(fields.get("keep_bindings"), "keep_bindings")?;
    let annotations = annotations(fields.get("annotations"))?;
    Ok(Upload {
        main_module,
        modules,
        compatibility_date,
        compatibility_flags,
        bindings,
        keep_bindings,
        annotations,
        metadata,
    })
}

fn parse_metadata(part: &Part) -> Result<Value, ApiError> {
    // Wrangler sends metadata as a plain form field (no content type); a client that sends a
    // file part must label it JSON.
    if let Some(content_type) = &part.content_type
        && content_type != "application/json"
    {
        return Err(invalid(format!(
            "metadata part has content type `{content_type}`; it must be application/json"
        )));
    }
    serde_json::from_slice(&part.bytes)
        .map_err(|error| invalid(format!("metadata part is not valid JSON: {error}")))
}

fn module(part: Part) -> Result<ModulePart, ApiError> {
    let name = part.name;
    match part.filename.as_deref() {
        Some(filename) if filename == name => {}
        Some(filename) => {
            return Err(invalid(format!(
                "module part `{name}` has filename `{filename}`; a module's part name and filename must both be the module name"
            )));
        }
        None => return Err(invalid(format!("module part `{name}` has no filename"))),
    }
    let Some(content_type) = part.content_type else {
        return Err(invalid(format!("module part `{name}` has no content type")));
    };
    if !ESM_TYPES.contains(&content_type.as_str())
        && !OTHER_MODULE_TYPES.contains(&content_type.as_str())
    {
        return Err(invalid(format!(
            "module part `{name}` has unsupported content type `{content_type}`"
        )));
    }
    Ok(ModulePart {
        name,
        content_type,
        bytes: part.bytes,
    })
}

fn compatibility_date(value: Option<&Value>, today: NaiveDate) -> Result<String, ApiError> {
    let Some(value) = value else {
        return Err(invalid(
            "metadata.compatibility_date is required (YYYY-MM-DD)",
        ));
    };
    let Some(text) = value.as_str() else {
        return Err(invalid(
            "metadata.compatibility_date must be a string (YYYY-MM-DD)",
        ));
    };
    let well_formed = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let date = well_formed
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| {
            invalid(format!(
                "Invalid compatibility date `{text}`; expected YYYY-MM-DD"
            ))
        })?;
    if date > today {
        return Err(invalid(format!(
            "Can't set compatibility date in the future: `{text}` is after {today}"
        )));
    }
    Ok(text.to_owned())
}

fn string_array(value: Option<&Value>, field: &str) -> Result<Vec<String>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(format!("metadata.{field} must be an array of strings")))
            })
            .collect(),
        Some(_) => Err(invalid(format!(
            "metadata.{field} must be an array of strings"
        ))),
    }
}

fn bindings(value: Option<&Value>) -> Result<Vec<Binding>, ApiError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid("metadata.bindings must be an array")),
    };
    let mut names = BTreeSet::new();
    let mut bindings = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let binding = binding(index, item)?;
        if !names.insert(binding.name.clone()) {
            return Err(invalid(format!(
                "Binding name '{}' already in use: metadata.bindings[{index}] repeats it",
                binding.name
            )));
        }
        bindings.push(binding);
    }
    Ok(bindings)
}

/// Checks one uploaded binding object.
pub(crate) fn binding(index: usize, item: &Value) -> Result<Binding, ApiError> {
    let at = format!("metadata.bindings[{index}]");
    let Value::Object(fields) = item else {
        return Err(invalid(format!("{at} must be an object")));
    };
    let Some(kind) = fields.get("type").and_then(Value::as_str) else {
        return Err(invalid(format!("{at}.type must be a string")));
    };
    let name = match fields.get("name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => return Err(invalid(format!("{at}.name must be a non-empty string"))),
    };
    if !BINDING_TYPES.contains(&kind) {
        return Err(invalid(format!(
            "Unknown binding type `{kind}` for binding `{name}` ({at}); this fake supports plain_text, secret_text and json"
        )));
    }
    let (text, json) = if kind == "json" {
        let Some(json) = fields.get("json") else {
            return Err(invalid(format!("{at}.json is required for a json binding")));
        };
        (None, Some(json.clone()))
    } else {
        let Some(text) = fields.get("text").and_then(Value::as_str) else {
            return Err(invalid(format!(
                "{at}.text must be a string for a {kind} binding"
            )));
        };
        (Some(text.to_owned()), None)
    };
    Ok(Binding {
        kind: kind.to_owned(),
        name,
        text,
        json,
    })
}

fn annotations(value: Option<&Value>) -> Result<Map<String, Value>, ApiError> {
    let fields = match value {
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(Value::Object(fields)) => fields,
        Some(_) => return Err(invalid("metadata.annotations must be an object")),
    };
    let mut annotations = Map::new();
    for (key, value) in fields {
        if key == "workers/triggered_by" {
            // Set by Cloudflare, not by clients.
            continue;
        }
        if !VERSION_ANNOTATIONS.contains(&key.as_str()) {
            return Err(invalid(format!(
                "unknown annotation `{key}`; versions accept workers/message and workers/tag"
            )));
        }
        let Some(text) = value.as_str() else {
            return Err(invalid(format!("annotation `{key}` must be a string")));
        };
        let limit = if key == "workers/message" {
            MAX_MESSAGE_CHARS
        } else {
            MAX_TAG_CHARS
        };
        if text.chars().count() > limit {
            return Err(invalid(format!(
                "annotation `{key}` is longer than {limit} characters"
            )));
        }
        annotations.insert(key.clone(), value.clone());
    }
    Ok(annotations)
}
