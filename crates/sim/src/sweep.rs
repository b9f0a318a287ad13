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
