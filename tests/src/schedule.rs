//! Whole runs as data, for proptest: node count, network, a timed list of
//! faults and the workload. Everything shrinks toward a small, quiet run:
//! fewer faults, fewer sessions, a shorter run, a gentler network.

use proptest::prelude::*;
use ryw_sim::scenario::{Expect, Fault, FaultKind, Mix, Network, NodeSettings, Workload};
use ryw_sim::Scenario;

/// A node name for a cluster of `nodes`: `leader` or one of n1..nN.
fn name(pick: u8, nodes: usize) -> String {
    if pick == 0 {
        "leader".into()
    } else {
        format!("n{}", usize::from(pick - 1) % nodes + 1)
    }
}

#[derive(Clone, Debug)]
enum Shape {
    Isolate(u8),
    OneWay(u8, u8),
    Split(u8),
    Ring,
    Lag(u8, u64),
    Pause(u8),
    Crash(u8),
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        any::<u8>().prop_map(Shape::Isolate),
        (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Shape::OneWay(a, b)),
        any::<u8>().prop_map(Shape::Split),
        Just(Shape::Ring),
        (any::<u8>(), 10u64..800).prop_map(|(a, ms)| Shape::Lag(a, ms)),
        any::<u8>().prop_map(Shape::Pause),
        any::<u8>().prop_map(Shape::Crash),
    ]
}

fn fault(nodes: usize, shape: Shape, at_ms: u64, length_ms: u64) -> Fault {
    let n = |pick: u8| name(pick % 8, nodes);
    let kind = match shape {
        Shape::Isolate(a) => FaultKind::Isolate { node: n(a) },
        Shape::OneWay(a, b) => {
            let (from, to) = (n(a), n(b));
            // A cut from a node to itself is refused in scenario files.
            let to = if to == from { "leader".into() } else { to };
            FaultKind::OneWay {
                from: vec![from],
                to: vec![to],
            }
        }
        Shape::Split(a) => FaultKind::Split {
            minority_with: Some(n(a)),
            groups: Vec::new(),
        },
        Shape::Ring => FaultKind::Ring,
        Shape::Lag(a, extra_ms) => FaultKind::Lag {
            node: n(a),
            extra_ms,
            spare_clients: false,
        },
        Shape::Pause(a) => FaultKind::Pause { node: n(a) },
        Shape::Crash(a) => FaultKind::Crash {
            node: n(a),
            unsynced: Default::default(),
        },
    };
    Fault::timed(at_ms, at_ms + length_ms, kind)
}

/// A scenario and the seed to run it with.
pub fn run_strategy() -> impl Strategy<Value = (Scenario, u64)> {
    let nodes = prop_oneof![Just(3usize), Just(5), Just(7)];
    let network = (0u64..5, 0u64..20, 0u64..20, 0u32..15, 0u32..8);
    let faults = prop::collection::vec((shape(), 0u64..4_000, 10u64..2_500), 0..8);
    let workload = (1usize..8, 1usize..4, any::<bool>(), any::<bool>());
    let duration_ms = 1_000u64..5_000;
    (nodes, network, faults, workload, duration_ms, any::<u64>()).prop_map(
        |(
            nodes,
            (delay_min, delay_spread, tail, loss, dup),
            faults,
            (sessions, keys, sticky, monotonic),
            duration_ms,
            seed,
        )| {
            let scenario = Scenario {
                name: "fuzzed".into(),
                description: "A schedule drawn by proptest".into(),
                nodes,
                duration_ms,
                network: Network {
                    delay_ms_min: delay_min,
                    delay_ms_max: delay_min + delay_spread,
                    delay_tail_ms_mean: tail as f64,
                    loss: f64::from(loss) / 100.0,
                    duplicate: f64::from(dup) / 100.0,
                },
                node: NodeSettings::default(),
                disk: Default::default(),
                faults: faults
                    .into_iter()
                    .map(|(shape, at_ms, length_ms)| {
                        fault(nodes, shape, at_ms.min(duration_ms), length_ms)
                    })
                    // A ring of 3 nodes or a split of 2 cuts nothing: files refuse them.
                    .filter(|f| !ryw_sim::engine::faults::cuts_nothing(&f.kind, nodes))
                    .collect(),
                workload: Workload {
                    sessions,
                    keys,
                    sticky,
                    monotonic,
                    mix: Mix::default(),
                    ..Workload::default()
                },
                expect: Expect {
                    liveness_ms: 5_000,
                    ..Expect::default()
                },
                swarm: false,
                swarm_ranges: Default::default(),
            };
            (scenario, seed)
        },
    )
}

/// How big a schedule is, for "shrinks to a handful of events".
pub fn events(scenario: &Scenario) -> usize {
    scenario.faults.len()
}
