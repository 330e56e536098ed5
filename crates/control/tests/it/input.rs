//! Issue 19 on both backends: control characters are invalid input (never a database error),
//! edits without a revision all apply under concurrency (a bounded retry of the
//! read-modify-write), and a change of nothing writes nothing.

use c15t_control::{ControlError, CustomerPatch, DestinationPatch};
use c15t_model::{RawValue, Strategy};

use crate::harness::{TestEnv, id, resolver, secrets};

#[tokio::test]
async fn sqlite_control_characters_are_invalid() {
    control_characters_are_invalid(&TestEnv::sqlite()).await;
}

#[tokio::test]
async fn postgres_control_characters_are_invalid() {
    control_characters_are_invalid(&TestEnv::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_parallel_edits_without_a_revision_all_apply() {
    parallel_edits_without_a_revision_all_apply(&TestEnv::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_parallel_edits_without_a_revision_all_apply() {
    parallel_edits_without_a_revision_all_apply(&TestEnv::postgres().await).await;
}

#[tokio::test]
async fn sqlite_a_change_of_nothing_writes_nothing() {
    a_change_of_nothing_writes_nothing(&TestEnv::sqlite()).await;
}

#[tokio::test]
async fn postgres_a_change_of_nothing_writes_nothing() {
    a_change_of_nothing_writes_nothing(&TestEnv::postgres().await).await;
}

fn invalid_paths(result: Result<u64, ControlError>) -> Vec<String> {
    match result {
        Err(ControlError::Invalid(errors)) => {
            for p in errors.problems() {
                assert!(p.message.contains("control character"), "{p}");
            }
            errors.problems().iter().map(|p| p.path.clone()).collect()
        }
        other => panic!("expected invalid input, got {other:?}"),
    }
}

async fn control_characters_are_invalid(env: &TestEnv) {
    let control = env.control().await;
    let values = secrets("nul");
    control
        .import("setup", crate::harness::example(), &resolver(&values))
        .await
        .unwrap();
    let cust = id("cust_abc123");
    let before = control.customer_show(&cust).await.unwrap().revision;

    let mut spec = crate::harness::example();
    spec.id = "cust_nul".to_owned();
    spec.name = "Nul\0Customer".to_owned();
    spec.destinations.clear();
    let added = control
        .customer_add("test", spec, c15t_control::Secret::new("t".to_owned()))
        .await;
    assert_eq!(invalid_paths(added), ["name"]);
    assert!(control.customer_show(&id("cust_nul")).await.is_err());

    for name in ["Meta\0", "Meta\u{1b}[2J", "Line\nbreak", "\u{85}"] {
        let edited = control
            .destination_edit(
                "test",
                &cust,
                "meta-prod",
                DestinationPatch {
                    name: Some(name.to_owned()),
                    ..DestinationPatch::default()
                },
                None,
            )
            .await;
        let paths = invalid_paths(edited);
        assert_eq!(paths.len(), 1, "{paths:?}");
        assert!(paths[0].ends_with(".name"), "{paths:?}");
    }
    let mut set = std::collections::BTreeMap::new();
    set.insert(
        "host".to_owned(),
        RawValue::Text("https://eu.posthog.com/\0".to_owned()),
    );
    let edited = control
        .destination_edit(
            "test",
            &cust,
            "posthog",
            DestinationPatch {
                set,
                ..DestinationPatch::default()
            },
            None,
        )
        .await;
    assert!(
        matches!(edited, Err(ControlError::Invalid(_))),
        "{edited:?}"
    );
    let edited = control
        .customer_edit(
            "test",
            &cust,
            CustomerPatch {
                name: Some("\0".to_owned()),
                ..CustomerPatch::default()
            },
            None,
        )
        .await;
    assert_eq!(invalid_paths(edited), ["name"]);
    assert_eq!(control.customer_show(&cust).await.unwrap().revision, before);
}

async fn parallel_edits_without_a_revision_all_apply(env: &TestEnv) {
    let first = env.control().await;
    let values = secrets("par");
    first
        .import("setup", crate::harness::example(), &resolver(&values))
        .await
        .unwrap();
    let cust = id("cust_abc123");
    let before = first.customer_show(&cust).await.unwrap().revision;
    let audit = first.audit(Some(&cust), 1000).await.unwrap().len();
    // Two controls (two pools), as two replicas would be.
    let second = env.control().await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let control = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let cust = cust.clone();
        tasks.push(tokio::spawn(async move {
            let (destination, patch) = if i % 3 == 0 {
                let mut set = std::collections::BTreeMap::new();
                set.insert(
                    "host".to_owned(),
                    RawValue::Text(format!("https://p{i}.i.posthog.com")),
                );
                (
                    "posthog",
                    DestinationPatch {
                        set,
                        ..DestinationPatch::default()
                    },
                )
            } else {
                (
                    "meta-prod",
                    DestinationPatch {
                        name: Some(format!("Meta {i}")),
                        ..DestinationPatch::default()
                    },
                )
            };
            control
                .destination_edit("test", &cust, destination, patch, None)
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let after = first.customer_show(&cust).await.unwrap().revision;
    assert_eq!(after, before + 20);
    assert_eq!(
        first.audit(Some(&cust), 1000).await.unwrap().len(),
        audit + 20
    );
    // With a stale revision, still a conflict.
    let stale = first
        .destination_edit(
            "test",
            &cust,
            "meta-prod",
            DestinationPatch {
                name: Some("Late".to_owned()),
                ..DestinationPatch::default()
            },
            Some(before),
        )
        .await;
    assert!(
        matches!(stale, Err(ControlError::Conflict { .. })),
        "{stale:?}"
    );
    assert_eq!(first.customer_show(&cust).await.unwrap().revision, after);
}

async fn a_change_of_nothing_writes_nothing(env: &TestEnv) {
    let control = env.control().await;
    let values = secrets("noop");
    control
        .import("setup", crate::harness::example(), &resolver(&values))
        .await
        .unwrap();
    let cust = id("cust_abc123");
    control
        .strategy_set("test", &cust, Strategy::Automatic)
        .await
        .unwrap();
    let before = control.customer_show(&cust).await.unwrap().revision;
    let audit = control.audit(Some(&cust), 1000).await.unwrap().len();
    let jobs = control.job_counts().await.unwrap();
    let unchanged = [
        DestinationPatch::default(),
        DestinationPatch {
            unset: vec!["noSuchKey".to_owned()],
            ..DestinationPatch::default()
        },
        DestinationPatch {
            enabled: Some(true),
            ..DestinationPatch::default()
        },
    ];
    for patch in unchanged {
        let revision = control
            .destination_edit("test", &cust, "meta-prod", patch, None)
            .await
            .unwrap();
        assert_eq!(revision, before);
    }
    let revision = control
        .customer_edit("test", &cust, CustomerPatch::default(), Some(before))
        .await
        .unwrap();
    assert_eq!(revision, before);
    assert_eq!(control.customer_show(&cust).await.unwrap().revision, before);
    assert_eq!(control.audit(Some(&cust), 1000).await.unwrap().len(), audit);
    assert_eq!(control.job_counts().await.unwrap(), jobs);
    let stale = control
        .customer_edit("test", &cust, CustomerPatch::default(), Some(before + 5))
        .await;
    assert!(
        matches!(stale, Err(ControlError::Conflict { .. })),
        "{stale:?}"
    );
}
