//! Many runs of the store: the engine's sweep (streamed seed ranges,
//! shards, threads, results in seed order) over scenario files.

pub use sim_engine::sweep::{SeedRange, Shard, Stopped, JOBS_MAX};

use crate::node::NodeFactory;
use crate::report::Summary;
use crate::run::{run, RunOptions};
use crate::scenario::Scenario;

/// Scenario files × seeds.
pub type Plan = sim_engine::sweep::Plan<Scenario>;

/// One finished run, handed over in plan order.
pub type Finished<'a> = sim_engine::sweep::Finished<'a, Summary>;

/// Runs the plan on `jobs` threads with nodes from `factory`; `report`
/// sees every run in plan order and returns `false` to stop early.
pub fn sweep(
    plan: &Plan,
    factory: &NodeFactory,
    jobs: usize,
    report: &(dyn Fn(Finished<'_>) -> bool + Sync),
) -> Result<(), Stopped> {
    let one = |scenario: &Scenario, seed: u64| {
        let mut summary = run(scenario, RunOptions::new(seed, factory));
        // Runs that finish ahead of an earlier one wait in memory: keep
        // them small (latencies are only for benchmarks).
        summary.latencies_ms.clear();
        summary.recording = None;
        summary
    };
    sim_engine::sweep::sweep(plan, jobs, &one, report)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::node::real_node;

    #[test]
    fn store_runs_arrive_in_seed_order_with_their_scenario() {
        let scenario =
            Scenario::parse(r#"{"name": "s", "nodes": 3, "duration_ms": 300}"#).expect("valid");
        let plan = Plan {
            scenarios: vec![("a".into(), scenario.clone()), ("b".into(), scenario)],
            seeds: SeedRange { first: 0, end: 6 },
            shard: Shard::WHOLE,
        };
        let order = Mutex::new(Vec::new());
        sweep(&plan, &real_node, 3, &|f| {
            assert_eq!(f.seed, f.result.seed);
            order
                .lock()
                .expect("lock")
                .push((f.path.to_owned(), f.seed));
            true
        })
        .expect("ran to the end");
        let expected: Vec<(String, u64)> = (0..6)
            .flat_map(|s| [("a".to_owned(), s), ("b".to_owned(), s)])
            .collect();
        assert_eq!(order.into_inner().expect("lock"), expected);
    }
}
