//! Shrinking a failing scenario to a small one that still fails.
//!
//! A greedy, deterministic reducer (delta debugging one step at a time): it
//! drops faults, sessions, keys and run time while the failure persists.
//! Rare-timing failures make "does it still fail without this fault?" close
//! to a coin toss for one seed, so a candidate counts as failing when any of
//! `seeds_per_schedule` consecutive seeds fails. That keeps shrinking
//! steady, and a shrunk case keeps failing after small changes to the store's
//! timing, which a single exact (schedule, seed) pair would not.

use crate::bugs::Bug;
use crate::node::NodeFactory;
use crate::report::Summary;
use crate::run::{run, RunOptions};
use crate::scenario::Scenario;

/// What a shrink needs: the failure to keep, and how hard to look for it.
pub struct Shrink<'a> {
    pub factory: &'a NodeFactory,
    /// Whether a run shows the failure being shrunk.
    pub fails: &'a (dyn Fn(&Summary) -> bool + Sync),
    /// Seeds tried per candidate, from the first seed on.
    pub seeds_per_schedule: u64,
    /// Most candidate schedules tried; shrinking stops there.
    pub candidates_max: usize,
}

/// The smallest schedule found and the first of its seeds that fails.
pub struct Shrunk {
    pub scenario: Scenario,
    pub seed: u64,
    pub candidates_tried: usize,
}

impl Shrink<'_> {
    /// The first seed of `seed..seed + seeds_per_schedule` whose run fails.
    pub fn failing_seed(&self, scenario: &Scenario, seed: u64) -> Option<u64> {
        (0..self.seeds_per_schedule)
            .map(|k| seed.wrapping_add(k))
            .find(|&s| (self.fails)(&run(scenario, RunOptions::new(s, self.factory))))
    }

    /// Shrinks `scenario`, which must fail under one of the seeds from `seed`.
    pub fn shrink(&self, scenario: &Scenario, seed: u64) -> Option<Shrunk> {
        let mut best = scenario.clone();
        // Faults that cut nothing (a swarm may draw a ring on 3 nodes) change
        // no run, and a scenario file may not hold them.
        let nodes = best.nodes;
        best.faults
            .retain(|f| !sim_engine::faults::cuts_nothing(&f.kind, nodes));
        let mut best_seed = self.failing_seed(&best, seed)?;
        let mut tried = 0;
        loop {
            let mut improved = false;
            for candidate in smaller(&best) {
                if tried == self.candidates_max {
                    return Some(Shrunk {
                        scenario: best,
                        seed: best_seed,
                        candidates_tried: tried,
                    });
                }
                tried += 1;
                if candidate.validate().is_err() {
                    continue;
                }
                if let Some(s) = self.failing_seed(&candidate, seed) {
                    best = candidate;
                    best_seed = s;
                    improved = true;
                    break;
                }
            }
            if !improved {
                return Some(Shrunk {
                    scenario: best,
                    seed: best_seed,
                    candidates_tried: tried,
                });
            }
        }
    }
}

/// Seeds a committed case is tried under, and seeds a bug must be found within.
pub const SEEDS_PER_SCHEDULE: u64 = 4;
pub const CATCH_SEEDS_MAX: u64 = 200;

/// A planted bug found in the standard scenarios and shrunk to a small case.
pub struct Case {
    pub bug: Bug,
    /// Where the sweep first caught it.
    pub found_in: String,
    pub found_seed: u64,
    pub shrunk: Shrunk,
}

