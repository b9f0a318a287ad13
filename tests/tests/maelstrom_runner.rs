//! `ryw-sim maelstrom` against real processes: `ryw-node` passes with 3 and
//! 5 nodes under partitions, pauses and crash-restarts; a Python node that
//! serves follower reads without checking `last_write_index` is caught on
//! every seed, with the session, the operations and the time named; a node
//! that breaks the protocol is told what it broke; `conform` runs the seed
//! task's samples byte for byte; scenarios that cannot apply to real
//! processes are refused. Runs are short (seconds); `RYW_MAELSTROM_LONG=1`
//! runs the default half-minute scenario as well.

use std::path::{Path, PathBuf};

use ryw_sim::checkers::Property;
use ryw_sim::maelstrom::{self, conform, Report, Setup};
use ryw_sim::Scenario;
use ryw_tests::workspace_binary;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    format!("python3 {}", path.display())
}

fn ryw_node() -> String {
    workspace_binary("ryw-node").display().to_string()
}

fn log_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ryw-maelstrom-test-{name}-{}", std::process::id()))
}

/// Partitions (the leader in the minority), a paused follower and a
/// crashed and restarted leader, in six seconds, then three of liveness.
fn faulty(nodes: usize) -> Scenario {
    Scenario::parse(&format!(
        r#"{{"name": "faulty", "nodes": {nodes}, "duration_ms": 6000,
            "faults": [
              {{"at_ms": 1000, "until_ms": 2500, "kind": "split", "minority_with": "leader"}},
              {{"at_ms": 3000, "until_ms": 3800, "kind": "pause", "node": "follower"}},
              {{"at_ms": 4000, "until_ms": 4800, "kind": "crash", "node": "leader"}},
              {{"at_ms": 4200, "until_ms": 4600, "kind": "crash", "node": "n2"}}
            ],
            "expect": {{"liveness_ms": 3000}}}}"#
    ))
    .expect("valid")
}

fn run(bin: &str, scenario: Scenario, seed: u64, name: &str) -> Report {
    let (scenario, ignored) = maelstrom::prepare(scenario, None, false).expect("applies");
    let setup = Setup {
        bin: bin.to_owned(),
        seed,
        data_dir: None,
        log_dir: log_dir(name),
        history: true,
    };
    let report = maelstrom::run(scenario, ignored, setup).expect("runs");
    let _ = std::fs::remove_dir_all(log_dir(name));
    report
}

/// What every passing run of `ryw-node` shows besides no violations.
fn assert_served_and_faulted(report: &Report) {
    let text = report.text();
    assert!(report.passed(false), "{text}");
    assert!(
        report.ops.get("write ok").is_some_and(|&n| n > 50),
        "{text}"
    );
    assert!(
        report.ops.get("ryw_read ok").is_some_and(|&n| n > 50),
        "{text}"
    );
    let f = &report.follower_reads;
    assert!(
        f.share() > 0.5,
        "followers serve most reads where sent: {text}"
    );
    assert!(f.served_by.len() >= 2, "{text}");
    for what in ["split", "pause", "crash"] {
        assert!(
            report.faults.iter().any(|l| l.contains(what)),
            "{what} happened: {text}"
        );
    }
    assert!(report.faults.iter().any(|l| l.contains("heals")), "{text}");
}

#[test]
fn ryw_node_passes_with_three_nodes_under_partitions_pauses_and_crash_restarts() {
    let report = run(&ryw_node(), faulty(3), 1, "three");
    assert_served_and_faulted(&report);
    // The history follows Jepsen's conventions.
    let history = report.history.expect("kept");
    let lines = history.json_lines(&ryw_sim::history::HistoryHeader {
        source: "test",
        version: "0",
        scenario: "faulty".into(),
        seed: 1,
        bug: None,
        bin: None,
        time: "wall",
    });
    let events: Vec<serde_json::Value> = lines
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    ryw_tests::check_history_conventions(&events);
}

#[test]
fn ryw_node_passes_with_five_nodes_under_partitions_pauses_and_crash_restarts() {
    let report = run(&ryw_node(), faulty(5), 2, "five");
    assert_served_and_faulted(&report);
}

/// The Python fixture serves every `ryw_read` at once from what it has
/// applied: caught on every seed and both sizes by the follower-read check
/// (it served a session's read before applying the session's write), and
/// by read-your-writes whenever that read was of a key the session wrote;
/// each names the session and the indexes.
#[test]
fn a_node_serving_follower_reads_without_checking_last_write_index_fails_every_time() {
    let broken = fixture("broken_follower_reads.py");
    let mut ryw_caught = 0;
    for (nodes, seed) in [(3, 1), (3, 2), (5, 3)] {
        // One follower's links from its peers slow: it falls behind.
        let scenario = Scenario::parse(&format!(
            r#"{{"name": "lagging", "nodes": {nodes}, "duration_ms": 3000,
                "faults": [{{"at_ms": 500, "until_ms": 2000, "kind": "lag", "node": "n3",
                             "extra_ms": 200, "spare_clients": true}}],
                "expect": {{"liveness_ms": 1000}}}}"#
        ))
        .expect("valid");
        let report = run(&broken, scenario, seed, "broken");
        let text = report.text();
        assert!(!report.passed(false), "{text}");
        assert!(text.contains("FAIL:"), "{text}");
        let follower = report
            .violations
            .iter()
            .find(|v| v.checker == Property::FollowerReads)
            .unwrap_or_else(|| panic!("the follower-read check names it: {text}"));
        assert!(follower.session.is_some(), "{follower}");
        assert!(
            follower
                .detail
                .contains("had not applied the session's write"),
            "{follower}"
        );
        if let Some(ryw) = report
            .violations
            .iter()
            .find(|v| v.checker == Property::ReadYourWrites)
        {
            assert!(ryw.session.is_some(), "{ryw}");
            assert!(
                ryw.detail
                    .contains("older than the session's own acknowledged write"),
                "{ryw}"
            );
            ryw_caught += 1;
        }
    }
    assert!(
        ryw_caught >= 2,
        "read-your-writes itself caught it {ryw_caught} of 3 times"
    );
}

