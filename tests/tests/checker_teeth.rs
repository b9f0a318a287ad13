//! The checkers' own teeth, fast: every committed shrunk case
//! (`sim-scenarios/shrunk/BUG.json`) fails under its planted bug, caught by
//! a checker that counts for that bug, and passes on the real store. A
//! checker that lets a violation pass, or reports one where there is none,
//! fails here within seconds; this is what judges the mutation testing of
//! `crates/sim/src/checkers/` (docs/testing.md).

use ryw_sim::bugs::Bug;
use ryw_sim::shrink::replay_seed;
use ryw_sim::{real_node, run, RunOptions, Scenario};

#[test]
fn every_committed_case_is_caught_under_its_bug_and_passes_without_it() {
    let mut missed = Vec::new();
    for bug in Bug::ALL {
        let path = ryw_tests::scenarios_dir().join(format!("shrunk/{}.json", bug.name()));
        let scenario = Scenario::load(&path).expect("every planted bug has a committed case");
        let seed = replay_seed(&scenario).expect("the description names its seed");
        let buggy = run(&scenario, RunOptions::new(seed, &*bug.factory()));
        if !bug.caught(&buggy) {
            missed.push(format!(
                "{}: not caught ({:?})",
                bug.name(),
                buggy.violations
            ));
        }
        let real = run(&scenario, RunOptions::new(seed, &real_node));
        if !real.violations.is_empty() {
            missed.push(format!(
                "{}: the real store fails: {}",
                bug.name(),
                real.violations[0]
            ));
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}
