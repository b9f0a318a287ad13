//! The `ryw-sim` command line: exit codes, JSON summary, trace replay, sweep output.

use std::process::Command;

use ryw_tests::{scenarios_dir, workspace_binary};

fn sim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(workspace_binary("ryw-sim"))
        .args(args)
        .current_dir(scenarios_dir().join(".."))
        .output()
        .expect("ryw-sim runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn run_prints_a_json_summary_scripts_can_read() {
    let (code, stdout, _) = sim(&["run", "sim-scenarios/healthy.json", "--seed", "4", "--json"]);
    assert_eq!(code, 0, "{stdout}");
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    for field in [
        "scenario",
        "seed",
        "violations",
        "sim_ms",
        "wall_ms",
        "delivered",
        "delivered_per_s",
    ] {
        assert!(summary.get(field).is_some(), "missing {field}: {stdout}");
    }
    assert_eq!(summary["violations"], serde_json::json!([]));
    assert!(summary["delivered"].as_u64().is_some_and(|d| d > 1000));
}

#[test]
fn trace_file_is_identical_on_replay() {
    let dir = std::env::temp_dir().join(format!("ryw-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let a = dir.join("a.jsonl");
    let b = dir.join("b.jsonl");
    for file in [&a, &b] {
        let (code, _, stderr) = sim(&[
            "run",
            "sim-scenarios/crash-restart.json",
            "--seed",
            "9",
            "--trace",
            file.to_str().expect("utf-8"),
        ]);
        assert_eq!(code, 0, "{stderr}");
    }
    let (ta, tb) = (
        std::fs::read(&a).expect("trace"),
        std::fs::read(&b).expect("trace"),
    );
    assert!(ta.len() > 10_000);
    assert_eq!(ta, tb, "byte-identical traces");
    let text = String::from_utf8(ta).expect("utf-8");
    assert!(text
        .lines()
        .any(|l| l.contains(r#""event": "fault""#) && l.contains("crash")));
    assert!(text
        .lines()
        .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_scenario_exits_2_naming_file_and_field() {
    let path = std::env::temp_dir().join(format!("ryw-bad-{}.json", std::process::id()));
    std::fs::write(
        &path,
        r#"{"name": "x", "nodes": 3, "duration_ms": 100, "network": {"loss": 2}}"#,
    )
    .expect("write");
    let (code, _, stderr) = sim(&["run", path.to_str().expect("utf-8"), "--seed", "1"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("ryw-bad") && stderr.contains("network.loss"),
        "{stderr}"
    );
    let _ = std::fs::remove_file(&path);
    let (code, _, stderr) = sim(&["run", "sim-scenarios/healthy.json"]);
    assert_eq!(code, 2, "missing --seed is bad usage: {stderr}");
}

#[test]
fn sweep_shards_split_the_seed_range_and_report_a_tally() {
    let (code, stdout, _) = sim(&[
        "sweep",
        "sim-scenarios/healthy.json",
        "sim-scenarios/ring.json",
        "--seeds",
        "0..6",
        "--jobs",
        "2",
        "--shard",
        "2/3",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("4 runs (2 scenarios x 2 seeds, shard 2/3), 0 failed"),
        "{stdout}"
    );
}
