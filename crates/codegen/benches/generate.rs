//! Generation speed: `src/index.ts` (and its JavaScript flavour) of a 3-destination customer (the seed example) and a
//! 20-destination customer (every catalogue kind), and the whole project of the latter.

use std::hint::black_box;
use std::path::Path;

use c15t_codegen::{
    Input, TargetProfile, generate, generate_worker_module, generate_worker_source,
};
use c15t_model::{Catalogue, CustomerConfig, CustomerSpec, Environment};
use criterion::{Criterion, criterion_group, criterion_main};

fn load(case: &str) -> CustomerConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cases")
        .join(case)
        .join("customer.toml");
    let text = std::fs::read_to_string(path).expect("fixture");
    let spec: CustomerSpec = toml::from_str(&text).expect("customer file");
    spec.validate(&Catalogue::builtin()).expect("valid fixture")
}

fn bench(c: &mut Criterion) {
    let env = Environment::production();
    let target = TargetProfile::default();
    for (name, case, expected) in [
        ("index_ts/3_destinations", "seed-example", 3),
        ("index_ts/20_destinations", "every-kind", 20),
    ] {
        let config = load(case);
        assert_eq!(config.destinations_for(&env).count(), expected);
        let input = Input {
            config: &config,
            environment: &env,
            target: &target,
            revision: 1,
        };
        c.bench_function(name, |b| {
            b.iter(|| generate_worker_source(black_box(&input)).expect("generates"))
        });
        c.bench_function(&name.replace("index_ts", "index_js"), |b| {
            b.iter(|| {
                generate_worker_module(black_box(&input), "./c15t-runtime-0123456789abcdef.js")
                    .expect("generates")
            })
        });
    }
    let config = load("every-kind");
    let input = Input {
        config: &config,
        environment: &env,
        target: &target,
        revision: 1,
    };
    c.bench_function("project/20_destinations", |b| {
        b.iter(|| generate(black_box(&input)).expect("generates"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
