//! Property-based fuzzing of whole schedules, and proof that the checkers
//! catch the planted bugs.
//!
//! All proptest runners here share this file's regression file, so every
//! schedule that ever caught a planted bug is replayed against the real
//! store by `fuzzed_schedules_never_violate_any_checker`, forever.

use std::process::Command;

use proptest::prelude::*;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, TestError, TestRng, TestRunner,
};
use ryw_sim::bugs::Bug;
use ryw_sim::shrink::{find_and_shrink, replay_seed, shrink_bug, SEEDS_PER_SCHEDULE};
use ryw_sim::NodeFactory;
use ryw_sim::{real_node, run, RunOptions, Scenario, Summary};
use ryw_tests::schedule::{events, run_strategy};
use ryw_tests::{disk_scenario_files, display_path, scenario_files, workspace_binary};

/// Standard-scenario seeds within which every planted bug must be caught.
const SEEDS_MAX: u64 = ryw_sim::shrink::CATCH_SEEDS_MAX;
/// "A handful of events": the most faults a shrunk failing schedule may keep.
const SHRUNK_FAULTS_MAX: usize = 3;
/// Candidate schedules one shrink of a scenario's catch may try. Most
/// shrinks reach a local minimum well before it (20-70 candidates); at
/// 120, `vote-ignores-last-term` once stopped at the bound with 3 faults
/// left, on the limit, and got there only after 145.
const SHRINK_CANDIDATES_MAX: usize = 200;

/// The first seed of `seed..seed + SEEDS_PER_SCHEDULE` under which `bug` is caught.
/// (A schedule counts as exposing a bug when any of several consecutive
/// seeds does: one seed makes "still fails without this fault?" close to a
/// coin toss, and shrinking stalls in local minima.)
fn exposing_seed(bug: Bug, scenario: &Scenario, seed: u64) -> Option<u64> {
    Some(shrink_bug(bug, scenario, seed, 0)?.seed)
}

fn simulate(scenario: &Scenario, seed: u64, factory: &NodeFactory) -> Summary {
    run(scenario, RunOptions::new(seed, factory))
}

/// Saves a failing schedule where `ryw-sim run FILE --seed N` can take it.
fn save_case(name: &str, scenario: &Scenario) -> String {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-cases");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{name}.json"));
    let json = serde_json::to_string_pretty(scenario).expect("scenarios serialise");
    let _ = std::fs::write(&path, &json);
    path.display().to_string()
}

/// `base` with shrinking bounded and failures saved to the committed
/// regression file.
fn persistent_config(base: Config) -> Config {
    Config {
        max_shrink_iters: 1_000,
        // Next to this file: tests/tests/schedule_fuzz.proptest-regressions.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        source_file: Some(file!()),
        ..base
    }
}

proptest! {
    #![proptest_config(persistent_config(ryw_tests::fuzz_config(48)))]

    #[test]
    fn fuzzed_schedules_never_violate_any_checker((scenario, seed) in run_strategy()) {
        let summary = simulate(&scenario, seed, &real_node);
        if !summary.violations.is_empty() {
            let file = save_case("real-store-failure", &scenario);
            prop_assert!(
                false,
                "{}\nschedule saved to {file}; replay: ryw-sim run {file} --seed {seed}\n{}",
                summary.violations[0],
                serde_json::to_string_pretty(&scenario).unwrap_or_default()
            );
        }
    }
}

fn caught(bug: Bug, summary: &Summary) -> bool {
    bug.caught(summary)
}

fn standard_scenarios() -> Vec<(String, Scenario)> {
    load(scenario_files())
}

/// The standard scenarios, then the disk-fault scenarios.
fn standard_and_disk_scenarios() -> Vec<(String, Scenario)> {
    load(
        scenario_files()
            .into_iter()
            .chain(disk_scenario_files())
            .collect(),
    )
}

fn load(files: Vec<std::path::PathBuf>) -> Vec<(String, Scenario)> {
    files
        .iter()
        .map(|p| (display_path(p), Scenario::load(p).expect("parses")))
        .collect()
}

