//! Fuzzing scenario files: random JSON with every number drawn within, at
//! and beyond its bound (negative, huge, fractional, the wrong type), and
//! random faults of every kind aimed at every kind of target. Each file
//! must give either a clear error naming a field, or a run that finishes
//! without a panic (an overflow included), bounded in events and wall time.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use ryw_sim::checkers::Property;
use ryw_sim::{real_node, run, RunOptions, Scenario};
use serde_json::{json, Map, Value};

/// Most events one fuzzed run may take.
const EVENTS_MAX: u64 = 100_000;
/// Most wall time one fuzzed run may take, even on a slow machine.
const WALL_MAX: Duration = Duration::from_secs(20);

/// A number for a field bounded to `max`: small, at the bound, beyond it,
/// or not a count at all.
fn number(max: u64) -> impl Strategy<Value = Value> {
    // Mostly valid, so that most files run; every way to be wrong is drawn
    // now and then (about 2% of fields).
    prop_oneof![
        360 => (0..=max.min(2_000)).prop_map(Value::from),
        40 => Just(Value::from(max)),
        1 => Just(Value::from(max.saturating_add(1))),
        1 => Just(Value::from(u64::MAX)),
        1 => Just(json!(-1)),
        1 => Just(json!(1e300)),
        1 => Just(json!(0.5)),
        1 => Just(json!("12")),
        1 => Just(Value::Null),
    ]
}

fn probability() -> impl Strategy<Value = Value> {
    prop_oneof![
        100 => (0u32..=30).prop_map(|p| json!(f64::from(p) / 100.0)),
        1 => Just(json!(1.0)),
        1 => Just(json!(1.5)),
        1 => Just(json!(-0.1)),
        1 => Just(json!(1e300)),
    ]
}

fn node_name() -> impl Strategy<Value = Value> {
    prop_oneof![
        30 => (1u32..=3).prop_map(|k| json!(format!("n{k}"))),
        20 => prop::sample::select(vec![
            "leader", "old_leader", "follower", "followers_but_one", "longest_log", "majority",
        ]).prop_map(Value::from),
        1 => prop::sample::select(vec!["n0", "n01", "n+1", "", "N1", "n99"]).prop_map(Value::from),
    ]
}

fn fault() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![
        40 => prop::sample::select(vec![
            "isolate", "one_way", "split", "ring", "lag", "pause", "crash", "link", "client_link",
        ]),
        1 => Just("melt"),
    ];
    (
        kind,
        number(20_000),
        prop_oneof![3 => number(20_000), 1 => Just(json!("never"))],
        node_name(),
        prop::collection::vec(node_name(), 0..3),
        prop::collection::vec(node_name(), 0..3),
        number(5_000),
        probability(),
        prop::option::of(Just("leader_elected")),
        number(500),
    )
        .prop_map(
            |(kind, at, until, node, from, to, extra, loss, when, after)| {
                let mut f = json!({"at_ms": at, "until_ms": until, "kind": kind});
                let o = f.as_object_mut().expect("an object");
                match kind {
                    "isolate" | "pause" | "crash" => {
                        o.insert("node".into(), node);
                    }
                    "lag" => {
                        o.insert("node".into(), node);
                        o.insert("extra_ms".into(), extra);
                    }
                    "client_link" => {
                        o.insert("node".into(), node);
                        o.insert("loss".into(), loss);
                        o.insert("extra_ms".into(), extra);
                    }
                    "one_way" | "link" => {
                        o.insert("from".into(), Value::from(from));
                        o.insert("to".into(), Value::from(to));
                        if kind == "link" {
                            o.insert("loss".into(), loss);
                        }
                    }
                    "split" => {
                        o.insert("groups".into(), json!([from, to]));
                    }
                    _ => {}
                }
                if let Some(when) = when {
                    o.insert("when".into(), json!(when));
                    o.insert("after_ms".into(), after);
                }
                f
            },
        )
}

fn scenario() -> impl Strategy<Value = Value> {
    (
        (number(9).prop_map(|n| if n.as_u64() == Some(0) { json!(3) } else { n }), number(8_000), number(30), number(60), probability(), probability()),
        (number(64), number(20), number(50), number(3_000), number(400), number(300)),
        prop::collection::vec(fault(), 0..6),
        prop::collection::vec(any::<bool>(), 12),
    )
        .prop_map(|(a, b, faults, keep)| {
            let (nodes, duration, delay_min, delay_max, loss, duplicate) = a;
            let (sessions, keys, think, client_timeout, apply_delay, wait) = b;
            let mut top = Map::new();
            top.insert("name".into(), json!("fuzz"));
            top.insert("nodes".into(), nodes);
            top.insert("duration_ms".into(), duration);
            let mut fields = [
                ("network", json!({"delay_ms_min": delay_min, "delay_ms_max": delay_max, "loss": loss, "duplicate": duplicate})),
                ("workload", json!({"sessions": sessions, "keys": keys, "think_ms_max": think, "client_timeout_ms": client_timeout})),
                ("node", json!({"apply_delay_ms": apply_delay, "ryw_wait_ms_max": wait})),
                ("faults", Value::from(faults)),
                ("expect", json!({"liveness": false})),
            ]
            .into_iter();
            // Leave out some sections, and some of their fields.
            for (i, (name, mut value)) in fields.by_ref().enumerate() {
                if !keep[i] {
                    continue;
                }
                if let Some(o) = value.as_object_mut() {
                    let names: Vec<String> = o.keys().cloned().collect();
                    for (k, field) in names.iter().enumerate() {
                        if !keep[(i + k + 5) % keep.len()] {
                            o.remove(field);
                        }
                    }
                }
                top.insert(name.into(), value);
            }
            Value::Object(top)
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ryw_tests::fuzz_config(300)
    })]

    #[test]
    fn a_scenario_file_gives_a_clear_error_or_a_bounded_run(text in scenario().prop_map(|v| v.to_string())) {
        match Scenario::parse(&text) {
            Err(why) => {
                prop_assert!(!why.is_empty());
                prop_assert!(
                    why.contains("field '") || why.contains("JSON object") || why.contains("unknown variant") || why.contains("missing field"),
                    "an error names what is wrong: {why}"
                );
            }
            Ok(scenario) => {
                let started = Instant::now();
                let summary = run(
                    &scenario,
                    RunOptions { events_max: EVENTS_MAX, ..RunOptions::new(1, &real_node) },
                );
                prop_assert!(started.elapsed() < WALL_MAX, "{text} took {:?}", started.elapsed());
                let panicked = summary.violations.iter().find(|v| v.checker == Property::Panic);
                prop_assert!(panicked.is_none(), "{text}: {}", panicked.map(|v| v.to_string()).unwrap_or_default());
            }
        }
    }
}