/// With data directories, a crashed node restarts on what it wrote, and a
/// wiped one (its directory deleted) restarts empty and catches up: no
/// acknowledged write is lost either way.
#[test]
fn ryw_node_keeps_acknowledged_writes_through_crash_restarts_and_a_wipe_on_its_data_directory() {
    let scenario = Scenario::parse(
        r#"{"name": "disks", "nodes": 3, "duration_ms": 5000,
            "faults": [
              {"at_ms": 1000, "until_ms": 1800, "kind": "crash", "node": "n1"},
              {"at_ms": 2500, "until_ms": 3300, "kind": "wipe", "node": "n2"},
              {"at_ms": 4000, "until_ms": 4600, "kind": "crash", "node": "leader"}
            ],
            "expect": {"liveness_ms": 3000}}"#,
    )
    .expect("valid");
    let (scenario, ignored) = maelstrom::prepare(scenario, None, true).expect("applies");
    let data_dir = log_dir("data");
    let setup = Setup {
        bin: format!("{} --data-dir {{data_dir}}", ryw_node()),
        seed: 4,
        data_dir: Some(data_dir.clone()),
        log_dir: log_dir("data-logs"),
        history: false,
    };
    let report = maelstrom::run(scenario, ignored, setup).expect("runs");
    let on_disk = data_dir
        .join("n1")
        .read_dir()
        .map(|d| d.count())
        .unwrap_or(0);
    let _ = std::fs::remove_dir_all(&data_dir);
    let _ = std::fs::remove_dir_all(log_dir("data-logs"));
    let text = report.text();
    assert!(report.passed(false), "{text}");
    assert!(on_disk > 0, "n1 wrote its data directory");
    assert!(report.faults.iter().any(|l| l.contains("wipe")), "{text}");
}

#[test]
fn a_node_that_breaks_the_protocol_is_told_what_it_broke() {
    let scenario = Scenario::parse(
        r#"{"name": "p", "nodes": 3, "duration_ms": 1000, "expect": {"liveness": false}}"#,
    )
    .expect("valid");
    let report = run(&fixture("protocol_errors.py"), scenario, 1, "protocol");
    let text = report.text();
    let said = |needle: &str| {
        report
            .violations
            .iter()
            .any(|v| v.checker == Property::Protocol && v.detail.contains(needle))
    };
    assert!(said("a line that is not JSON"), "{text}");
    assert!(said("a reply to nobody"), "{text}");
    assert!(said("a wrong in_reply_to"), "{text}");
    let died = run("exit 3", faulty(3), 1, "died");
    assert!(
        died.violations[0]
            .detail
            .contains("closed its stdout by itself"),
        "{}",
        died.text()
    );
}

#[test]
fn conform_passes_ryw_node_byte_for_byte_and_names_the_line_a_broken_node_gets_wrong() {
    let dir = log_dir("conform");
    let (samples, cluster) = conform::run(&ryw_node(), 1, &dir).expect("runs");
    let (text, passed) = conform::text(&samples, &cluster);
    assert!(passed, "{text}");
    assert_eq!(text.matches("PASS sample").count(), 2, "{text}");
    // The broken node answers the sample's read at once: a second line.
    let broken = fixture("broken_follower_reads.py");
    let result = conform::run_sample(&broken, &conform::SAMPLES[1]);
    let why = result.difference.expect("fails");
    assert!(why.starts_with("line 2: expected (nothing)"), "{why}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn faults_real_processes_cannot_suffer_are_refused_by_the_command_line() {
    let disk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sim-scenarios/disk");
    let file = std::fs::read_dir(&disk)
        .expect("disk scenarios")
        .filter_map(|e| Some(e.ok()?.path()))
        .find(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            text.contains("\"corrupt\"")
        })
        .expect("a disk scenario that corrupts");
    let out = std::process::Command::new(workspace_binary("ryw-sim"))
        .args(["maelstrom", "--bin", "true"])
        .arg(&file)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("field 'faults["), "{stderr}");
    assert!(stderr.contains("simulated disk"), "{stderr}");
}

/// The default scenario, as a person runs it first (half a minute).
#[test]
fn the_default_scenario_passes_ryw_node() {
    if std::env::var_os("RYW_MAELSTROM_LONG").is_none() {
        eprintln!("skipped: RYW_MAELSTROM_LONG=1 runs it");
        return;
    }
    let scenario = Scenario::parse(maelstrom::DEFAULT_SCENARIO).expect("valid");
    let report = run(&ryw_node(), scenario, 7, "default");
    assert_served_and_faulted(&report);
}

/// The default scenario is a scenario like any other: the simulated store
/// passes it too, seed after seed.
#[test]
fn the_default_scenario_passes_in_the_simulator() {
    let scenario = Scenario::parse(maelstrom::DEFAULT_SCENARIO).expect("valid");
    for seed in ryw_tests::seeds(0..20) {
        let summary = ryw_sim::run(
            &scenario,
            ryw_sim::RunOptions::new(seed, &ryw_sim::real_node),
        );
        assert!(summary.passed(false), "seed {seed}: {}", summary.text());
    }
}