/// 1. A sweep of the standard scenarios catches `bug` within the bound, and
/// 2. the printed replay command reproduces exactly that run.
fn assert_caught_and_replayed(bug: Bug) -> (Vec<(String, Scenario)>, usize, Summary) {
    assert_caught_and_replayed_in(bug, standard_scenarios())
}

fn assert_caught_and_replayed_in(
    bug: Bug,
    scenarios: Vec<(String, Scenario)>,
) -> (Vec<(String, Scenario)>, usize, Summary) {
    let (k, summary) = bug
        .first_catch(&scenarios, 0..SEEDS_MAX)
        .unwrap_or_else(|| panic!("{} escaped {SEEDS_MAX} seeds of every scenario", bug.name()));
    let path = scenarios[k].0.clone();
    let seed = summary.seed;
    let violation = summary
        .violations
        .iter()
        .find(|v| bug.caught_by().contains(&v.checker))
        .expect("caught");
    println!(
        "{}: caught by {} at seed {seed}, so after {} seeds ({path}): {violation}",
        bug.name(),
        violation.checker,
        seed + 1,
    );

    // 2. The printed replay command reproduces it.
    let command = {
        let mut s = summary.clone();
        s.bug = Some(bug.name().into());
        s.replay_command(&path)
    };
    let args: Vec<&str> = command.split_whitespace().skip(1).collect();
    let out = Command::new(workspace_binary("ryw-sim"))
        .args(&args)
        .arg("--json")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("ryw-sim runs");
    assert_eq!(out.status.code(), Some(1), "`{command}` exits 1");
    let replayed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    assert_eq!(
        replayed["violations"],
        serde_json::to_value(&summary.violations).expect("serialises"),
        "`{command}` reproduces the same violations"
    );
    (scenarios, k, summary)
}

fn assert_teeth(bug: Bug) {
    assert_caught_and_replayed(bug);

    // 3. proptest finds a failing schedule and shrinks it to a handful of events.
    let factory = bug.factory();
    // A fixed count: how many cases it takes to find each bug is part of
    // what the test pins, so PROPTEST_CASES does not change it.
    let config = persistent_config(Config {
        cases: 300,
        ..Config::default()
    });
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let result = runner.run(&run_strategy(), |(scenario, seed)| {
        prop_assert!(exposing_seed(bug, &scenario, seed).is_none());
        Ok(())
    });
    let (minimal, first_seed) = match result {
        Err(TestError::Fail(_, case)) => case,
        other => panic!(
            "proptest found no schedule exposing {}: {other:?}",
            bug.name()
        ),
    };
    let proptest_seed = exposing_seed(bug, &minimal, first_seed)
        .expect("the minimal schedule still fails under one of its seeds");
    // proptest shrinks one value at a time and can stall where two faults
    // must go together; the deterministic reducer continues from there, so
    // the bound below does not hang on the store's exact timing.
    let (minimal, minimal_seed) = match shrink_bug(bug, &minimal, proptest_seed, 120) {
        Some(shrunk) if events(&shrunk.scenario) < events(&minimal) => {
            (shrunk.scenario, shrunk.seed)
        }
        _ => (minimal, proptest_seed),
    };
    let file = save_case(bug.name(), &minimal);
    println!(
        "{}: shrunk to {} faults, {} sessions, {} ms; replay: ryw-sim run {file} --seed {minimal_seed} --bug {}\n{}",
        bug.name(),
        events(&minimal),
        minimal.workload.sessions,
        minimal.duration_ms,
        bug.name(),
        serde_json::to_string_pretty(&minimal).unwrap_or_default()
    );
    assert!(
        events(&minimal) <= SHRUNK_FAULTS_MAX,
        "shrunk schedule still has {} faults",
        events(&minimal)
    );
    let again = simulate(&minimal, minimal_seed, &*factory);
    assert!(
        caught(bug, &again),
        "the shrunk schedule replays the failure"
    );
    let reparsed = Scenario::parse(&serde_json::to_string(&minimal).expect("serialises"))
        .expect("the shrunk schedule is a valid scenario file");
    assert!(caught(bug, &simulate(&reparsed, minimal_seed, &*factory)));
}

#[test]
fn skip_token_check_is_caught_replayed_and_shrunk() {
    assert_teeth(Bug::SkipTokenCheck);
}

