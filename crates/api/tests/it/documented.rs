//! The OpenAPI document's rules are the server's rules: a value the document allows is
//! accepted, and where the document claims the whole rule (If-Match, environments, origins,
//! database URLs), a value it refuses is refused. Each rule is read from the served document
//! and compared with what the server answers, or with the model's own check.

use axum::http::{Method, StatusCode};
use c15t_model::{Environment, TrustedOrigin};
use regex::Regex;
use serde_json::Value;

use crate::harness::{Auth, OPERATOR, TestApi};

fn doc() -> Value {
    serde_json::to_value(c15t_api::openapi()).unwrap()
}

/// The pattern at `pointer` of the document, compiled; panics naming the pointer when absent.
fn pattern(doc: &Value, pointer: &str) -> Regex {
    let text = doc
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("the document has no pattern at {pointer}"));
    Regex::new(text).unwrap()
}

/// Every header or query parameter named `name`, as (operation, pattern).
fn parameters(doc: &Value, name: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["name"] == name && p["in"] != "path" {
                    out.push((
                        format!("{method} {path}"),
                        p["schema"]["pattern"].as_str().map(str::to_owned),
                    ));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn if_match_is_refused_exactly_where_the_document_says() {
    let doc = doc();
    let params = parameters(&doc, "If-Match");
    assert!(params.len() >= 7, "{params:?}");
    let first = params[0].1.clone().expect("If-Match has a pattern");
    for (op, p) in &params {
        assert_eq!(p.as_deref(), Some(first.as_str()), "{op}");
    }
    let re = Regex::new(&first).unwrap();

    let api = TestApi::new().await;
    let uri = "/api/v1/customers/cust_a";
    let current = api.get(uri, Auth::Bearer(OPERATOR)).await.json()["revision"]
        .as_u64()
        .unwrap();
    let mut samples: Vec<String> = [
        "*",
        "\"0\"",
        "0",
        "W/\"0\"",
        "\"007\"",
        "007",
        "\"7",
        "7\"",
        "\"\"",
        "",
        "abc",
        "\"-1\"",
        "-1",
        "+1",
        "\"1.0\"",
        "W/7",
        "w/\"7\"",
        "\"7\", \"8\"",
        "**",
        "\"*\"",
        "1e3",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    samples.push("9".repeat(19));
    samples.push(format!("\"{}\"", "9".repeat(19)));
    samples.push("1".repeat(20));
    samples.push(format!("\"{}\"", "1".repeat(20)));
    let mut checked = 0;
    for text in samples {
        // Each accepted change moves the revision; spell the current one in each form too.
        let revision = api.get(uri, Auth::Bearer(OPERATOR)).await.json()["revision"]
            .as_u64()
            .unwrap();
        for text in [
            text.clone(),
            revision.to_string(),
            format!("\"{revision}\""),
            format!("W/\"{revision}\""),
        ] {
            let answer = api
                .call(
                    Method::PATCH,
                    uri,
                    Auth::Bearer(OPERATOR),
                    &[("if-match", &text)],
                    Some(r#"{"name": "Customer A"}"#),
                )
                .await;
            let refused = answer.status == StatusCode::BAD_REQUEST
                && answer.json()["code"] == "invalid_if_match";
            assert_eq!(
                !refused,
                re.is_match(&text),
                "If-Match {text:?}: the document's pattern {first} and the server ({}) disagree",
                answer.status
            );
            if !refused {
                assert!(
                    [StatusCode::OK, StatusCode::CONFLICT].contains(&answer.status),
                    "If-Match {text:?}: {} {}",
                    answer.status,
                    answer.text()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 90);
    let now = api.get(uri, Auth::Bearer(OPERATOR)).await.json()["revision"]
        .as_u64()
        .unwrap();
    assert!(
        now > current,
        "no sample was accepted as the current revision"
    );
}

#[test]
fn environment_lists_and_origins_carry_the_models_rules() {
    let doc = doc();
    for schema in ["CustomerCreate", "CustomerUpdate"] {
        let envs = format!("/components/schemas/{schema}/properties/environments");
        assert_eq!(
            doc.pointer(&format!("{envs}/minItems")),
            Some(&Value::from(1))
        );
        assert_eq!(
            doc.pointer(&format!("{envs}/uniqueItems")),
            Some(&Value::Bool(true))
        );
        let env = pattern(&doc, &format!("{envs}/items/pattern"));
        for text in [
            "production",
            "staging",
            "a",
            "a-b_c",
            "0",
            "",
            "Prod",
            "-a",
            "a-",
            "a.b",
            &"a".repeat(17),
            &"a".repeat(18),
        ] {
            assert_eq!(
                env.is_match(text),
                Environment::new(text).is_ok(),
                "{schema}.environments[]: {text:?}"
            );
        }

        let origin = pattern(
            &doc,
            &format!("/components/schemas/{schema}/properties/trusted_origins/items/pattern"),
        );
        let long_label = format!("https://{}.com", "a".repeat(63));
        let too_long_label = format!("https://{}.com", "a".repeat(64));
        for text in [
            "https://example.com",
            "http://localhost:3000",
            "*.example.com",
            "https://*.example.com",
            "capacitor://localhost",
            "example.com",
            "https://[::1]:8080",
            "[::1]",
            "HTTPS://EXAMPLE.COM",
            "https://a_b.example.com",
            "_a.example.com",
            "a+b.c-d://x",
            "a.b.c.d.e",
            long_label.as_str(),
            too_long_label.as_str(),
            "https://-a.com",
            "https://a-.com",
            "*",
            "https://a.*.com",
            "https://*",
            "https://example.com/",
            "https://example.com/path",
            "https://example.com?x",
            "https://user@example.com",
            "https://exa mple.com",
            "",
            "https://",
            "https://.com",
            "https://a..com",
            "https://é.com",
            "https://example.com:",
            "https://example.com:abc",
            "https://example.com:8080",
            "https://example.com:123456",
            "1http://a.com",
            "https://[::1",
            "https://[zz]",
            "https://[::1]x",
            "ex:ample.com",
            "https:/example.com",
        ] {
            assert_eq!(
                origin.is_match(text),
                TrustedOrigin::parse(text).is_ok(),
                "{schema}.trusted_origins[]: {text:?} ({:?})",
                TrustedOrigin::parse(text)
            );
        }
        // What the pattern does not say, the description does, and the model refuses.
        for text in [
            "javascript://x",
            "https://example.com:0",
            "https://a.com:65536",
            "https://[8c16A]:5",
            "[1:2]",
        ] {
            assert!(
                origin.is_match(text) && TrustedOrigin::parse(text).is_err(),
                "{text}"
            );
        }
    }
}

#[tokio::test]
async fn database_urls_and_token_names_the_document_allows_are_accepted() {
    let doc = doc();
    let url = pattern(
        &doc,
        "/components/schemas/DatabaseIn/properties/url/pattern",
    );
    let update = pattern(
        &doc,
        "/components/schemas/CustomerUpdate/properties/database_url/pattern",
    );
    assert_eq!(url.as_str(), update.as_str());
    let api = TestApi::new().await;
    for (i, text) in [
        "libsql://db.turso.io",
        "https://x.turso.io/path?q=1",
        "http://localhost:8080",
        "ws://127.0.0.1",
        "wss://a",
        "libsql://[::1]:8080/x",
        "libsql://a:80",
        "https://a#frag",
        "https://a?x=ü",
        "libsql://a_b-c.example",
        "ftp://a",
        "libsql://",
        "libsql://.a",
        "libsql://:80",
        "libsql://user@a",
        "libsql://a b",
        "libsql://a/b c",
        "libsql//a",
        "LIBSQL://a",
        "libsql://é.io",
        "libsql://a\u{1}",
        "",
        "libsql://a[b]",
        "libsql://a:abc",
        "libsql://[::1",
        "libsql://[::1]x",
        "https://[2001:db8::1]/x",
    ]
    .into_iter()
    .map(|text| (text, true))
    // What the pattern does not say (the description does): the server refuses these.
    .chain(
        ["libsql://[8c16A]", "libsql://a:0", "libsql://a:70000"]
            .into_iter()
            .map(|text| (text, false)),
    )
    .enumerate()
    {
        let (text, exact) = text;
        let body = serde_json::json!({
            "id": format!("cust_db{i}"),
            "name": "Database URL sample",
            "database": {"url": text, "auth_token": "t"},
        });
        let answer = api
            .post("/api/v1/customers", Auth::Bearer(OPERATOR), &body)
            .await;
        let refused = answer.status == StatusCode::UNPROCESSABLE_ENTITY
            && answer.json()["fields"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f["path"] == "database.url"));
        assert!(
            refused || answer.status == StatusCode::CREATED,
            "{text:?}: {} {}",
            answer.status,
            answer.text()
        );
        if exact {
            assert_eq!(
                !refused,
                url.is_match(text),
                "database.url {text:?}: the document's pattern and the server disagree"
            );
        } else {
            assert!(url.is_match(text) && refused, "database.url {text:?}");
        }
    }

    let name = &doc["components"]["schemas"]["TokenCreate"]["properties"]["name"];
    let name_pattern = Regex::new(name["pattern"].as_str().unwrap()).unwrap();
    let max = usize::try_from(name["maxLength"].as_u64().unwrap()).unwrap();
    let min = usize::try_from(name["minLength"].as_u64().unwrap()).unwrap();
    let long = "x".repeat(100);
    let too_long = "x".repeat(101);
    for text in [
        "ci",
        "deploy bot",
        "  padded  ",
        "ünïcødé ✓",
        long.as_str(),
        too_long.as_str(),
        "",
        "   ",
        "tab\there",
        "nul\u{0}",
        "c1\u{85}",
    ] {
        let documented = name_pattern.is_match(text) && (min..=max).contains(&text.chars().count());
        let answer = api
            .post(
                "/api/v1/customers/cust_a/tokens",
                Auth::Bearer(OPERATOR),
                &serde_json::json!({ "name": text }),
            )
            .await;
        if documented {
            assert_eq!(
                answer.status,
                StatusCode::CREATED,
                "token name {text:?} is documented as valid: {}",
                answer.text()
            );
        } else if answer.status == StatusCode::CREATED {
            panic!("token name {text:?} is documented as invalid but was accepted");
        }
    }
}

#[test]
fn header_parameters_are_strings_never_null() {
    let doc = doc();
    let mut seen = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "header" {
                    assert_eq!(
                        p["schema"]["type"], "string",
                        "{method} {path} {}",
                        p["name"]
                    );
                    seen += 1;
                }
            }
        }
    }
    assert!(seen >= 10, "{seen}");
}

/// A value the branch's schema for one setting allows: drawn from its pattern (deterministic
/// RNG), else the first enum value, a URL, `true`, or the smallest number allowed.
fn documented_value(schema: &Value, runner: &mut proptest::test_runner::TestRunner) -> Value {
    use proptest::strategy::{Strategy as _, ValueTree as _};
    if let Some(values) = schema["enum"].as_array() {
        return values[0].clone();
    }
    match schema["type"].as_str().unwrap() {
        "boolean" => Value::Bool(true),
        "integer" | "number" => schema
            .get("minimum")
            .cloned()
            .unwrap_or_else(|| Value::from(1)),
        "string" => {
            let pattern = schema["pattern"].as_str().unwrap_or("^[a-z]{1,8}$");
            if pattern.starts_with("^https?://") {
                return Value::from("https://analytics.example.com/path");
            }
            let inner = pattern.trim_start_matches('^').trim_end_matches('$');
            let text = proptest::string::string_regex(inner)
                .unwrap()
                .new_tree(runner)
                .unwrap()
                .current();
            assert!(
                Regex::new(pattern).unwrap().is_match(&text),
                "{pattern}: {text:?}"
            );
            Value::from(text)
        }
        other => panic!("setting of type {other}"),
    }
}

#[tokio::test]
async fn every_kind_the_document_describes_is_accepted_as_described() {
    let doc = doc();
    let kinds = doc
        .pointer("/components/schemas/DestinationCreate/allOf/1/oneOf")
        .and_then(Value::as_array)
        .expect("DestinationCreate has a branch per kind")
        .clone();
    assert_eq!(kinds.len(), c15t_model::Catalogue::builtin().kinds().len());
    let api = TestApi::new().await;
    let customer = serde_json::json!({
        "id": "cust_kinds",
        "name": "Kinds",
        "database": {"url": "libsql://k.turso.io", "auth_token": "t"},
    });
    let created = api
        .post("/api/v1/customers", Auth::Bearer(OPERATOR), &customer)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for branch in &kinds {
        let slug = branch["properties"]["type"]["enum"][0].as_str().unwrap();
        let mut body = serde_json::json!({"id": format!("d-{slug}"), "name": slug, "type": slug});
        for part in ["settings", "secrets"] {
            let schema = &branch["properties"][part];
            let mut values = serde_json::Map::new();
            // Every documented setting, required or not, with a documented value.
            for (key, field) in schema["properties"].as_object().into_iter().flatten() {
                values.insert(key.clone(), documented_value(field, &mut runner));
            }
            body[part] = Value::Object(values);
        }
        let uri = "/api/v1/customers/cust_kinds/destinations";
        let answer = api.post(uri, Auth::Bearer(OPERATOR), &body).await;
        assert_eq!(
            answer.status,
            StatusCode::CREATED,
            "{slug}: documented body {body} refused: {}",
            answer.text()
        );
        // Without a setting the document calls required, it is refused, naming the field.
        for part in ["settings", "secrets"] {
            for key in branch["properties"][part]["required"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let key = key.as_str().unwrap();
                let mut without = body.clone();
                without["id"] = Value::from(format!("x-{slug}"));
                without[part].as_object_mut().unwrap().remove(key);
                let answer = api.post(uri, Auth::Bearer(OPERATOR), &without).await;
                assert_eq!(
                    answer.status,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "{slug} without {key}"
                );
                assert!(
                    answer.text().contains(key),
                    "{slug} without {key}: {}",
                    answer.text()
                );
            }
        }
    }
}
