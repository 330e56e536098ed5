//! Opening a customer's vault (5 destinations x 3 secret fields), the unit of the fleet
//! benchmark: 10,000 customers must open in well under a second on 2 cores.

use std::hint::black_box;

use c15t_secrets::{Keyring, Secret, Vault};
use criterion::{Criterion, criterion_group, criterion_main};

fn vault() -> Vault {
    let mut vault = Vault::new();
    for destination in 0..5 {
        for field in ["accessToken", "apiSecret", "testEventCode"] {
            vault.insert(
                format!("destination/dest-{destination}/{field}"),
                Secret::new(format!("{field}-{destination}-{}", "x".repeat(120))),
            );
        }
    }
    assert_eq!(vault.len(), 15);
    vault
}

fn bench(c: &mut Criterion) {
    let vault = vault();
    let keyring = Keyring::generate();
    let sealed = keyring.seal(&vault).expect("seal");

    c.bench_function("open/15_secrets", |b| {
        b.iter(|| keyring.open(black_box(&sealed)).expect("open"));
    });

    // Mid-rotation worst case: the vault is still sealed to the old key, so the new primary is
    // tried first and fails (one extra X25519 operation).
    let mut rotating = keyring.clone();
    rotating.begin_rotation();
    c.bench_function("open/15_secrets/rotating_old_key", |b| {
        b.iter(|| rotating.open(black_box(&sealed)).expect("open"));
    });

    c.bench_function("sealed_to_primary", |b| {
        b.iter(|| {
            rotating
                .sealed_to_primary(black_box(&sealed))
                .expect("check")
        });
    });

    c.bench_function("seal/15_secrets", |b| {
        b.iter(|| keyring.seal(black_box(&vault)).expect("seal"));
    });

    let value = Secret::from("EAAB-an-access-token-of-typical-length-0123456789");
    c.bench_function("fingerprint", |b| {
        b.iter(|| keyring.fingerprint(black_box(&value)));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
