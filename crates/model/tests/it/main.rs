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

/// A customer file with `n` destinations, `envs` environments and `origins` trusted origins.
fn sized(n: usize, envs: usize, origins: usize) -> String {
    let environments: Vec<String> = (0..envs).map(|i| format!("\"env{i}\"")).collect();
    let trusted: Vec<String> = (0..origins)
        .map(|i| format!("\"https://o{i}.example.com\""))
        .collect();
    let mut text = format!(
        "id = \"cust_abc123\"\nname = \"Customer ABC\"\nenvironments = [{}]\n\
         trusted_origins = [{}]\n[database]\nurl = \"libsql://x.turso.io\"\n\
         auth_token = {{ env = \"TURSO_AUTH_TOKEN\" }}\n",
        environments.join(", "),
        trusted.join(", ")
    );
    for i in 0..n {
        text.push_str(&format!(
            "[[destinations]]\nid = \"d{i}\"\nname = \"Pixel\"\ntype = \"meta-pixel\"\n\
             [destinations.settings]\npixelId = \"1234567890\"\n\
             accessToken = {{ env = \"META_TOKEN\" }}\n"
        ));
    }
    text
}

#[test]
fn quotas_are_enforced_and_named() {
    use c15t_model::{
        CONFIG_BYTES_MAX, DESTINATIONS_MAX, ENVIRONMENTS_MAX, SETTING_MAX, TRUSTED_ORIGINS_MAX,
    };
    assert_eq!(
        (
            DESTINATIONS_MAX,
            ENVIRONMENTS_MAX,
            TRUSTED_ORIGINS_MAX,
            SETTING_MAX,
            CONFIG_BYTES_MAX
        ),
        (200, 20, 100, 2048, 256 * 1024),
        "the documented quotas (README.md)"
    );
    // At every limit: valid.
    let at = sized(DESTINATIONS_MAX, ENVIRONMENTS_MAX, TRUSTED_ORIGINS_MAX);
    assert_eq!(problems(&at), Vec::<String>::new());
    // One past each: one problem naming the limit.
    assert_eq!(
        problems(&sized(DESTINATIONS_MAX + 1, 1, 1)),
        ["destinations: at most 200 destinations per customer (limit DESTINATIONS_MAX), got 201"]
    );
    assert_eq!(
        problems(&sized(1, ENVIRONMENTS_MAX + 1, 1)),
        ["environments: at most 20 environments per customer (limit ENVIRONMENTS_MAX), got 21"]
    );
    assert_eq!(
        problems(&sized(1, 1, TRUSTED_ORIGINS_MAX + 1)),
        [
            "trusted_origins: at most 100 trusted origins per customer (limit \
             TRUSTED_ORIGINS_MAX), got 101"
        ]
    );
    // 200 destinations with long hosts make a config over 256 KiB.
    let mut big = HEAD.to_owned();
    let host = format!("https://{}.example.com/", "h".repeat(1300));
    for i in 0..DESTINATIONS_MAX {
        big.push_str(&format!(
            "[[destinations]]\nid = \"p{i}\"\nname = \"PostHog\"\ntype = \"posthog\"\n\
             [destinations.settings]\napiKey = \"phc_abcdefgh\"\nhost = \"{host}\"\n"
        ));
    }
    let big = problems(&big);
    assert_eq!(big.len(), 1, "{big:?}");
    assert!(
        big[0].starts_with("config: is ") && big[0].contains("(limit CONFIG_BYTES_MAX)"),
        "{big:?}"
    );
}

#[test]
fn the_events_debug_secret_is_a_reference_bound_to_every_worker() {
    let with = |value: &str| {
        format!(
            "id = \"cust_abc123\"\nname = \"Customer ABC\"\nevents_debug_secret = {value}\n\
             [database]\nurl = \"libsql://x.turso.io\"\nauth_token = {{ env = \"TURSO\" }}\n"
        )
    };
    assert_eq!(
        problems(&with("\"plain-text-secret-value\"")),
        [
            "events_debug_secret: is a secret: give a reference such as `{ env = \"VAR\" }`, never the value itself"
        ],
        "a value written in place of a reference is refused, and not shown"
    );
    let bad = problems(&with("{ env = \"1BAD\" }"));
    assert!(
        bad[0].starts_with("events_debug_secret: `env` must name"),
        "{bad:?}"
    );

    let config = spec(&with("{ env = \"DEBUG\" }"))
        .validate(&Catalogue::builtin())
        .expect("valid");
    let bindings = c15t_model::Bindings::plan(&config, &c15t_model::Environment::production());
    let names: Vec<&str> = bindings.secrets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["TURSO_AUTH_TOKEN", "C15T_EVENTS_DEBUG_SECRET"]);
    // Back to the file form and again: the same config.
    assert_eq!(
        config
            .to_spec()
            .validate(&Catalogue::builtin())
            .expect("valid"),
        config
    );
    // Without it, no binding.
    let config = spec(HEAD).validate(&Catalogue::builtin()).expect("valid");
    let bindings = c15t_model::Bindings::plan(&config, &c15t_model::Environment::production());
    assert_eq!(bindings.secrets.len(), 1);
}
