//! Fixtures the API tests share: delivery options against a fake Cloudflare with a stand-in
//! runtime, and a minimal customer.

use std::sync::Arc;
use std::time::Duration;

use c15t_model::{CustomerSpec, DatabaseSpec, RawValue};

/// A stand-in for the bundled c15t runtime: the named exports the generated entry imports.
pub(crate) fn stand_in_runtime(
    target: &c15t_codegen::TargetProfile,
) -> c15t_deploy::runtime::RuntimeBundle {
    let mut js = String::from("// c15t runtime stand-in for tests\n");
    for name in c15t_codegen::runtime_export_names(target) {
        js.push_str(&format!("export const {name} = () => {{}};\n"));
    }
    c15t_deploy::runtime::RuntimeBundle::from_bytes(target, js.into_bytes()).unwrap()
}

pub(crate) fn delivery(cloudflare_api: &str) -> c15t_control::DeliveryOptions {
    let target = &c15t_codegen::target::BACKEND_2;
    c15t_control::DeliveryOptions {
        target,
        cloudflare_api: cloudflare_api.to_owned(),
        cloudflare_retry: c15t_deploy::cloudflare::RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            request_timeout: Duration::from_secs(5),
        },
        runtimes: vec![Arc::new(stand_in_runtime(target))],
        debounce: Duration::ZERO,
        rollout: c15t_model::Rollout::Immediate,
        ..c15t_control::DeliveryOptions::default()
    }
}

pub(crate) fn customer(id: &str, name: &str) -> CustomerSpec {
    CustomerSpec {
        events_debug_secret: None,
        id: id.to_owned(),
        name: name.to_owned(),
        environments: Some(vec!["production".to_owned()]),
        trusted_origins: vec![format!("https://{id}.example"), format!("*.{id}.example")],
        log_level: None,
        database: DatabaseSpec {
            provider: "turso".to_owned(),
            url: format!("libsql://{}.turso.io", id.replace('_', "-")),
            auth_token: RawValue::Text(String::new()),
        },
        destinations: Vec::new(),
    }
}
