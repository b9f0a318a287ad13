//! Helpers for the end-to-end tests: locating (and building) the binaries.

pub mod schedule;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// Path of a workspace binary built with the same profile as the running
/// test. Cargo does not build other packages' binaries for a test, so the
/// first call builds it (once per test process).
pub fn workspace_binary(package: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, Result<(), String>>> = Mutex::new(BTreeMap::new());
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> -> target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binaries live in target/<profile>/deps")
        .to_path_buf();
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let built = built.entry(package.to_owned()).or_insert_with(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "--quiet", "-p", package])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if release {
            build.arg("--release");
        }
        match build.status() {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => Err(format!("cargo build failed: {status}")),
            Err(e) => Err(format!("cannot run cargo: {e}")),
        }
    });
    if let Err(why) = built {
        panic!("{why}");
    }
    profile_dir.join(package)
}

/// Directory of the scenario files.
pub fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sim-scenarios")
}

/// Every standard scenario file, sorted by name.
pub fn scenario_files() -> Vec<PathBuf> {
    json_files_in(&scenarios_dir())
}

/// The disk-fault scenarios (`sim-scenarios/disk/`), sorted by name.
pub fn disk_scenario_files() -> Vec<PathBuf> {
    json_files_in(&scenarios_dir().join("disk"))
}

fn json_files_in(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// Seeds for simulation tests: `RYW_SEED=N` runs one, `RYW_SEEDS=A..B` a
/// range, otherwise `default`.
pub fn seeds(default: std::ops::Range<u64>) -> Vec<u64> {
    let parse = |text: &str| -> u64 {
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("seed must be a non-negative integer, got {text:?}"))
    };
    if let Ok(seed) = std::env::var("RYW_SEED") {
        return vec![parse(&seed)];
    }
    if let Ok(range) = std::env::var("RYW_SEEDS") {
        let range = ryw_sim::sweep::SeedRange::parse(&range)
            .unwrap_or_else(|why| panic!("RYW_SEEDS: {why}"));
        return range.as_range().collect();
    }
    default.collect()
}

/// The scenario path as a person would type it from the repository root.
pub fn display_path(path: &std::path::Path) -> String {
    let inside = path
        .strip_prefix(scenarios_dir())
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| {
            path.file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned())
        });
    format!("sim-scenarios/{inside}")
}

/// The proptest seed every fuzzer here uses unless `PROPTEST_RNG_SEED`
/// names another.
pub const FUZZ_SEED: u64 = 20_261_128;

/// Settings for this suite's fuzzers: `cases_default` cases unless
/// `PROPTEST_CASES` says otherwise, and the fixed [`FUZZ_SEED`] unless
/// `PROPTEST_RNG_SEED` names a seed. A fixed seed makes `cargo test` try
/// the same inputs on every machine, so a CI failure reproduces anywhere;
/// a fuzzing campaign sets `PROPTEST_RNG_SEED` to explore new ones.
pub fn fuzz_config(cases_default: u32) -> proptest::test_runner::Config {
    use proptest::test_runner::{Config, RngSeed};
    // `Config::default()` reads PROPTEST_CASES and PROPTEST_RNG_SEED.
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases_default;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(FUZZ_SEED);
    }
    config
}

/// Jepsen's conventions, event by event: indexes and times in order; one
/// operation at a time per process; a completion names the operation,
/// node and `msg_id` it completes; a process that ended `info` is never
/// used again; a `late` reply belongs to an operation already ended.
pub fn check_history_conventions(events: &[serde_json::Value]) {
    use std::collections::{BTreeMap, BTreeSet};
    let mut open: BTreeMap<u64, (String, String, u64)> = BTreeMap::new();
    let mut retired: BTreeSet<u64> = BTreeSet::new();
    let mut last_ms = 0;
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["index"], i as u64, "indexes count up from 0");
        let time_ms = e["time_ms"].as_u64().expect("time_ms");
        assert!(time_ms >= last_ms, "events in time order");
        last_ms = time_ms;
        let process = e["process"].as_u64().expect("process is a number");
        let f = e["f"].as_str().expect("f").to_owned();
        let node = e["node"].as_str().expect("node").to_owned();
        let msg_id = e["msg_id"].as_u64().expect("msg_id");
        assert!(
            e["client"].as_str().is_some_and(|c| c.starts_with('c')),
            "{e}"
        );
        assert!(e.get("key").is_some());
        match e["type"].as_str().expect("type") {
            "invoke" => {
                assert!(
                    !retired.contains(&process),
                    "process {process} ended info: {e}"
                );
                let earlier = open.insert(process, (f, node, msg_id));
                assert!(earlier.is_none(), "{process} has one operation at a time");
            }
            "late" => assert!(retired.contains(&process), "late only after info: {e}"),
            kind => {
                assert!(["ok", "fail", "info"].contains(&kind), "{e}");
                let invoked = open.remove(&process).expect("completes an invocation");
                assert_eq!(invoked, (f, node, msg_id), "{e}");
                if kind == "info" {
                    retired.insert(process);
                }
            }
        }
    }
    assert!(
        open.is_empty(),
        "every operation ends, if only as info at the end"
    );
}
