//! What faults do to nodes, seen from a protocol that only ticks: overlaps
//! compose, roles resolve as documented, and a fault that never heals
//! never heals.

#[path = "support/probe.rs"]
mod probe;

use probe::{fault, Scene};
use sim_engine::Condition;

#[test]
fn overlapping_pauses_hold_the_node_until_the_last_ends() {
    let (seen, _) = Scene::new(3).run(
        vec![
            fault(r#"{"at_ms": 100, "until_ms": 300, "kind": "pause", "node": "n2"}"#),
            fault(r#"{"at_ms": 200, "until_ms": 400, "kind": "pause", "node": "n2"}"#),
        ],
        1,
    );
    assert!(
        seen.steps_of(1, 101..400).is_empty(),
        "n2 frozen from 100 to 400, not resumed at 300: {:?}",
        seen.steps_of(1, 101..400)
    );
    assert!(!seen.steps_of(1, 400..401).is_empty(), "resumed at 400");
    assert!(seen.steps_of(0, 101..400).len() >= 25, "n1 ran on");
}

#[test]
fn each_step_sees_what_the_faults_make_of_every_node() {
    let (seen, _) = Scene::new(4).run(
        vec![
            fault(r#"{"at_ms": 100, "until_ms": 200, "kind": "pause", "node": "n2"}"#),
            fault(r#"{"at_ms": 100, "until_ms": 200, "kind": "crash", "node": "n3"}"#),
            fault(r#"{"at_ms": 100, "until_ms": 200, "kind": "one_way", "from": ["n4"], "to": ["n2"]}"#),
            fault(r#"{"at_ms": 300, "until_ms": 400, "kind": "lag", "node": "n4", "extra_ms": 5}"#),
            fault(r#"{"at_ms": 300, "until_ms": 400, "kind": "link", "from": ["n2"], "to": ["n3"], "loss": 0.5}"#),
        ],
        1,
    );
    let at = |t: u64| {
        seen.conditions
            .iter()
            .find(|(time, _)| *time == t)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| panic!("a step at {t} ms"))
    };
    use Condition::*;
    // A pause wins over the cut that also touches n2.
    assert_eq!(at(150), vec![Up, Paused, Down, CutOff]);
    assert_eq!(at(350), vec![Up, Slowed, Slowed, Slowed]);
    assert_eq!(at(450), vec![Up, Up, Up, Up]);
}

#[test]
fn overlapping_crashes_restart_the_node_once_when_the_last_ends() {
    let (seen, _) = Scene::new(3).run(
        vec![
            fault(r#"{"at_ms": 100, "until_ms": 300, "kind": "crash", "node": "n3"}"#),
            fault(r#"{"at_ms": 200, "until_ms": 400, "kind": "crash", "node": "n3"}"#),
        ],
        2,
    );
    assert_eq!(seen.restarts_of(2), vec![400]);
    assert!(seen.steps_of(2, 101..400).is_empty());
}

#[test]
fn a_node_crashed_while_paused_restarts_frozen_and_runs_when_the_pause_ends() {
    let (seen, _) = Scene::new(3).run(
        vec![
            fault(r#"{"at_ms": 100, "until_ms": 500, "kind": "pause", "node": "n1"}"#),
            fault(r#"{"at_ms": 200, "until_ms": 300, "kind": "crash", "node": "n1"}"#),
        ],
        3,
    );
    assert_eq!(
        seen.restarts_of(0),
        vec![300],
        "the crash's end restarts it"
    );
    let ticks: Vec<u64> = seen.steps_of(0, 301..500);
    assert!(ticks.is_empty(), "but frozen until 500: {ticks:?}");
    assert!(!seen.steps_of(0, 500..501).is_empty());
}

#[test]
fn a_pause_inside_a_crash_does_not_wake_the_crashed_node() {
    let (seen, _) = Scene::new(3).run(
        vec![
            fault(r#"{"at_ms": 100, "until_ms": 500, "kind": "crash", "node": "n1"}"#),
            fault(r#"{"at_ms": 200, "until_ms": 300, "kind": "pause", "node": "n1"}"#),
        ],
        4,
    );
    assert!(seen.steps_of(0, 101..500).is_empty());
    assert_eq!(seen.restarts_of(0), vec![500]);
}

#[test]
fn faults_in_one_millisecond_agree_on_the_leader() {
    let mut scene = Scene::new(3);
    scene.leads_from_ms = vec![None, Some(0), None];
    let (_, trace) = scene.run(
        vec![
            fault(r#"{"at_ms": 100, "until_ms": 200, "kind": "crash", "node": "leader"}"#),
            fault(r#"{"at_ms": 100, "until_ms": 200, "kind": "lag", "node": "leader", "extra_ms": 5}"#),
        ],
        5,
    );
    let notes = trace.fault_notes();
    assert!(
        notes.contains(&"100 start faults[0] crash n2".to_owned()),
        "{notes:?}"
    );
    assert!(
        notes.contains(&"100 start faults[1] lag n2 by 5 ms".to_owned()),
        "the crash of n2 does not make another node the leader: {notes:?}"
    );
}

#[test]
fn a_fault_aimed_at_the_leader_waits_while_nobody_leads() {
    let mut scene = Scene::new(3);
    scene.leads_from_ms = vec![None, None, Some(250)];
    let (seen, trace) = scene.run(
        vec![fault(
            r#"{"at_ms": 100, "until_ms": 600, "kind": "pause", "node": "leader"}"#,
        )],
        6,
    );
    let notes = trace.fault_notes();
    assert_eq!(
        notes[0],
        "100 wait faults[0]: nobody leads; starts when a leader is elected"
    );
    assert_eq!(notes[1], "250 start faults[0] pause n3");
    assert!(seen.steps_of(2, 251..600).is_empty());
}

#[test]
fn roles_resolve_to_the_nodes_they_name() {
    let mut scene = Scene::new(5);
    scene.leads_from_ms = vec![None, None, None, Some(0), None];
    scene.log_lengths = vec![3, 9, 9, 4, 1];
    let faults = vec![
        fault(r#"{"at_ms": 100, "until_ms": 150, "kind": "pause", "node": "longest_log"}"#),
        fault(r#"{"at_ms": 200, "until_ms": 250, "kind": "pause", "node": "follower"}"#),
        fault(r#"{"at_ms": 300, "until_ms": 350, "kind": "pause", "node": "followers_but_one"}"#),
        fault(r#"{"at_ms": 400, "until_ms": 450, "kind": "pause", "node": "majority"}"#),
    ];
    for seed in 0..20 {
        let (_, trace) = scene.run(faults.clone(), seed);
        let notes = trace.fault_notes();
        let paused = |k: usize| -> Vec<String> {
            let prefix = format!("start faults[{k}] pause ");
            let line = notes
                .iter()
                .find(|n| n.contains(&prefix))
                .unwrap_or_else(|| panic!("faults[{k}] started: {notes:?}"));
            line.split(&prefix)
                .nth(1)
                .expect("names")
                .split(' ')
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(
            paused(0),
            ["n2"],
            "longest log, lowest numbered among equals"
        );
        let follower = paused(1);
        assert_eq!(follower.len(), 1);
        assert_ne!(follower[0], "n4", "the leader is no follower");
        let but_one = paused(2);
        assert_eq!(but_one.len(), 3, "four followers but one");
        assert!(!but_one.contains(&"n4".to_owned()));
        assert_eq!(paused(3).len(), 3, "a majority of five");
    }
}

#[test]
fn the_old_leader_is_the_one_before_the_current_one() {
    let mut scene = Scene::new(3);
    scene.leads_from_ms = vec![Some(50), Some(300), None];
    let (_, trace) = scene.run(
        vec![
            fault(r#"{"at_ms": 100, "until_ms": 200, "kind": "pause", "node": "old_leader"}"#),
            fault(r#"{"at_ms": 400, "until_ms": 500, "kind": "pause", "node": "old_leader"}"#),
            fault(r#"{"at_ms": 600, "until_ms": "never", "kind": "lag", "node": "leader", "extra_ms": 1}"#),
        ],
        7,
    );
    let notes = trace.fault_notes();
    let expected = [
        "100 start faults[0] pause nobody",
        "200 end faults[0] pause nobody",
        "400 start faults[1] pause n1",
        "500 end faults[1] pause n1",
        "600 start faults[2] lag n2 by 1 ms",
    ];
    assert_eq!(
        notes, expected,
        "nobody led before n1; n1 led before n2; lag never ends"
    );
}

#[test]
fn a_leader_append_trigger_fires_on_the_first_entry_after_the_election() {
    let mut scene = Scene::new(3);
    scene.leads_from_ms = vec![None, Some(100), None];
    scene.grows = true;
    let (seen, trace) = scene.run(
        vec![fault(
            r#"{"at_ms": 0, "until_ms": 400, "when": "leader_appended", "kind": "crash", "node": "leader"}"#,
        )],
        8,
    );
    let notes = trace.fault_notes();
    assert_eq!(
        notes,
        [
            "0 arm faults[0]: starts when the leader appends an entry",
            "110 start faults[0] crash n2",
            "400 end faults[0] crash n2",
        ],
        "n2 leads (and appends) at its tick at 100, appends again at 110"
    );
    assert_eq!(seen.restarts_of(1), vec![400]);
}

#[test]
fn a_node_on_a_fast_clock_ticks_more_often() {
    use sim_engine::clock::Clock;
    let mut scene = Scene::new(2);
    let (exact, _) = scene.run(Vec::new(), 9);
    scene.clocks = vec![Clock {
        offset_ms: 1_000,
        drift_ppm: 1_000_000,
    }];
    let (fast, _) = scene.run(Vec::new(), 9);
    // n1 steps on each of its ticks and on each ping from n2 (20 in 200 ms).
    let (before, after) = (
        exact.steps_of(0, 0..200).len(),
        fast.steps_of(0, 0..200).len(),
    );
    assert!(
        (before + 16..=before + 24).contains(&after),
        "at double speed n1 ticks 20 more times in 200 ms: {before} steps, then {after}"
    );
}

#[test]
fn a_clock_that_stops_is_reported_not_run_forever() {
    let mut scene = Scene::new(2);
    scene.tick_ms = 0; // always due: every tick lands in the same millisecond
    let stuck = sim_engine::guarded(|| scene.run(Vec::new(), 0)).expect_err("a stuck clock");
    assert!(
        stuck
            .message
            .contains("simulated time stopped advancing at 0 ms"),
        "{}",
        stuck.message
    );
    assert_eq!(stuck.at_ms, 0);
}
