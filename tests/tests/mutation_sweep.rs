//! The simulation half of mutation testing: every standard scenario over a
//! block of seeds, as fast as the machine allows, stopping at the first
//! violation. cargo-mutants runs it on every mutant of `crates/core`, after
//! the core's unit tests (see `.cargo/mutants.toml` and docs/testing.md).
//!
//! Built only with `--features mutation-sweep`, so the default `cargo test`
//! stays quick. `RYW_SEEDS=A..B` widens or narrows the block.

use std::sync::Mutex;

use ryw_sim::sweep::{sweep, Plan, SeedRange, Shard, JOBS_MAX};
use ryw_sim::{real_node, Scenario};
use ryw_tests::{disk_scenario_files, display_path, scenario_files, scenarios_dir, seeds};

/// Seeds per scenario: 13 scenarios x 150 seeds take 12 s on 2 cores in the
/// `mutants` profile (measured; see docs/testing.md).
const SEEDS_DEFAULT: std::ops::Range<u64> = 0..150;

#[test]
fn every_standard_scenario_passes_on_a_block_of_seeds() {
    // The standard scenarios, the one that makes apply lag commit (the
    // others apply in the step that commits), and the disk-fault ones.
    let mut files = scenario_files();
    files.push(scenarios_dir().join("real-bugs/tidb-43583-apply-lag.json"));
    // The disk-fault scenarios: the only ones whose fsyncs take time, so
    // the only judges of the persistence contract's timing.
    files.extend(disk_scenario_files());
    let scenarios: Vec<(String, Scenario)> = files
        .iter()
        .map(|p| (display_path(p), Scenario::load(p).expect("scenario parses")))
        .collect();
    let seeds = seeds(SEEDS_DEFAULT);
    let (first, last) = (seeds[0], seeds[seeds.len() - 1]);
    assert_eq!(last - first + 1, seeds.len() as u64, "a contiguous block");
    // The crate's sweep: seed-major order (every scenario's first seeds run
    // before any later seed), results in that order, stopping at the first
    // violation.
    let plan = Plan {
        scenarios,
        seeds: SeedRange {
            first,
            end: last + 1,
        },
        shard: Shard::WHOLE,
    };
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get().min(JOBS_MAX));
    let failure: Mutex<Option<String>> = Mutex::new(None);
    let _ = sweep(&plan, &real_node, jobs, &|done| {
        let Some(violation) = done.result.violations.first() else {
            return true;
        };
        let text = format!(
            "{violation}\n  replay: {}",
            done.result.replay_command(done.path)
        );
        *failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(text);
        false
    });
    let failure = failure
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(text) = failure {
        panic!("{text}");
    }
}
