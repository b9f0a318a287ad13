//! The engine is generic: it tests a primary-backup register (see
//! `support/register.rs`) as it tests the store, finds the register's
//! planted bug, and replays the failing run exactly from its seed.

#[path = "support/register.rs"]
mod register;

use register::{run, Flavour};

const SEEDS: std::ops::Range<u64> = 0..100;

#[test]
fn the_correct_register_keeps_acknowledged_values_on_every_backup() {
    for seed in SEEDS {
        let (verdict, _) = run(Flavour::Correct, seed, false);
        assert!(
            verdict.violations.is_empty(),
            "seed {seed}: {:?}",
            verdict.violations
        );
        assert!(
            verdict.puts_acked > 20,
            "seed {seed}: the client made progress ({} puts acknowledged)",
            verdict.puts_acked
        );
    }
}

#[test]
fn the_engine_finds_the_early_acknowledgement_and_replays_it_from_its_seed() {
    let (seed, (first, hash)) = SEEDS
        .map(|seed| (seed, run(Flavour::AckOnSend, seed, true)))
        .find(|(_, (verdict, _))| !verdict.violations.is_empty())
        .expect("some seed catches a put_ok sent before the backups hold the value");
    assert!(
        first.violations[0].contains("acknowledged at seq"),
        "{:?}",
        first.violations
    );
    // The same seed is the same run: same events, same findings.
    let (again, hash_again) = run(Flavour::AckOnSend, seed, true);
    assert_eq!(again, first);
    assert_eq!(hash_again, hash);
    assert!(hash.is_some());
    // And the correct protocol passes that very schedule.
    assert!(run(Flavour::Correct, seed, false).0.violations.is_empty());
}
