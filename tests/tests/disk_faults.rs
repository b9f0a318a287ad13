//! The disk-fault scenarios (`sim-scenarios/disk/`) against the real store,
//! and what each kind of disk fault must do to a run.
//!
//! The default sweep is short; `RYW_SEEDS=0..1000 cargo test --release
//! --test disk_faults` runs the full one docs/durability.md reports.

use ryw_sim::{real_node, run, RunOptions, Scenario, Summary};
use ryw_tests::{disk_scenario_files, seeds};

fn simulate(scenario: &Scenario, seed: u64) -> Summary {
    run(scenario, RunOptions::new(seed, &real_node))
}

#[test]
fn the_disk_fault_scenarios_hold_every_property() {
    let files = disk_scenario_files();
    assert!(files.len() >= 6, "the disk-fault scenarios are there");
    for path in files {
        let scenario = Scenario::load(&path).expect("parses");
        for seed in seeds(0..25) {
            let summary = simulate(&scenario, seed);
            assert!(
                summary.violations.is_empty(),
                "{} seed {seed}: {}\nreplay: ryw-sim run {} --seed {seed}",
                scenario.name,
                summary.violations[0],
                path.display()
            );
        }
    }
}

fn scenario(text: &str) -> Scenario {
    Scenario::parse(text).expect("a valid scenario")
}

#[test]
fn a_node_with_a_corrupt_log_cuts_the_damage_and_catches_up_from_its_peers() {
    let s = scenario(
        r#"{"name": "c", "nodes": 3, "duration_ms": 4000,
            "disk": {"fsync_ms_min": 1, "fsync_ms_max": 3},
            "node": {"snapshot_every": 0},
            "workload": {"client_timeout_ms": 400},
            "faults": [
              {"at_ms": 1000, "until_ms": 1001, "kind": "corrupt", "node": "n2", "bits": 1},
              {"at_ms": 1100, "until_ms": 1300, "kind": "crash", "node": "n2"}
            ]}"#,
    );
    for seed in 0..10 {
        let summary = simulate(&s, seed);
        passes(&summary, seed);
        assert!(
            summary.refused_starts.is_empty(),
            "seed {seed}: repaired, not refused"
        );
        assert_eq!(summary.lost_at_boot.len(), 1, "seed {seed}");
        let what = &summary.lost_at_boot[0];
        // (No snapshots: a compaction would write the log anew from memory
        // and take the damage with it.) A flip in a record names the file
        // and its offset (the header's first byte for one in
        // the header); one in a superblock copy, the copy.
        let damaged = ["raft.log", "raft.log.1", "raft.snapshot"]
            .iter()
            .any(|file| what.starts_with(&format!("n2 at 1300 ms: {file} is damaged at byte")));
        assert!(
            damaged || what.starts_with("n2 at 1300 ms: a copy of the superblock"),
            "names the node, the file and the damage: {what}"
        );
        assert!(summary.ops.get("write ok").copied().unwrap_or(0) > 0);
    }
}

#[test]
fn crashes_without_disk_latency_change_nothing_whatever_they_lose() {
    // With fsyncs that complete within the step, nothing is ever unsynced
    // at a crash: "lost", "torn" and "prefix" must give the same run.
    let text = |unsynced: &str| {
        format!(
            r#"{{"name": "u", "nodes": 3, "duration_ms": 3000,
                "faults": [{{"at_ms": 1000, "until_ms": 1200, "kind": "crash", "node": "all", "unsynced": "{unsynced}"}}]}}"#
        )
    };
    for seed in 0..5 {
        // (The traces differ only in how they describe the crash.)
        let outcome = |unsynced: &str| {
            let summary = simulate(&scenario(&text(unsynced)), seed);
            (
                summary.delivered,
                summary.dropped,
                summary.ops,
                summary.sim_ms,
            )
        };
        assert_eq!(outcome("lost"), outcome("prefix"));
        assert_eq!(outcome("torn"), outcome("prefix"));
    }
}

#[test]
fn a_slow_fsync_delays_acknowledgements_by_its_time() {
    let base = r#"{"name": "s", "nodes": 3, "duration_ms": 3000,
        "network": {"delay_ms_min": 1, "delay_ms_max": 1},
        "workload": {"sessions": 1, "think_ms_max": 1, "mix": {"write": 1, "ryw_read": 0, "ryw_read_leader": 0, "read": 0, "cas": 0}},
        "disk": {"fsync_ms_min": FSYNC, "fsync_ms_max": FSYNC}}"#;
    let p50 = |fsync_ms: u64| {
        let s = scenario(&base.replace("FSYNC", &fsync_ms.to_string()));
        let summary = simulate(&s, 1);
        let mut writes = summary.latencies_ms["write"].clone();
        writes.sort_unstable();
        writes[writes.len() / 2]
    };
    let (fast, slow) = (p50(0), p50(30));
    // A write waits for the leader's and a follower's fsync (in parallel,
    // then the follower's ack): at least one fsync time more.
    assert!(
        slow >= fast + 30,
        "write p50 {fast} ms with instant fsync, {slow} ms with 30 ms"
    );
}

#[test]
fn a_full_disk_on_a_majority_stops_writes_and_the_timeout_says_why() {
    // The client waits longer than the node, so the node's answer arrives.
    let s = scenario(
        r#"{"name": "f", "nodes": 3, "duration_ms": 6000,
            "disk": {"fsync_ms_min": 1, "fsync_ms_max": 2},
            "node": {"request_timeout_ms": 500},
            "workload": {"client_timeout_ms": 2000, "sticky": true},
            "faults": [{"at_ms": 1000, "until_ms": 3000, "kind": "full_disk", "node": "all"}],
            "expect": {"liveness_ms": 2500}}"#,
    );
    let options = RunOptions {
        history: true,
        ..RunOptions::new(2, &real_node)
    };
    let summary = run(&s, options);
    assert!(summary.violations.is_empty(), "{}", summary.violations[0]);
    let history = summary.history.as_ref().expect("kept");
    let told = history.events.iter().any(|event| {
        event.result["text"]
            .as_str()
            .is_some_and(|text| text.contains("cannot write its log: no space left on device"))
    });
    assert!(told, "a write that timed out on a full disk says so");
}

