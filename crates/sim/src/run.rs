//! One run of the store: a scenario and a seed in, a [`Summary`] out. The
//! seed is split into streams in a fixed order (swarm draws, network,
//! clients, each node's timers, then the faults' choice of
//! nodes), the store's [`Store`] harness is
//! built, and the engine runs it.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sim_engine::network::Network;
use sim_engine::seeds::SeedStreams;
use sim_engine::{guarded, Engine, Panicked, Setup};

use crate::checkers::{Property, Violation};
use crate::harness::Store;
use crate::node::NodeFactory;
use crate::report::Summary;
use crate::scenario::{Scenario, SwarmRanges};
use crate::workload::Session;

pub struct RunOptions<'a> {
    pub seed: u64,
    pub trace: Option<Box<dyn Write + Send>>,
    /// Hash the trace even when it is not written (determinism checks).
    pub hash_trace: bool,
    pub factory: &'a NodeFactory,
    /// Record every message, fault and leader change for a diagram.
    pub record: bool,
    /// Stop after this many events (`u64::MAX`: at the scenario's end).
    pub events_max: u64,
    /// Keep the client history (`Summary::history`).
    pub history: bool,
    /// Told the simulated time now and then (a progress bar).
    pub progress: Option<Box<dyn FnMut(u64) + Send>>,
}

