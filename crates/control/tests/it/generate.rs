//! Generation from the store matches generation from the file the customer was imported from.

use c15t_codegen::{Input, Project, TargetProfile};
use c15t_model::{Catalogue, Environment};

use crate::harness::{TestEnv, example, id, resolver, secrets};

fn from_file(spec: &c15t_model::CustomerSpec, env: &Environment, revision: u64) -> Project {
    let config = spec.validate(&Catalogue::builtin()).unwrap();
    c15t_codegen::generate(&Input {
        config: &config,
        environment: env,
        target: &TargetProfile::ALL[0],
        revision,
    })
    .unwrap()
}

/// The header's input hash, the one place where the two inputs differ (see below).
fn without_input_hash(text: &str, hash: &str) -> String {
    let short = &hash.trim_start_matches("sha256:")[..16];
    text.replace(short, "<input hash>")
}

#[tokio::test]
async fn generate_from_store_matches_generate_from_file() {
    let env = TestEnv::sqlite();
    let control = env.control().await;
    let cust = id("cust_abc123");
    let values = secrets("gen");
    control
        .import("ops", example(), &resolver(&values))
        .await
        .unwrap();

    for environment in ["production", "staging"] {
        let environment = Environment::new(environment).unwrap();
        let stored = control
            .generate(&cust, &environment, &TargetProfile::ALL[0])
            .await
            .unwrap();
        let file = from_file(&example(), &environment, 1);
        let paths = |p: &Project| p.files.iter().map(|f| f.path).collect::<Vec<_>>();
        assert_eq!(paths(&stored), paths(&file));

        // The input hash covers the secret references, which are `{ env = "VAR" }` in the file
        // and fingerprints in the store, so it differs; the code and every binding name do not.
        assert_ne!(stored.input_hash, file.input_hash);
        for (s, f) in stored.files.iter().zip(&file.files) {
            assert_eq!(
                without_input_hash(&s.contents, &stored.input_hash),
                without_input_hash(&f.contents, &file.input_hash),
                "{} differs between store and file ({environment})",
                s.path
            );
        }
        let index = stored.file("src/index.ts").unwrap().contents.as_str();
        assert!(index.contains("config revision 1, input "), "{index}");
        if environment.as_str() == "production" {
            assert!(index.contains("accessToken: env.META_PIXEL_ACCESS_TOKEN,"));
        }

        // Given the stored spec (fingerprints) as the file, the output is byte-identical.
        let spec = control.customer_show(&cust).await.unwrap().spec;
        assert_eq!(from_file(&spec, &environment, 1), stored);
        for value in values.values() {
            assert!(
                stored.files.iter().all(|f| !f.contents.contains(value)),
                "a secret value reached the generated project"
            );
        }
    }

    // A change bumps the revision named in the headers.
    control
        .destination_remove("ops", &cust, "posthog", None)
        .await
        .unwrap();
    let prod = Environment::new("production").unwrap();
    let project = control
        .generate(&cust, &prod, &TargetProfile::ALL[0])
        .await
        .unwrap();
    let index = &project.file("src/index.ts").unwrap().contents;
    assert!(index.contains("config revision 2, input "), "{index}");
    assert!(!index.contains("posthog("));
}
