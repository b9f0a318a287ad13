//! Every scenario over a fixed set of seeds: the store must violate nothing,
//! and each scenario must reach the named events it exists to reach.
//! `RYW_SEED=N` or `RYW_SEEDS=A..B` chooses the seeds.

use ryw_sim::coverage::Coverage;
use ryw_sim::{real_node, run, RunOptions, Scenario};
use ryw_tests::{display_path, scenario_files, seeds};

#[test]
fn every_scenario_passes_every_checker() {
    let seeds = seeds(0..50);
    let mut failures = Vec::new();
    let mut runs = 0;
    let mut coverage = Coverage::default();
    for path in scenario_files() {
        let scenario = Scenario::load(&path).expect("scenario parses");
        let shown = display_path(&path);
        // A scenario that quietly stops reaching its purpose (a timing
        // change, say) fails here, not months later.
        if scenario.expect.reach.is_empty() {
            failures.push(format!("{shown}: expect.reach names no event"));
        }
        for &seed in &seeds {
            let summary = run(&scenario, RunOptions::new(seed, &real_node));
            coverage.add(&shown, seed, &summary.reached);
            runs += 1;
            if !summary.passed(false) {
                let why = summary.violations.first().map_or_else(
                    || {
                        format!(
                            "{} keys undecided by the linearizability search",
                            summary.linearizability_undecided_keys
                        )
                    },
                    |v| v.to_string(),
                );
                failures.push(format!(
                    "{} seed {seed}: {why}\n  replay: {}",
                    scenario.name,
                    summary.replay_command(&shown)
                ));
            }
        }
        for event in coverage.unreached(&shown, &scenario.expect.reach_events()) {
            failures.push(format!(
                "{shown}: no run reached {}, which its expect.reach names",
                event.name()
            ));
        }
    }
    assert!(runs >= 10, "every scenario ran");
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn healthy_cluster_serves_most_reads_where_asked() {
    let scenario =
        Scenario::load(&ryw_tests::scenarios_dir().join("healthy.json")).expect("parses");
    let summary = run(&scenario, RunOptions::new(3, &real_node));
    let served = summary.reads_local + summary.reads_after_wait + summary.reads_redirected;
    assert!(served > 500, "{summary:?}");
    // prefer_follower:false reads (5 in 55 of the mix) are redirected by design.
    assert!(
        (summary.reads_local + summary.reads_after_wait) * 100 >= served * 85,
        "local share too low: {}",
        summary.text()
    );
}

/// Seeds a long sweep once caught: a leader whose entry was overwritten led
/// again and proposed at the same index, tripping an assertion in the core.
#[test]
fn swarm_seeds_that_once_broke_the_store_stay_fixed() {
    let scenario = Scenario::load(&ryw_tests::scenarios_dir().join("swarm.json")).expect("parses");
    for seed in [3681, 20816] {
        let summary = run(&scenario, RunOptions::new(seed, &real_node));
        assert!(
            summary.violations.is_empty(),
            "seed {seed}: {:?}",
            summary.violations
        );
    }
}

#[test]
fn a_node_that_panics_is_reported_as_a_violation_not_a_crash() {
    use ryw_core::{Config, Durable, Millis};
    use ryw_sim::SimNode;
    let fragile = |config: Config, durable: Option<Durable>, now: Millis| -> Box<dyn SimNode> {
        if config
            .cluster
            .as_ref()
            .is_some_and(|c| c.me == ryw_core::Id::Node(2))
        {
            panic!("n2 refuses to start");
        }
        real_node(config, durable, now)
    };
    let scenario =
        Scenario::load(&ryw_tests::scenarios_dir().join("healthy.json")).expect("parses");
    let summary = run(&scenario, RunOptions::new(1, &fragile));
    assert_eq!(summary.violations.len(), 1);
    assert_eq!(
        summary.violations[0].checker,
        ryw_sim::checkers::Property::Panic
    );
    assert!(summary.violations[0].detail.contains("n2 refuses to start"));
}

/// A phase switches the mix from its time on: after a write burst, the
/// sessions only read.
#[test]
fn a_phase_changes_the_mix_from_its_time_on() {
    let scenario = Scenario::parse(
        r#"{"name": "phases", "nodes": 3, "duration_ms": 2000,
            "network": {"delay_ms_min": 1, "delay_ms_max": 5},
            "workload": {"sessions": 4, "mix": {"write": 1, "ryw_read": 0, "ryw_read_leader": 0, "read": 0, "cas": 0},
                         "phases": [{"from_ms": 1000, "mix": {"ryw_read": 1}}]}}"#,
    )
    .expect("valid");
    let trace = std::env::temp_dir().join(format!("ryw-phases-{}.jsonl", std::process::id()));
    let file = std::fs::File::create(&trace).expect("temp file");
    let summary = run(
        &scenario,
        RunOptions {
            trace: Some(Box::new(file)),
            ..RunOptions::new(3, &real_node)
        },
    );
    assert!(summary.violations.is_empty(), "{:?}", summary.violations);
    let text = std::fs::read_to_string(&trace).expect("trace written");
    let _ = std::fs::remove_file(&trace);
    let requests: Vec<(u64, String)> = text
        .lines()
        .filter_map(|line| {
            let json: serde_json::Value = serde_json::from_str(line).ok()?;
            let msg = json.get("msg")?;
            let from_client = msg["src"].as_str()?.starts_with('c');
            let kind = msg["body"]["type"].as_str()?.to_owned();
            (json["event"] == "deliver" && from_client)
                .then(|| (json["t"].as_u64().unwrap_or(0), kind))
        })
        .collect();
    assert!(requests.iter().any(|(t, k)| *t < 1000 && k == "write"));
    assert!(requests.iter().any(|(t, k)| *t > 1000 && k == "ryw_read"));
    // Sent before 1000 ms, a write arrives by 1005 ms at the latest.
    let late: Vec<_> = requests
        .iter()
        .filter(|(t, k)| *t > 1005 && k == "write")
        .collect();
    assert!(
        late.is_empty(),
        "writes after the read-only phase began: {late:?}"
    );
    assert!(!requests.iter().any(|(t, k)| *t < 1000 && k == "ryw_read"));
}

