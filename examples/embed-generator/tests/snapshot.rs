//! The example customer's production worker, as one reviewable snapshot
//! (`tests/snapshots/snapshot__acme-production.snap`). A diff here is a change of what the
//! generator produces for this customer: review it with `cargo insta review`, or accept it
//! with `INSTA_UPDATE=always cargo test -p embed-generator`.

use c15t_codegen::assert_project_snapshot;
use c15t_model::Environment;

#[test]
fn production_worker() {
    let config = embed_generator::customer().expect("a valid customer");
    let project =
        embed_generator::generate(&config, &Environment::production(), 1).expect("generated");
    assert_project_snapshot!("acme-production", project);
}

#[test]
fn staging_gets_its_own_worker_and_destinations() {
    let config = embed_generator::customer().expect("a valid customer");
    let staging = Environment::new("staging").expect("environment");
    let project = embed_generator::generate(&config, &staging, 1).expect("generated");
    assert_eq!(project.worker_name, "c15t-acme-staging");
    let worker = &project.file("src/index.ts").expect("worker").contents;
    assert!(worker.contains("plausible") && !worker.contains("META_PIXEL_ACCESS_TOKEN"));
}

#[test]
fn writes_the_project_to_disk() {
    let config = embed_generator::customer().expect("a valid customer");
    let project =
        embed_generator::generate(&config, &Environment::production(), 1).expect("generated");
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("acme");
    project.write_to(&dir).expect("written");
    for file in &project.files {
        let written = std::fs::read_to_string(dir.join(file.path)).expect("file on disk");
        assert_eq!(written, file.contents, "{}", file.path);
    }
}
