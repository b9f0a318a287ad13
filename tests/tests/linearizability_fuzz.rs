//! The linearizability checker against brute force: on small random
//! histories of one key (concurrent writes, reads, cas of every outcome,
//! timed-out writes), the checker's verdict must equal that of trying every
//! order by hand. The checker prunes (observers go first, unobserved
//! timed-out writes are counted, not enumerated); this proves the pruning
//! loses nothing.

use proptest::prelude::*;
use ryw_core::{Key, Value};
use ryw_sim::checkers::linearizability::{check_key, HistoryOp, LinOp, Verdict};
use ryw_sim::checkers::read_mapping::{decide, Decided};

/// Whether `ops` have a linearization, trying every order: each step takes
/// any remaining op that no remaining completed op must precede, and the
/// search may stop once every completed op is placed (timed-out ops may
/// never take effect).
fn brute_force(ops: &[HistoryOp], done: &mut Vec<bool>, state: Option<Value>) -> bool {
    let all_completed_placed = ops
        .iter()
        .zip(done.iter())
        .all(|(op, &d)| d || op.returned.is_none());
    if all_completed_placed {
        return true;
    }
    for i in 0..ops.len() {
        if done[i] {
            continue;
        }
        let blocked = ops
            .iter()
            .zip(done.iter())
            .any(|(other, &d)| !d && other.returned.is_some_and(|r| r < ops[i].invoked));
        if blocked {
            continue;
        }
        let next = match (&ops[i].op, &state) {
            (LinOp::Write(v), _) => Some(Some(v.clone())),
            (LinOp::Cas { from, to, .. }, Some(current)) if current == from => {
                Some(Some(to.clone()))
            }
            (
                LinOp::Cas {
                    to,
                    create_if_not_exists: true,
                    ..
                },
                None,
            ) => Some(Some(to.clone())),
            (LinOp::Cas { .. }, _) => None,
            (LinOp::CasMissing, None) => Some(None),
            (LinOp::CasMissing, Some(_)) => None,
            (LinOp::CasDiffers { from }, Some(current)) if current != from => Some(state.clone()),
            (LinOp::CasDiffers { .. }, _) => None,
            (LinOp::Read(seen), _) if *seen == state => Some(state.clone()),
            (LinOp::Read(_), _) => None,
        };
        if let Some(next) = next {
            done[i] = true;
            let found = brute_force(ops, done, next);
            done[i] = false;
            if found {
                return true;
            }
        }
    }
    false
}

fn value() -> impl Strategy<Value = Value> {
    (1i64..=3).prop_map(Value::from)
}

fn lin_op() -> impl Strategy<Value = LinOp> {
    prop_oneof![
        3 => value().prop_map(LinOp::Write),
        3 => prop::option::of(value()).prop_map(LinOp::Read),
        1 => (value(), value(), any::<bool>()).prop_map(|(from, to, create_if_not_exists)| LinOp::Cas { from, to, create_if_not_exists }),
        1 => Just(LinOp::CasMissing),
        1 => value().prop_map(|from| LinOp::CasDiffers { from }),
    ]
}

/// Operation `i` of a generated history: invoked at `start`, completing
/// `length` later unless it is a write or cas and `lost` is 0 (timed out).
/// Times are distinct, as the simulator's event positions are.
fn timed(i: usize, op: LinOp, start: u64, length: u64, lost: u8) -> HistoryOp {
    let invoked = start * 100 + i as u64;
    let may_be_lost = matches!(op, LinOp::Write(_) | LinOp::Cas { .. });
    let returned = (!(may_be_lost && lost == 0)).then_some(invoked + length * 100 + 50);
    HistoryOp {
        session: format!("c{i}"),
        key: Key::Int(0),
        op,
        invoked,
        returned,
    }
}

/// Up to 7 operations with overlapping intervals; some writes timed out.
fn history() -> impl Strategy<Value = Vec<HistoryOp>> {
    prop::collection::vec((lin_op(), 0u64..30, 1u64..15, 0u8..4), 1..8).prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(i, (op, start, length, lost))| timed(i, op, start, length, lost))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ryw_tests::fuzz_config(20_000)
    })]

    #[test]
    fn the_checker_agrees_with_brute_force(ops in history()) {
        let expected = brute_force(&ops, &mut vec![false; ops.len()], None);
        let verdict = match check_key(&ops) {
            Verdict::Linearizable => true,
            Verdict::Violation(_) => false,
            Verdict::Undecided => panic!("seven operations cannot exhaust the budget"),
        };
        prop_assert_eq!(verdict, expected, "{:#?}", ops);
    }
}

/// Up to 8 operations whose writes (and cas targets) each write a value of
/// their own, as the simulator's clients do; reads and cas name any of
/// them, or none.
fn unique_history() -> impl Strategy<Value = Vec<HistoryOp>> {
    let seen = || prop::option::of((0u64..8).prop_map(|k| Value::from(100 + k as i64)));
    let kind = prop_oneof![
        3 => Just(0u8), // write
        3 => Just(1u8), // read
        1 => Just(2u8), // cas
        1 => Just(3u8), // cas refused: missing
        1 => Just(4u8), // cas refused: differs
    ];
    prop::collection::vec(
        (kind, seen(), any::<bool>(), 0u64..30, 1u64..15, 0u8..4),
        1..9,
    )
    .prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(i, (kind, seen, create, start, length, lost))| {
                let own = Value::from(100 + i as i64);
                let op = match kind {
                    0 => LinOp::Write(own),
                    1 => LinOp::Read(seen),
                    2 => LinOp::Cas {
                        from: seen.unwrap_or_else(|| Value::from(100)),
                        to: own,
                        create_if_not_exists: create,
                    },
                    3 => LinOp::CasMissing,
                    _ => LinOp::CasDiffers {
                        from: seen.unwrap_or_else(|| Value::from(100)),
                    },
                };
                timed(i, op, start, length, lost)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ryw_tests::fuzz_config(20_000)
    })]

    /// The read mapping's verdict, wherever it gives one, is brute force's.
    #[test]
    fn the_read_mapping_agrees_with_brute_force(ops in unique_history()) {
        let expected = brute_force(&ops, &mut vec![false; ops.len()], None);
        match decide(&ops) {
            Decided::Linearizable => prop_assert!(expected, "called linearizable: {:#?}", ops),
            Decided::Violation(why) => prop_assert!(!expected, "called a violation ({}): {:#?}", why, ops),
            Decided::Unknown => {}
        }
    }
}