impl<'a> RunOptions<'a> {
    /// A plain run: no trace, no recording.
    pub fn new(seed: u64, factory: &'a NodeFactory) -> RunOptions<'a> {
        RunOptions {
            seed,
            trace: None,
            hash_trace: false,
            factory,
            record: false,
            events_max: u64::MAX,
            history: false,
            progress: None,
        }
    }
}

/// Runs one scenario with one seed. A panic inside the run (a node's own
/// invariant assertion, or the simulator's) becomes a violation named
/// "panic", at the simulated time it happened, rather than taking the
/// caller down: it is a finding like any other.
pub fn run(scenario: &Scenario, options: RunOptions<'_>) -> Summary {
    let seed = options.seed;
    // Wall time feeds only wall_ms and delivered_per_s, never the simulation.
    let wall_start = Instant::now();
    let history_on_panic = Arc::new(Mutex::new(None));
    let slot = history_on_panic.clone();
    let mut summary = match guarded(|| run_unguarded(scenario, options, slot)) {
        Ok(summary) => summary,
        Err(Panicked { at_ms, message }) => Summary {
            scenario: scenario.name.clone(),
            seed,
            violations: vec![Violation::new(Property::Panic, at_ms, None, message)],
            // What the clients saw up to the panic, if the run kept it.
            history: history_on_panic
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take(),
            ..Summary::default()
        },
    };
    summary.wall_ms = wall_start.elapsed().as_millis() as u64;
    let wall_s = wall_start.elapsed().as_secs_f64().max(1e-9);
    summary.delivered_per_s = (summary.delivered as f64 / wall_s) as u64;
    summary
}

// Longer than 70 lines on purpose: a run's steps in order (boot, engine, checkers, summary), which share the scenario's settings.
fn run_unguarded(
    scenario: &Scenario,
    options: RunOptions<'_>,
    history_on_panic: Arc<Mutex<Option<crate::history::History>>>,
) -> Summary {
    let mut seeds = SeedStreams::new(options.seed);
    let mut scenario = scenario.clone();
    let mut drawn = None;
    if scenario.swarm {
        scenario.draw_swarm(&mut seeds.stream("swarm"));
        let mut parameters = serde_json::json!({
            "network": scenario.network,
            "sticky": scenario.workload.sticky,
            "faults": scenario.faults,
        });
        if scenario.swarm_ranges == SwarmRanges::Wide {
            // Everything else the wide ranges draw, so a person can see it.
            parameters["nodes"] = serde_json::json!(scenario.nodes);
            parameters["node"] = serde_json::json!(scenario.node);
            parameters["workload"] = serde_json::json!(scenario.workload);
        }
        if matches!(
            scenario.swarm_ranges,
            SwarmRanges::Disk | SwarmRanges::LyingDisk
        ) {
            parameters["disk"] = serde_json::json!(scenario.disk);
        }
        drawn = Some(parameters);
    }
    let network = Network::new(
        scenario.network.clone(),
        scenario.nodes,
        seeds.stream("network"),
    );
    let mut workload_rng = seeds.stream("clients");
    let configs = (0..scenario.nodes)
        .map(|i| scenario.node_config(i, seeds.seed("node timers")))
        .collect();
    let sessions = (0..scenario.workload.sessions)
        .map(|i| Session::new(i, scenario.nodes, &mut workload_rng))
        .collect();
    let setup = Setup {
        nodes: scenario.nodes,
        network,
        faults: scenario.faults.clone(),
        fault_rng: seeds.stream("fault targets"),
        end_ms: scenario.end_ms(),
        events_max: options.events_max,
        clocks: scenario.clocks(),
        disks: scenario.disks(),
        disk_rng: seeds.stream("disk"),
        progress: options.progress,
        trace: options.trace,
        hash_trace: options.hash_trace,
        record_clients: options.record.then_some(scenario.workload.sessions),
    };
    let summary = Summary {
        scenario: scenario.name.clone(),
        seed: options.seed,
        drawn,
        ..Summary::default()
    };
    let extended = (scenario.end_ms() > scenario.duration_ms).then(|| {
        format!(
            "longer than duration_ms ({} ms) so that liveness is judged {} ms after the last heal (at {} ms); \
             'expect.liveness_ms', or 'expect.liveness': false, changes that",
            scenario.duration_ms,
            scenario.expect.liveness_ms,
            scenario.last_heal_ms()
        )
    });
    let mut store = Store::new(
        scenario,
        configs,
        options.factory,
        sessions,
        workload_rng,
        summary,
    );
    if options.history {
        store = store.keeping_history(history_on_panic);
    }
    let engine = Engine::new(setup, store).unwrap_or_else(|why| panic!("{why}"));
    let finished = engine.run();
    let mut summary = finished.outcome;
    summary.sim_ms = finished.sim_ms;
    summary.extended = extended;
    summary.trace_hash = finished.trace_hash.map(|hash| format!("{hash:016x}"));
    summary.trace_error = finished.trace_error;
    summary.recording = finished.recording;
    summary.cut_short = finished.cut_short;
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::real_node;

    #[test]
    fn a_long_run_reports_its_progress_in_simulated_time() {
        let scenario =
            Scenario::parse(r#"{"name": "p", "nodes": 3, "duration_ms": 60000}"#).expect("valid");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        let options = RunOptions {
            progress: Some(Box::new(move |ms| sink.lock().expect("lock").push(ms))),
            ..RunOptions::new(1, &real_node)
        };
        let with = run(&scenario, options);
        let without = run(&scenario, RunOptions::new(1, &real_node));
        let seen = seen.lock().expect("lock").clone();
        assert!(seen.len() >= 2, "told {} times", seen.len());
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "time only grows");
        assert!(seen.iter().all(|&ms| ms <= 60_000));
        assert_eq!(
            with.delivered, without.delivered,
            "watching changes nothing"
        );
    }

    #[test]
    fn a_run_whose_clock_stops_ends_with_a_clear_error() {
        // Files with zero delays and zero think time are refused; a scenario
        // built in code is not checked, and must still not hang.
        let mut scenario =
            Scenario::parse(r#"{"name": "z", "nodes": 1, "duration_ms": 100}"#).expect("valid");
        scenario.network.delay_ms_min = 0;
        scenario.network.delay_ms_max = 0;
        scenario.workload.think_ms_max = 0;
        let summary = run(
            &scenario,
            RunOptions {
                history: true,
                ..RunOptions::new(0, &real_node)
            },
        );
        let violation = summary.violations.first().expect("the run was stopped");
        assert_eq!(violation.checker, Property::Panic);
        // The history up to the panic is kept, requests in flight unknown.
        let history = summary.history.as_ref().expect("kept through the panic");
        assert!(history.events.len() > 2, "{}", history.events.len());
        let last = history.events.last().expect("events");
        assert_eq!(last.event, crate::history::EventType::Info);
        assert!(last.result.to_string().contains("the run ended in a panic"));
        assert!(
            violation
                .detail
                .contains("simulated time stopped advancing"),
            "{}",
            violation.detail
        );
    }
}
