//! Validation of declarative customer files: every problem at once, each with its field path and
//! what is allowed, did-you-mean suggestions, and no secret ever echoed.

use c15t_model::{Catalogue, CustomerSpec, EnvironmentScope, SettingValue};

fn spec(text: &str) -> CustomerSpec {
    toml::from_str(text).expect("parses as a customer file")
}

/// Validates `text` and returns the problems as `path: message` lines.
fn problems(text: &str) -> Vec<String> {
    match spec(text).validate(&Catalogue::builtin()) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems().iter().map(ToString::to_string).collect(),
    }
}

const HEAD: &str = r#"
id = "cust_abc123"
name = "Customer ABC"
trusted_origins = ["https://customer-abc123.com"]
[database]
url = "libsql://x.turso.io"
auth_token = { env = "TURSO_AUTH_TOKEN" }
"#;

#[test]
fn seed_example_is_valid() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/cust_abc123.toml"
    ))
    .expect("example");
    let config = spec(&text).validate(&Catalogue::builtin()).expect("valid");
    assert_eq!(config.customer.id.as_str(), "cust_abc123");
    assert_eq!(config.destinations.len(), 3);
    assert_eq!(
        config.destinations[0].category.as_str(),
        "marketing",
        "meta-pixel defaults to marketing"
    );
    assert!(matches!(
        config.destinations[2].environment,
        EnvironmentScope::All
    ));
    assert!(matches!(
        config.destinations[0].settings["accessToken"],
        SettingValue::Secret(_)
    ));
    // The declarative form round-trips.
    assert_eq!(
        config
            .to_spec()
            .validate(&Catalogue::builtin())
            .expect("round trip"),
        config
    );
}

#[test]
fn reports_every_problem_with_its_path() {
    let text = format!(
        r#"{HEAD}
[[destinations]]
id = "ok"
name = "fine"
type = "posthog"
[destinations.settings]
apiKey = "phc_abcdefgh12345678"

[[destinations]]
id = "meta"
name = "Meta"
type = "meta-pixel"
[destinations.settings]
pixelId = "12ab"
acessToken = {{ env = "X" }}
"#
    );
    assert_eq!(
        problems(&text),
        vec![
            "destinations[1].settings.acessToken: unknown setting for `meta-pixel`; did you mean `accessToken`?",
            "destinations[1].settings.pixelId: must contain only digits (5 to 20 of them), got `12ab`",
        ]
    );
}

#[test]
fn unknown_type_suggests_the_closest() {
    let text =
        format!("{HEAD}\n[[destinations]]\nid = \"m\"\nname = \"M\"\ntype = \"meta_pixel\"\n");
    assert_eq!(
        problems(&text),
        vec![
            "destinations[0].type: unknown destination type `meta_pixel`; did you mean `meta-pixel`?"
        ]
    );
}

#[test]
fn secrets_are_never_echoed() {
    let marker = "EAAsupersecretvalue123";
    let text = format!(
        r#"{HEAD}
[[destinations]]
id = "meta"
name = "Meta"
type = "meta-pixel"
[destinations.settings]
pixelId = "1234567890"
accessToken = "{marker}"
"#
    );
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("destinations[0].settings.accessToken: is a secret"),
        "{found:?}"
    );
    assert!(!found.iter().any(|p| p.contains(marker)));

    let text = HEAD.replace(
        r#"auth_token = { env = "TURSO_AUTH_TOKEN" }"#,
        &format!("auth_token = \"{marker}\""),
    );
    let found = problems(&text);
    assert_eq!(found.len(), 1);
    assert!(found[0].starts_with("database.auth_token: is a secret"));
    assert!(!found[0].contains(marker));
}

#[test]
fn top_level_problems_are_all_reported() {
    let text = r#"
id = "Cust ABC"
name = ""
trusted_origins = ["https://ok.example", "https://example.com/path", "*", "https://u:p@example.com"]
log_level = "verbose"
[database]
provider = "d1"
url = "postgres://x"
auth_token = { env = "1BAD" }
"#;
    let found = problems(text);
    let paths: Vec<&str> = found.iter().map(|p| p.split(':').next().unwrap()).collect();
    assert_eq!(
        paths,
        vec![
            "id",
            "name",
            "trusted_origins[1]",
            "trusted_origins[2]",
            "trusted_origins[3]",
            "log_level",
            "database.provider",
            "database.url",
            "database.auth_token"
        ],
        "{found:#?}"
    );
    assert!(found[6].contains("D1 is not offered"), "{}", found[6]);
    assert!(
        found[5].contains("`error`, `warn`, `info`, `debug`"),
        "{}",
        found[5]
    );
}

#[test]
fn destination_environment_must_be_the_customers() {
    let text = HEAD.replace(
        "[database]",
        "environments = [\"production\", \"staging\"]\n[database]",
    );
    let text = format!(
        "{text}\n[[destinations]]\nid = \"p\"\nname = \"P\"\ntype = \"posthog\"\nenvironment = \"stagin\"\n[destinations.settings]\napiKey = \"phc_abcdefgh12345678\"\n"
    );
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("destinations[0].environment: must be one of `production`, `staging`"),
        "{}",
        found[0]
    );
    assert!(
        found[0].ends_with("did you mean `staging`?"),
        "{}",
        found[0]
    );
}

#[test]
fn duplicate_destination_ids_are_refused() {
    let one = "\n[[destinations]]\nid = \"p\"\nname = \"P\"\ntype = \"posthog\"\n[destinations.settings]\napiKey = \"phc_abcdefgh12345678\"\n";
    let found = problems(&format!("{HEAD}{one}{one}"));
    assert_eq!(
        found,
        vec!["destinations[1].id: `p` is used by an earlier destination; ids must be unique"]
    );
}

#[test]
fn wrong_value_types_name_the_expected_type() {
    let text = format!(
        "{HEAD}\n[[destinations]]\nid = \"m\"\nname = \"M\"\ntype = \"matomo\"\n[destinations.settings]\nmatomoUrl = \"https://m.example.com\"\nsiteId = \"three\"\n"
    );
    let found = problems(&text);
    assert_eq!(
        found,
        vec!["destinations[0].settings.siteId: must be a whole number, got a string"]
    );
}
