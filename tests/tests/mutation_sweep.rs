//! The simulation half of mutation testing: every standard scenario over a
//! block of seeds, as fast as the machine allows, stopping at the first
//! violation. cargo-mutants runs it on every mutant of `crates/core`, after
//! the core's unit tests (see `.cargo/mutants.toml` and docs/testing.md).
//!
//! Built only with `--features mutation-sweep`, so the default `cargo test`
//! stays quick. `RYW_SEEDS=A..B` widens or narrows the block.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use ryw_sim::{real_node, run, RunOptions, Scenario};
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
    // Seed-major order: every scenario's first seeds run before any later seed.
    let runs: Vec<(usize, u64)> = seeds
        .iter()
        .flat_map(|&seed| (0..scenarios.len()).map(move |s| (s, seed)))
        .collect();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_failure: Mutex<Option<(usize, String)>> = Mutex::new(None);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= runs.len() || failed.load(Ordering::Relaxed) {
                    return;
                }
                let (s, seed) = runs[k];
                let (path, scenario) = &scenarios[s];
                let summary = run(scenario, RunOptions::new(seed, &real_node));
                if let Some(violation) = summary.violations.first() {
                    failed.store(true, Ordering::Relaxed);
                    let text = format!("{violation}\n  replay: {}", summary.replay_command(path));
                    let mut first = first_failure
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    // Report the earliest failing run, whichever worker found it.
                    if first.as_ref().is_none_or(|(earliest, _)| k < *earliest) {
                        *first = Some((k, text));
                    }
                }
            });
        }
    });
    let failure = first_failure
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, text)) = failure {
        panic!("{text}");
    }
}
