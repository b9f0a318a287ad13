//! Scenarios modelled on real bugs (`sim-scenarios/real-bugs/`, and Raft's
//! Figure 8): the real store passes each, and where a planted bug makes the
//! same mistake, the scenario catches it within its first few seeds.
//!
//! `RYW_SEEDS=0..1000 cargo test --release --test real_bugs` runs the long
//! sweep docs/scenarios.md reports.

use ryw_sim::bugs::Bug;
use ryw_sim::{real_node, run, RunOptions, Scenario};
use ryw_tests::{scenarios_dir, seeds};

/// Each real-bug scenario and the planted bug of its kind, if any.
const CASES: [(&str, Option<&str>); 7] = [
    (
        "real-bugs/etcd-741-deposed-leader-reads.json",
        Some("stale-leader-read"),
    ),
    (
        "real-bugs/etcd-7331-new-leader-reads.json",
        Some("stale-leader-read"),
    ),
    (
        "real-bugs/tidb-43583-apply-lag.json",
        Some("serve-by-commit-index"),
    ),
    ("real-bugs/etcd-20418-pauses-duplication.json", None),
    ("figure-8.json", Some("commit-by-count-from-old-term")),
    (
        "real-bugs/redis-raft-19-paused-leader.json",
        Some("stale-leader-read"),
    ),
    (
        "real-bugs/flapping-partition.json",
        Some("ack-before-commit"),
    ),
];

/// "Within a few seeds": the planted bug must show by this many.
const CATCH_SEEDS: u64 = 10;

fn load(file: &str) -> Scenario {
    Scenario::load(&scenarios_dir().join(file)).expect("a real-bug scenario parses")
}

#[test]
fn every_real_bug_scenario_is_listed_here() {
    let listed: Vec<&str> = CASES.iter().map(|(file, _)| *file).collect();
    for entry in std::fs::read_dir(scenarios_dir().join("real-bugs")).expect("the folder exists") {
        let name = entry
            .expect("readable")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let file = format!("real-bugs/{name}");
        assert!(listed.contains(&file.as_str()), "{file} has no case here");
    }
}

#[test]
fn the_real_store_passes_every_real_bug_scenario() {
    for (file, _) in CASES {
        let scenario = load(file);
        for seed in seeds(0..30) {
            let summary = run(&scenario, RunOptions::new(seed, &real_node));
            assert!(
                summary.passed(false),
                "{file} seed {seed}: {:?} ({} keys undecided); replay: ryw-sim run sim-scenarios/{file} --seed {seed}",
                summary.violations.first().map(|v| v.to_string()),
                summary.linearizability_undecided_keys
            );
        }
    }
}

#[test]
fn each_scenario_catches_the_planted_bug_of_its_kind_within_a_few_seeds() {
    for (file, bug) in CASES {
        let Some(bug) = bug else { continue };
        let bug = Bug::parse(bug).expect("a planted bug");
        let scenario = load(file);
        let factory = bug.factory();
        let first = (0..CATCH_SEEDS)
            .find(|&seed| bug.caught(&run(&scenario, RunOptions::new(seed, &*factory))));
        assert!(
            first.is_some(),
            "{file} does not catch {} in seeds 0..{CATCH_SEEDS}",
            bug.name()
        );
    }
}
