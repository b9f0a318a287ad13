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

/// Checks that tags nest properly; returns how often each element occurs.
fn parse_svg(text: &str) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    let mut open: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("every tag closes") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop().as_deref(), Some(name), "tags nest");
        } else {
            let name: String = tag
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '/')
                .collect();
            *counts.entry(name.clone()).or_insert(0) += 1;
            if !tag.ends_with('/') {
                open.push(name);
            }
        }
    }
    assert!(open.is_empty(), "unclosed: {open:?}");
    counts
}

#[test]
fn svg_of_a_failing_run_shows_timelines_arrows_and_the_violation() {
    let file = std::env::temp_dir().join(format!("ryw-diagram-{}.svg", std::process::id()));
    let path = file.to_str().expect("utf-8");
    let (code, stdout, stderr) = sim(&[
        "run",
        "sim-scenarios/shrunk/ack-before-commit.json",
        "--seed",
        "10237432512530943969",
        "--bug",
        "ack-before-commit",
        "--svg",
        path,
        "--from-ms",
        "380",
        "--to-ms",
        "470",
    ]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let svg = std::fs::read_to_string(&file).expect("svg written");
    let counts = parse_svg(&svg);
    assert!(
        svg.matches(r#"<line class="arrow"#).count() > 50,
        "arrows drawn: {counts:?}"
    );
    assert_eq!(
        svg.matches(r#"<g class="timeline">"#).count(),
        3 + 5,
        "3 nodes and 5 clients"
    );
    assert!(svg.contains(r#"class="highlight""#) && svg.contains(r#"class="violation""#));
    assert!(svg.contains("this read"), "the stale read is labelled");
    assert!(
        svg.contains(r#"class="fault pause""#),
        "the pause is shaded"
    );
    assert!(
        svg.contains(r#"class="leader""#),
        "a leader change is marked"
    );
    let arrows = svg.matches(r#"<line class="arrow"#).count();
    assert!(counts["title"] >= arrows, "every arrow has a hover text");
    let _ = std::fs::remove_file(&file);
}

#[test]
fn svg_of_a_healthy_run_has_no_highlight_and_stays_small() {
    let file = std::env::temp_dir().join(format!("ryw-healthy-{}.svg", std::process::id()));
    let path = file.to_str().expect("utf-8");
    let (code, _, _) = sim(&[
        "run",
        "sim-scenarios/loss-duplication.json",
        "--seed",
        "2",
        "--svg",
        path,
    ]);
    assert_eq!(code, 0);
    let svg = std::fs::read_to_string(&file).expect("svg written");
    parse_svg(&svg);
    assert!(!svg.contains(r#"class="highlight""#));
    assert!(
        svg.contains("arrow dropped"),
        "lost messages are drawn cut short"
    );
    assert!(
        svg.len() < 6_000_000,
        "a whole run stays browser-sized: {} bytes",
        svg.len()
    );
    let _ = std::fs::remove_file(&file);
}

#[test]
fn bench_writes_the_csv_columns_and_a_plot() {
    let dir = std::env::temp_dir().join(format!("ryw-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (csv, plot) = (dir.join("report.csv"), dir.join("report.svg"));
    let (code, stdout, stderr) = sim(&[
        "bench",
        "--csv",
        csv.to_str().expect("utf-8"),
        "--plot",
        plot.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let csv = std::fs::read_to_string(&csv).expect("csv written");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("nodes,mode,network,reads,served_locally_share,waited_share,redirected_share,read_p50_ms,read_p99_ms,write_p50_ms,leader_msgs_per_op")
    );
    assert_eq!(lines.count(), 12, "3 sizes x 2 networks x 2 modes");
    let svg = std::fs::read_to_string(&plot).expect("plot written");
    let counts = parse_svg(&svg);
    assert!(counts["rect"] >= 24, "a bar per row and chart: {counts:?}");
    assert!(stdout.contains("| 5 | follower | healthy |"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_trace_that_cannot_be_written_is_an_error_not_a_short_file() {
    if !std::path::Path::new("/dev/full").exists() {
        return; // only Linux has a device that fails every write
    }
    let (code, _, stderr) = sim(&[
        "run",
        "sim-scenarios/healthy.json",
        "--seed",
        "1",
        "--trace",
        "/dev/full",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--trace /dev/full") && stderr.contains("incomplete"),
        "{stderr}"
    );
}