impl Case {
    /// The shrunk schedule as a scenario file, its description saying where
    /// it came from and how to replay it.
    pub fn file_text(&self, path: &str) -> String {
        let mut scenario = self.shrunk.scenario.clone();
        scenario.name = format!("shrunk-{}", self.bug.name());
        scenario.description = format!(
            "{} shrunk by `ryw-sim reshrink` from {} seed {}. Replay: ryw-sim run {path} --seed {} --bug {}",
            self.bug.name(),
            self.found_in,
            self.found_seed,
            self.shrunk.seed,
            self.bug.name()
        );
        let mut text = serde_json::to_string_pretty(&scenario).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Finds `bug` in `scenarios` within [`CATCH_SEEDS_MAX`] seeds and shrinks
/// the first catch, trying each candidate under [`SEEDS_PER_SCHEDULE`] seeds.
pub fn find_and_shrink(bug: Bug, scenarios: &[(String, Scenario)]) -> Option<Case> {
    let (k, summary) = bug.first_catch(scenarios, 0..CATCH_SEEDS_MAX)?;
    let shrunk = shrink_bug(bug, &scenarios[k].1, summary.seed, 400)?;
    Some(Case {
        bug,
        found_in: scenarios[k].0.clone(),
        found_seed: summary.seed,
        shrunk,
    })
}

/// Shrinks a run of `scenario` that exposes `bug` under one of the
/// [`SEEDS_PER_SCHEDULE`] seeds from `seed`, trying at most `candidates_max`.
pub fn shrink_bug(
    bug: Bug,
    scenario: &Scenario,
    seed: u64,
    candidates_max: usize,
) -> Option<Shrunk> {
    let factory = bug.factory();
    let fails = move |summary: &Summary| bug.caught(summary);
    let shrink = Shrink {
        factory: &*factory,
        fails: &fails,
        seeds_per_schedule: SEEDS_PER_SCHEDULE,
        candidates_max,
    };
    if candidates_max == 0 {
        let seed = shrink.failing_seed(scenario, seed)?;
        return Some(Shrunk {
            scenario: scenario.clone(),
            seed,
            candidates_tried: 0,
        });
    }
    shrink.shrink(scenario, seed)
}

/// The seed a committed case's description names after `--seed`.
pub fn replay_seed(scenario: &Scenario) -> Option<u64> {
    let (_, rest) = scenario.description.split_once("--seed ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Candidates one step smaller than `s`, most promising first: without one
/// fault (last first), then fewer sessions, fewer keys, a shorter run, and
/// a repeated fault repeated half as often.
fn smaller(s: &Scenario) -> Vec<Scenario> {
    let mut out = Vec::new();
    for i in (0..s.faults.len()).rev() {
        let mut c = s.clone();
        c.faults.remove(i);
        out.push(c);
    }
    let w = &s.workload;
    if w.sessions > 1 {
        let mut c = s.clone();
        c.workload.sessions = w.sessions / 2;
        out.push(c);
        let mut c = s.clone();
        c.workload.sessions = w.sessions - 1;
        out.push(c);
    }
    if w.keys > 1 {
        let mut c = s.clone();
        c.workload.keys = w.keys - 1;
        out.push(c);
    }
    // A shorter run, keeping every fault inside it.
    let faults_end_ms = s
        .faults
        .iter()
        .map(|f| if f.never_heals() { f.at_ms } else { f.until_ms })
        .max()
        .unwrap_or(0);
    let shorter_ms = (s.duration_ms / 2).max(faults_end_ms.saturating_add(500));
    if shorter_ms < s.duration_ms {
        let mut c = s.clone();
        c.duration_ms = shorter_ms;
        out.push(c);
    }
    for i in (0..s.faults.len()).rev() {
        if s.faults[i].times > 2 {
            let mut c = s.clone();
            c.faults[i].times /= 2;
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::real_node;

    #[test]
    fn shrinking_keeps_the_failure_and_drops_what_does_not_matter() {
        // A stand-in failure that every run shows: "some operation ran".
        let scenario = Scenario::parse(
            r#"{"name": "s", "nodes": 3, "duration_ms": 4000,
                "workload": {"sessions": 4},
                "faults": [
                  {"at_ms": 100, "until_ms": 300, "kind": "isolate", "node": "n3"},
                  {"at_ms": 400, "until_ms": 900, "kind": "crash", "node": "n2"},
                  {"at_ms": 1000, "until_ms": 1200, "kind": "pause", "node": "n1"}
                ]}"#,
        )
        .expect("valid");
        let ran = |summary: &Summary| summary.ops.values().sum::<u64>() > 0;
        let shrink = Shrink {
            factory: &real_node,
            fails: &ran,
            seeds_per_schedule: 2,
            candidates_max: 200,
        };
        let shrunk = shrink.shrink(&scenario, 7).expect("fails at first");
        assert!(shrunk.scenario.faults.is_empty(), "no fault is needed");
        assert_eq!(shrunk.scenario.workload.sessions, 1);
        assert!(shrunk.scenario.duration_ms < scenario.duration_ms);
        assert!(ran(&run(
            &shrunk.scenario,
            RunOptions::new(shrunk.seed, &real_node)
        )));
    }

    #[test]
    fn a_scenario_that_never_fails_does_not_shrink() {
        let scenario =
            Scenario::parse(r#"{"name": "s", "nodes": 3, "duration_ms": 500}"#).expect("valid");
        let never = |_: &Summary| false;
        let shrink = Shrink {
            factory: &real_node,
            fails: &never,
            seeds_per_schedule: 2,
            candidates_max: 10,
        };
        assert!(shrink.shrink(&scenario, 0).is_none());
    }
}