/// A run's trace, as text.
fn traced(scenario: &Scenario, seed: u64) -> (Summary, String) {
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let mut buffer = self.0.lock().unwrap_or_else(|p| p.into_inner());
            buffer.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let shared = Shared::default();
    let mut options = RunOptions::new(seed, &real_node);
    options.trace = Some(Box::new(shared.clone()));
    let summary = run(scenario, options);
    let bytes = shared.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    (summary, String::from_utf8_lossy(&bytes).into_owned())
}

#[test]
fn a_node_whose_fsync_fails_stops_and_restarts_when_the_fault_ends() {
    let s = scenario(
        r#"{"name": "f", "nodes": 3, "duration_ms": 4000,
            "disk": {"fsync_ms_min": 2, "fsync_ms_max": 5},
            "workload": {"client_timeout_ms": 400},
            "faults": [
              {"at_ms": 1000, "until_ms": 1400, "kind": "fsync_error", "node": "leader"}
            ]}"#,
    );
    for seed in 0..10 {
        let (summary, trace) = traced(&s, seed);
        passes(&summary, seed);
        let stop = trace
            .lines()
            .find(|l| l.contains(r#""event": "stop""#))
            .unwrap_or_else(|| panic!("seed {seed}: the leader never stopped"));
        assert!(stop.contains("fsync of raft.log failed"), "{stop}");
        assert!(
            summary.lost_at_boot.is_empty(),
            "seed {seed}: nothing synced was lost"
        );
        assert!(summary.ops.get("write ok").copied().unwrap_or(0) > 0);
    }
}

/// Asserts that the run of `seed` violated nothing, naming the first.
fn passes(summary: &ryw_sim::Summary, seed: u64) {
    assert!(
        summary.violations.is_empty(),
        "seed {seed}: {}",
        summary.violations[0]
    );
}

/// The simulated time of a trace line.
fn event_ms(line: &str) -> Option<u64> {
    let t = line.split(r#""t": "#).nth(1)?.split(',').next()?;
    t.parse().ok()
}

// A node frozen through the whole of its fsync failure learns of it only
// when it thaws, after the fault's end restarted the nodes that stopped on
// it: it restarts at once. It was left down for good (found by plain
// swarm's own run of `disk/swarm-lying-disk.json` seed 90194313216: with
// it down and another node recovering, no leader could be elected, and
// liveness failed).
#[test]
fn a_node_frozen_through_its_fsync_failure_stops_when_it_thaws_and_restarts_at_once() {
    let s = scenario(
        r#"{"name": "p", "nodes": 3, "duration_ms": 4000,
            "disk": {"fsync_ms_min": 20, "fsync_ms_max": 30},
            "workload": {"client_timeout_ms": 400},
            "faults": [
              {"at_ms": 1000, "until_ms": 1800, "kind": "pause", "node": "n1"},
              {"at_ms": 1005, "until_ms": 1200, "kind": "fsync_error", "node": "n1"}
            ]}"#,
    );
    let mut thawed_into_a_stop = 0;
    for seed in 0..10 {
        let (summary, trace) = traced(&s, seed);
        passes(&summary, seed);
        let stop_at = trace
            .lines()
            .filter(|l| l.contains(r#""event": "stop""#) && l.contains("n1 stops"))
            .find_map(event_ms);
        let Some(stop_at) = stop_at else {
            continue;
        };
        assert!(
            stop_at >= 1800,
            "seed {seed}: n1 stopped at {stop_at} ms, frozen"
        );
        thawed_into_a_stop += 1;
        let sent_after = trace
            .lines()
            .any(|l| l.contains(r#""src": "n1""#) && event_ms(l).is_some_and(|t| t > stop_at));
        assert!(sent_after, "seed {seed}: n1 never came back after its stop");
    }
    assert!(thawed_into_a_stop > 0, "no seed froze n1 through a failure");
}

#[test]
fn a_wiped_disk_and_a_lost_synced_tail_are_named_at_the_restart_and_caught_up() {
    let s = scenario(
        r#"{"name": "w", "nodes": 3, "duration_ms": 5000,
            "disk": {"fsync_ms_min": 1, "fsync_ms_max": 3},
            "workload": {"client_timeout_ms": 400},
            "faults": [
              {"at_ms": 800, "until_ms": 900, "kind": "wipe", "node": "n2"},
              {"at_ms": 2000, "until_ms": 2100, "kind": "lose_synced_tail", "node": "n2"}
            ]}"#,
    );
    for seed in 0..10 {
        let summary = simulate(&s, seed);
        passes(&summary, seed);
        let lost = &summary.lost_at_boot;
        assert_eq!(lost.len(), 2, "seed {seed}: {lost:?}");
        assert!(
            lost[0].starts_with("n2 at 900 ms: no raft.log and no superblock"),
            "{lost:?}"
        );
        // The largest file loses its tail: the log (under either of its
        // names), or the snapshot.
        let log_cut = ["raft.log", "raft.log.1"]
            .iter()
            .any(|file| lost[1].starts_with(&format!("n2 at 2100 ms: {file} holds")));
        assert!(
            (log_cut && lost[1].contains("were synced"))
                || lost[1].starts_with("n2 at 2100 ms: raft.snapshot is damaged"),
            "{lost:?}"
        );
    }
}