#[test]
fn read_uncommitted_is_caught_replayed_and_shrunk() {
    assert_teeth(Bug::ReadUncommitted);
}

#[test]
fn ack_before_commit_is_caught_replayed_and_shrunk() {
    assert_teeth(Bug::AckBeforeCommit);
}

#[test]
fn stale_leader_read_is_caught_replayed_and_shrunk() {
    assert_teeth(Bug::StaleLeaderRead);
}

#[test]
fn serve_stale_after_wait_is_caught_replayed_and_shrunk() {
    assert_teeth(Bug::ServeStaleAfterWait);
}

/// Bugs that only an election's timing exposes: proptest's timed schedules
/// rarely reach them, so the standard scenario that caught the bug is shrunk
/// directly, each candidate tried under several seeds.
fn assert_teeth_by_scenario_shrinking(bug: Bug) {
    assert_teeth_by_shrinking_one_of(bug, standard_scenarios());
}

fn assert_teeth_by_shrinking_one_of(bug: Bug, scenarios: Vec<(String, Scenario)>) {
    let (scenarios, _, _) = assert_caught_and_replayed_in(bug, scenarios);
    let factory = bug.factory();
    let case = find_and_shrink(bug, &scenarios, SHRINK_CANDIDATES_MAX, SHRUNK_FAULTS_MAX)
        .expect("a catch fails under its own seed");
    let shrunk = &case.shrunk;
    let original = &scenarios
        .iter()
        .find(|(path, _)| *path == case.found_in)
        .expect("shrunk from a swept scenario")
        .1;
    let file = save_case(bug.name(), &shrunk.scenario);
    println!(
        "{}: shrunk from {} seed {} ({} faults) to {} faults after {} candidates; replay: ryw-sim run {file} --seed {} --bug {}",
        bug.name(),
        case.found_in,
        case.found_seed,
        original.faults.len(),
        events(&shrunk.scenario),
        shrunk.candidates_tried,
        shrunk.seed,
        bug.name()
    );
    assert!(
        events(&shrunk.scenario) <= SHRUNK_FAULTS_MAX,
        "shrunk schedule still has {} faults",
        events(&shrunk.scenario)
    );
    // Shrinking removes faults whenever the schedule it starts from has
    // more than the bound; one caught in a staged scenario already that
    // small (`wiped-voter.json`'s three) may have none to spare.
    assert!(
        events(&shrunk.scenario) < original.faults.len()
            || original.faults.len() <= SHRUNK_FAULTS_MAX,
        "{} faults shrunk to {}",
        original.faults.len(),
        events(&shrunk.scenario)
    );
    assert!(caught(
        bug,
        &simulate(&shrunk.scenario, shrunk.seed, &*factory)
    ));
}

// A read at a new leader confirmed by the acknowledgements of a round sent
// before it arrived: only a scenario where those acknowledgements are slower
// than an election elsewhere exposes it (`new-leader-late-acks.json`); a
// sweep of every other standard and disk scenario over seeds 0..200 misses it.
#[test]
fn read_index_old_round_is_caught_replayed_and_shrunk() {
    assert_teeth_by_scenario_shrinking(Bug::ReadIndexOldRound);
}

#[test]
fn vote_ignores_last_term_is_caught_replayed_and_shrunk() {
    assert_teeth_by_scenario_shrinking(Bug::VoteIgnoresLastTerm);
}

#[test]
fn commit_by_count_from_old_term_is_caught_replayed_and_shrunk() {
    assert_teeth_by_scenario_shrinking(Bug::CommitByCountFromOldTerm);
}

#[test]
fn trust_commit_news_is_caught_replayed_and_shrunk() {
    assert_teeth_by_scenario_shrinking(Bug::TrustCommitNews);
}

/// Disk bugs need a disk that takes time and faults that lose what it had
/// not synced: the standard scenarios have neither, so the disk-fault
/// scenarios join them (still within the same bound of seeds).
#[test]
fn ack_before_fsync_is_caught_replayed_and_shrunk() {
    assert_teeth_by_shrinking_one_of(Bug::AckBeforeFsync, standard_and_disk_scenarios());
}

