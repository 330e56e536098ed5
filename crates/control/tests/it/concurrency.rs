//! Two writers on one customer: with an expected revision exactly one wins and the other gets
//! `Conflict` (nothing of the loser is written); without one, sequential edits both apply.

use c15t_control::{Control, ControlError, DestinationPatch};
use c15t_model::RawValue;

use crate::harness::{TestEnv, id, resolver, secrets};

/// Rounds of the race, so that both interleavings (and a truly simultaneous start) get a chance.
const ROUNDS: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_edits_exactly_one_wins() {
    concurrent_edits_exactly_one_wins(&TestEnv::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_edits_exactly_one_wins() {
    concurrent_edits_exactly_one_wins(&TestEnv::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_sequential_edits_without_expected_revision_both_apply() {
    sequential_edits_both_apply(&TestEnv::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_sequential_edits_without_expected_revision_both_apply() {
    sequential_edits_both_apply(&TestEnv::postgres().await).await;
}

async fn concurrent_edits_exactly_one_wins(env: &TestEnv) {
    // Two writers, each with its own connection, as two operators or server replicas would be.
    let alice = env.control().await;
    let bob = env.control().await;
    let cust = id("cust_abc123");
    let values = secrets("race");
    alice
        .import("setup", crate::harness::example(), &resolver(&values))
        .await
        .unwrap();

    for round in 0..ROUNDS {
        let before = alice.customer_show(&cust).await.unwrap();
        let n = before.revision;
        let meta_name = format!("Meta renamed by alice in round {round}");
        let posthog_host = format!("https://r{round}.i.posthog.com");
        let a = {
            let (alice, cust) = (alice.clone(), cust.clone());
            let patch = DestinationPatch {
                name: Some(meta_name.clone()),
                ..DestinationPatch::default()
            };
            tokio::spawn(async move {
                alice
                    .destination_edit("alice", &cust, "meta-prod", patch, Some(n))
                    .await
            })
        };
        let b = {
            let (bob, cust) = (bob.clone(), cust.clone());
            let mut patch = DestinationPatch::default();
            patch
                .set
                .insert("host".to_owned(), RawValue::Text(posthog_host.clone()));
            tokio::spawn(async move {
                bob.destination_edit("bob", &cust, "posthog", patch, Some(n))
                    .await
            })
        };
        let (a, b) = tokio::join!(a, b);
        let (a, b) = (a.unwrap(), b.unwrap());

        let alice_won = match (&a, &b) {
            (
                Ok(r),
                Err(ControlError::Conflict {
                    expected, actual, ..
                }),
            ) => {
                assert_eq!((*r, *expected, *actual), (n + 1, n, n + 1));
                true
            }
            (
                Err(ControlError::Conflict {
                    expected, actual, ..
                }),
                Ok(r),
            ) => {
                assert_eq!((*r, *expected, *actual), (n + 1, n, n + 1));
                false
            }
            other => panic!("round {round}: expected one winner and one conflict, got {other:?}"),
        };

        let after = alice.customer_show(&cust).await.unwrap();
        assert_eq!(after.revision, n + 1, "round {round}");
        let old = |d: &str| before.spec.destinations.iter().find(|x| x.id == d).unwrap();
        let new = |d: &str| after.spec.destinations.iter().find(|x| x.id == d).unwrap();
        if alice_won {
            assert_eq!(new("meta-prod").name, meta_name);
            assert_eq!(new("posthog"), old("posthog"), "bob's change was written");
        } else {
            assert_eq!(
                new("posthog").settings["host"],
                RawValue::Text(posthog_host)
            );
            assert_eq!(
                new("meta-prod"),
                old("meta-prod"),
                "alice's change was written"
            );
        }
        // Everything else is as before, and only the winner is in the audit log.
        assert_eq!(new("ga4-prod"), old("ga4-prod"));
        let audit = alice.audit(Some(&cust), 1).await.unwrap();
        assert_eq!(audit[0].actor, if alice_won { "alice" } else { "bob" });
    }
    let updates = alice.audit(Some(&cust), 100).await.unwrap();
    let updates = updates
        .iter()
        .filter(|e| e.action == "destination.update")
        .count();
    assert_eq!(
        updates, ROUNDS,
        "one audit entry per round: the loser's is not written"
    );
}

async fn sequential_edits_both_apply(env: &TestEnv) {
    let first: Control = env.control().await;
    let second = env.control().await;
    let cust = id("cust_abc123");
    let values = secrets("seq");
    first
        .import("setup", crate::harness::example(), &resolver(&values))
        .await
        .unwrap();
    let n = first.customer_show(&cust).await.unwrap().revision;

    let rename = DestinationPatch {
        name: Some("Renamed".to_owned()),
        ..DestinationPatch::default()
    };
    let r1 = first
        .destination_edit("alice", &cust, "meta-prod", rename, None)
        .await
        .unwrap();
    let disable = DestinationPatch {
        enabled: Some(false),
        ..DestinationPatch::default()
    };
    // `second` never saw revision n + 1: without an expected revision it edits the latest.
    let r2 = second
        .destination_edit("bob", &cust, "posthog", disable, None)
        .await
        .unwrap();
    assert_eq!((r1, r2), (n + 1, n + 2));

    let after = second.customer_show(&cust).await.unwrap();
    assert_eq!(after.revision, n + 2);
    let get = |d: &str| after.spec.destinations.iter().find(|x| x.id == d).unwrap();
    assert_eq!(get("meta-prod").name, "Renamed", "the first edit was lost");
    assert!(!get("posthog").enabled, "the second edit was lost");
}
