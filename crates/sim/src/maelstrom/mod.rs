//! `ryw-sim maelstrom`: the read-your-writes workload, the faults and the
//! checkers against any Maelstrom node, in any language. N real processes
//! of a command line speak JSON lines on stdin and stdout; a router in real
//! time carries their messages through the simulator's network model; the
//! faults pause processes (SIGSTOP), crash them (`kill -9`) and restart
//! them, and cut or slow their links; client sessions run the workload;
//! the same checkers as in simulation judge what the clients saw.
//!
//! Real processes are not deterministic: the seed fixes the fault
//! schedule, the workload's draws and the network's draws, but which
//! message meets which draw depends on the processes' timing, so a seed
//! replays the plan of a run, not the run. A failure is reported with its
//! session, operations and time, and the history (`--history`) holds
//! everything the clients saw.
//!
//! `conform` runs the seed task's sample tests byte for byte.

pub mod answers;
pub mod clock;
pub mod conform;
pub mod leader_guess;
pub mod nemesis;
pub mod process;
pub mod reply;
pub mod report;
pub mod routing;
pub mod runner;
pub mod verdict;

use std::path::PathBuf;

pub use report::Report;
pub use runner::Setup;

use crate::scenario::{NodeSettings, Scenario};

/// The scenario `ryw-sim maelstrom` runs when none is given.
pub const DEFAULT_SCENARIO: &str = include_str!("../../../../sim-scenarios/maelstrom/default.json");

/// `scenario` (already drawn, for a swarm scenario) with `nodes` nodes if
/// given, checked for what real processes can do: refused with a message
/// naming the field, or returned with notes on what is left out.
pub fn prepare(
    mut scenario: Scenario,
    nodes: Option<usize>,
    has_data_dir: bool,
) -> Result<(Scenario, Vec<String>), String> {
    if let Some(nodes) = nodes {
        scenario.nodes = nodes;
        scenario
            .validate()
            .map_err(|why| format!("with --nodes {nodes}: {why}"))?;
    }
    if let Some(why) = nemesis::refusal(&scenario, has_data_dir) {
        return Err(format!("scenario {}: {why}", scenario.name));
    }
    let mut ignored = Vec::new();
    let settings = |s: &NodeSettings| serde_json::to_value(s).unwrap_or_default();
    if settings(&scenario.node) != settings(&NodeSettings::default()) {
        ignored.push(
            "'node' (timing and snapshot settings) configures the simulated store only; the binary under test keeps its own".to_owned(),
        );
    }
    if scenario.disk != crate::scenario::Disks::default() {
        ignored.push("'disk' (simulated disk latency) does not apply to real disks".to_owned());
    }
    if !scenario.expect.reach.is_empty() {
        ignored.push("'expect.reach' names events only the simulated store reports".to_owned());
    }
    Ok((scenario, ignored))
}

/// Runs `scenario` against real processes of `setup.bin`.
pub fn run(scenario: Scenario, ignored: Vec<String>, setup: Setup) -> Result<Report, String> {
    std::fs::create_dir_all(&setup.log_dir)
        .map_err(|e| format!("--out {}: {e}", setup.log_dir.display()))?;
    let (name, seed) = (scenario.name.clone(), setup.seed);
    let runner = runner::Runner::new(scenario, setup);
    let history_on_panic = runner.history_on_panic.clone();
    let mut report = match sim_engine::guarded(|| runner.run()) {
        Ok(report) => report,
        // The runner's own bug: reported as a finding, with what the
        // clients saw up to it (its processes are killed as it unwinds).
        Err(panicked) => Report {
            scenario: name,
            seed,
            violations: vec![crate::checkers::Violation::new(
                crate::checkers::Property::Panic,
                0,
                None,
                format!("the runner panicked: {}", panicked.message),
            )],
            history: history_on_panic
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take(),
            ..Report::default()
        },
    };
    report.ignored = ignored;
    Ok(report)
}

/// Where logs go when `--out` is not given: a fresh directory under the
/// system's temporary directory.
pub fn default_log_dir() -> PathBuf {
    let stamp = clock::wall_stamp_ms();
    std::env::temp_dir().join(format!("ryw-maelstrom-{}-{stamp}", std::process::id()))
}