#[test]
fn vote_not_persisted_is_caught_replayed_and_shrunk() {
    assert_teeth_by_shrinking_one_of(Bug::VoteNotPersisted, standard_and_disk_scenarios());
}

#[test]
fn trust_torn_record_is_caught_replayed_and_shrunk() {
    assert_teeth_by_shrinking_one_of(Bug::TrustTornRecord, standard_and_disk_scenarios());
}

/// The committed shrunk cases (rewritten by `ryw-sim reshrink`) are a
/// regression corpus for the real store: it must pass every one, under the
/// seed each names and a few more. Whether each still exposes its bug after
/// a change of the store's timing is reported, not asserted: the tests
/// above prove the bugs are still found and shrunk; `ryw-sim reshrink`
/// refreshes the cases.
#[test]
fn committed_shrunk_cases_pass_on_the_real_store() {
    let dir = ryw_tests::scenarios_dir().join("shrunk");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("sim-scenarios/shrunk exists")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= Bug::ALL.len(), "one case per planted bug");
    for path in files {
        let scenario = Scenario::load(&path).expect("parses");
        let seed = replay_seed(&scenario).expect("the description names its seed");
        for s in std::iter::once(seed).chain(0..SEEDS_PER_SCHEDULE) {
            let summary = simulate(&scenario, s, &real_node);
            assert!(
                summary.violations.is_empty(),
                "{} seed {s}: {}",
                path.display(),
                summary.violations[0]
            );
        }
        let name = path.file_stem().map(|n| n.to_string_lossy().into_owned());
        if let Some(bug) = name.and_then(|n| Bug::parse(&n).ok()) {
            let still = caught(bug, &simulate(&scenario, seed, &*bug.factory()));
            println!(
                "{}: {}",
                path.display(),
                if still {
                    "still exposes its bug"
                } else {
                    "no longer exposes its bug under its seed; run `ryw-sim reshrink`"
                }
            );
        }
    }
}

// Three old designs of the disk handling, each caught by the lying-disk
// scenarios (sim-scenarios/disk/) within the same bound of seeds.
#[test]
fn reuse_request_ids_is_caught_replayed_and_shrunk() {
    assert_teeth_by_shrinking_one_of(Bug::ReuseRequestIds, standard_and_disk_scenarios());
}

#[test]
fn vote_after_wipe_is_caught_replayed_and_shrunk() {
    assert_teeth_by_shrinking_one_of(Bug::VoteAfterWipe, standard_and_disk_scenarios());
}

#[test]
fn trust_retried_fsync_is_caught_replayed_and_shrunk() {
    assert_teeth_by_shrinking_one_of(Bug::TrustRetriedFsync, standard_and_disk_scenarios());
}

// Three snapshot bugs, planted inside the core's steps (`PlantedBugs`),
// each caught by the standard and disk scenarios, which snapshot often.
// A duplicate must reach a node right after it restarted from (or
// installed) a snapshot: the sweep finds it at seed 135, which takes about
// two minutes on 2 cores, so the search runs with `--ignored`; the default
// suite replays the committed case the search wrote.
#[test]
#[ignore]
fn snapshot_forgets_dedup_is_caught_replayed_and_shrunk() {
    assert_teeth_by_shrinking_one_of(Bug::SnapshotForgetsDedup, standard_and_disk_scenarios());
}

#[test]
fn snapshot_forgets_dedup_is_caught_by_its_committed_case() {
    let bug = Bug::SnapshotForgetsDedup;
    let path = ryw_tests::scenarios_dir().join(format!("shrunk/{}.json", bug.name()));
    let scenario = Scenario::load(&path).expect("the committed case parses");
    let seed = replay_seed(&scenario).expect("the description names its seed");
    assert!(caught(bug, &simulate(&scenario, seed, &*bug.factory())));
    assert!(simulate(&scenario, seed, &real_node).violations.is_empty());
}

#[test]
fn install_older_snapshot_is_caught_replayed_and_shrunk() {
    assert_teeth_by_shrinking_one_of(Bug::InstallOlderSnapshot, standard_and_disk_scenarios());
}

#[test]
fn compact_unapplied_is_caught_replayed_and_shrunk() {
    assert_teeth_by_shrinking_one_of(Bug::CompactUnapplied, standard_and_disk_scenarios());
}
