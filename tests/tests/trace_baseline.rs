//! Pins what the standard scenarios and the planted bugs do, event for
//! event: the trace hash and the summary of each (scenario, seed) must match
//! `tests/data/trace-baseline.txt`. A refactor that should change nothing
//! proves it by passing this test unchanged.
//!
//! A change that means to alter runs (a new message, a different timer)
//! regenerates the file with `RYW_BLESS=1 cargo test --test trace_baseline`
//! and says so in its commit message.

use std::fmt::Write as _;
use std::path::PathBuf;

use ryw_sim::bugs::Bug;
use ryw_sim::{real_node, run, RunOptions, Scenario, Summary};
use ryw_tests::{display_path, scenario_files, scenarios_dir};

const SEEDS: std::ops::Range<u64> = 0..20;
const BUG_SEEDS: std::ops::Range<u64> = 0..5;

fn baseline_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/trace-baseline.txt")
}

/// FNV-1a of the summary's JSON with the wall-clock figures zeroed, the
/// trace hash left out (it has a column of its own), and the line and
/// column of a panic's source location dropped, and its directory (see
/// [`without_line_numbers`]).
fn summary_hash(mut summary: Summary) -> u64 {
    summary.wall_ms = 0;
    summary.delivered_per_s = 0;
    summary.trace_hash = None;
    for violation in &mut summary.violations {
        violation.detail = without_line_numbers(&violation.detail);
    }
    let text = serde_json::to_string(&summary).expect("a summary serialises");
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `... (at crates/core/src/x/y.rs:158:17)` as `... (at y.rs)`: where an
/// assertion sits in the source is not behaviour, so neither a line added
/// above it nor its file moving to another module changes a run.
fn without_line_numbers(detail: &str) -> String {
    let Some(at) = detail.rfind("(at ") else {
        return detail.to_owned();
    };
    let Some(end) = detail[at..].find(')').map(|e| at + e) else {
        return detail.to_owned();
    };
    let location = detail[at + 4..end].trim_end_matches(|c: char| c.is_ascii_digit() || c == ':');
    let file = location.rsplit('/').next().unwrap_or(location);
    format!("{}(at {file}{}", &detail[..at], &detail[end..])
}

fn line(out: &mut String, label: &str, seed: u64, summary: Summary) {
    let trace = summary.trace_hash.clone().unwrap_or_default();
    let _ = writeln!(out, "{label} {seed} {trace} {:016x}", summary_hash(summary));
}

fn current() -> String {
    let mut out = String::new();
    for path in scenario_files() {
        let scenario = Scenario::load(&path).expect("a standard scenario parses");
        for seed in SEEDS {
            let options = RunOptions {
                hash_trace: true,
                ..RunOptions::new(seed, &real_node)
            };
            line(
                &mut out,
                &display_path(&path),
                seed,
                run(&scenario, options),
            );
        }
    }
    for bug in Bug::ALL {
        let path = scenarios_dir().join(format!("shrunk/{}.json", bug.name()));
        let scenario = Scenario::load(&path).expect("a shrunk schedule parses");
        let factory = bug.factory();
        for seed in BUG_SEEDS {
            let options = RunOptions {
                hash_trace: true,
                ..RunOptions::new(seed, &*factory)
            };
            let label = format!("shrunk/{}.json+{}", bug.name(), bug.name());
            line(&mut out, &label, seed, run(&scenario, options));
        }
    }
    out
}

#[test]
fn standard_runs_match_the_recorded_baseline() {
    let now = current();
    if std::env::var_os("RYW_BLESS").is_some() {
        std::fs::write(baseline_path(), &now).expect("baseline written");
        return;
    }
    let recorded = std::fs::read_to_string(baseline_path())
        .expect("tests/data/trace-baseline.txt exists (RYW_BLESS=1 writes it)");
    let differing: Vec<String> = recorded
        .lines()
        .zip(now.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("  recorded {a}\n  now      {b}"))
        .collect();
    assert!(
        differing.is_empty() && recorded.lines().count() == now.lines().count(),
        "{} of {} runs differ from the baseline ({} recorded, {} now):\n{}",
        differing.len(),
        now.lines().count(),
        recorded.lines().count(),
        now.lines().count(),
        differing
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
