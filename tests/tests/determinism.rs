//! The same scenario and seed give byte-identical traces and identical
//! summaries (wall-clock figures aside), run to run and thread to thread.

use ryw_sim::{real_node, run, RunOptions, Scenario, Summary};
use ryw_tests::{disk_scenario_files, scenario_files, seeds};

fn traced(scenario: &Scenario, seed: u64) -> Summary {
    let mut summary = run(
        scenario,
        RunOptions {
            hash_trace: true,
            ..RunOptions::new(seed, &real_node)
        },
    );
    summary.wall_ms = 0;
    summary.delivered_per_s = 0;
    summary
}

fn same(a: &Summary, b: &Summary) -> bool {
    serde_json::to_string(a).ok() == serde_json::to_string(b).ok()
}

#[test]
fn every_scenario_replays_byte_for_byte_from_its_seed() {
    for path in scenario_files().into_iter().chain(disk_scenario_files()) {
        let scenario = Scenario::load(&path).expect("parses");
        for seed in seeds(0..3) {
            let first = traced(&scenario, seed);
            let second = traced(&scenario, seed);
            assert!(first.trace_hash.is_some());
            assert!(
                same(&first, &second),
                "{} seed {seed} differs between runs",
                scenario.name
            );
        }
    }
}

#[test]
fn different_seeds_give_different_runs() {
    let path = ryw_tests::scenarios_dir().join("swarm.json");
    let scenario = Scenario::load(&path).expect("parses");
    assert_ne!(
        traced(&scenario, 1).trace_hash,
        traced(&scenario, 2).trace_hash
    );
}

#[test]
fn runs_on_other_threads_give_the_same_trace() {
    let files = scenario_files();
    let here: Vec<Summary> = files
        .iter()
        .map(|p| traced(&Scenario::load(p).expect("parses"), 5))
        .collect();
    let there: Vec<Summary> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .iter()
            .map(|p| scope.spawn(move || traced(&Scenario::load(p).expect("parses"), 5)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("run"))
            .collect()
    });
    for (a, b) in here.iter().zip(&there) {
        assert!(same(a, b), "{} differs across threads", a.scenario);
    }
}