/// Regression: under persistent loss a forwarded write whose `forward` or
/// `forward_ok` is lost must be sent again, not left to time out. These are
/// the first ten of the 53 seeds (of 0..20000) in which this schedule failed
/// liveness before origins re-sent forwarded writes.
#[test]
fn writes_finish_under_persistent_loss_with_one_session() {
    let path = ryw_tests::scenarios_dir().join("examples/lossy-one-session.json");
    let scenario = Scenario::load(&path).expect("scenario parses");
    for seed in [356, 1382, 2152, 2632, 2668, 3451, 3695, 3738, 3776, 3997] {
        let summary = run(&scenario, RunOptions::new(seed, &real_node));
        assert!(
            summary.passed(false),
            "seed {seed}: {:?}\n  replay: {}",
            summary.violations.first().map(|v| v.to_string()),
            summary.replay_command(&display_path(&path))
        );
    }
}

/// 32 sessions racing on one key with no think time, 40% of them `cas`
/// (most refused): the linearizability checker must still judge every
/// key. Refused `cas` are what the read mapping's witness found hardest to
/// place; before its repairs (2026-12-07) 14 of seeds 0..100 left a key
/// undecided, and the search could not order them within its budget.
#[test]
fn a_cas_heavy_race_on_one_key_is_judged_on_every_seed() {
    let mut undecided = Vec::new();
    let mut searched = Vec::new();
    for seed in seeds(0..20) {
        let summary = run(&cas_heavy(), RunOptions::new(seed, &real_node));
        assert!(
            summary.violations.is_empty(),
            "seed {seed}: {:?}",
            summary.violations
        );
        if summary.linearizability_undecided_keys > 0 {
            undecided.push(seed);
        }
        if summary.linearizability_searched_keys > 0 {
            searched.push(seed);
        }
    }
    assert!(undecided.is_empty(), "undecided seeds: {undecided:?}");
    // The read mapping alone decides them: the search is the fallback
    // for shapes it cannot place (2 of seeds 0..200 on 2026-12-08), not
    // what judges a cas race. A repair that gives up more often than it
    // must fails here even where the search would rescue the verdict.
    assert!(
        searched.is_empty(),
        "seeds the read mapping left to the search: {searched:?}"
    );
}

/// 32 sessions, one key, no think time, 40% `cas`, on 3 nodes for 3 s.
fn cas_heavy() -> Scenario {
    Scenario::parse(
        r#"{"name": "cas-heavy", "nodes": 3, "duration_ms": 3000,
            "workload": {"sessions": 32, "keys": 1, "think_ms_max": 0,
              "mix": {"write": 20, "ryw_read": 20, "ryw_read_leader": 0, "read": 20, "cas": 40}}}"#,
    )
    .expect("valid")
}
