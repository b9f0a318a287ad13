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
            "{} shrunk by `ryw-sim reshrink` from {} seed {}. Replay: ryw-sim run {} --seed {} --bug {}",
            self.bug.name(),
            self.found_in,
            self.found_seed,
            crate::report::shell_word(path),
            self.shrunk.seed,
            self.bug.name()
        );
        let mut text = serde_json::to_string_pretty(&scenario).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Catches [`find_and_shrink`] shrinks at most before it keeps the smallest.
pub const CATCHES_SHRUNK_MAX: usize = 4;

/// Finds `bug` in `scenarios` within [`CATCH_SEEDS_MAX`] seeds and shrinks
/// its catches in sweep order, each candidate tried under
/// [`SEEDS_PER_SCHEDULE`] seeds, until one shrinks to `faults_enough`
/// faults or fewer or [`CATCHES_SHRUNK_MAX`] have been shrunk; returns the
/// smallest. A greedy reducer stops at a local minimum, and where it stops
/// depends on the run it starts from, so a second start is often smaller.
/// Only scenarios that write their faults are shrunk when any catches the
/// bug: a swarm run draws its faults from the seed, which no reducer step
/// can drop.
pub fn find_and_shrink(
    bug: Bug,
    scenarios: &[(String, Scenario)],
    candidates_max: usize,
    faults_enough: usize,
) -> Option<Case> {
    let written: Vec<(String, Scenario)> = scenarios
        .iter()
        .filter(|(_, s)| !s.swarm)
        .cloned()
        .collect();
    let pool = if bug.first_catch(&written, 0..CATCH_SEEDS_MAX).is_some() {
        &written[..]
    } else {
        scenarios
    };
    let mut best: Option<Case> = None;
    for (k, summary) in bug
        .catches(pool, 0..CATCH_SEEDS_MAX)
        .take(CATCHES_SHRUNK_MAX)
    {
        let Some(shrunk) = shrink_bug(bug, &pool[k].1, summary.seed, candidates_max) else {
            continue;
        };
        let case = Case {
            bug,
            found_in: pool[k].0.clone(),
            found_seed: summary.seed,
            shrunk,
        };
        let enough = case.shrunk.scenario.faults.len() <= faults_enough;
        if best.as_ref().is_none_or(|b| case.is_smaller_than(b)) {
            best = Some(case);
        }
        if enough {
            break;
        }
    }
    best
}

impl Case {
    /// Fewer faults first, then fewer sessions, then a shorter run.
    fn is_smaller_than(&self, other: &Case) -> bool {
        let size = |c: &Case| {
            let s = &c.shrunk.scenario;
            (s.faults.len(), s.workload.sessions, s.duration_ms)
        };
        size(self) < size(other)
    }
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

/// Candidates one step smaller than `s`, most promising first: without a
/// block of faults (halves, then quarters, ... as in delta debugging: a
/// fault that comes after the failure never matters, and dropping the whole
/// tail at once keeps the rest of the run's timing), without one fault
/// (last first), then fewer sessions and keys (half, then one fewer), a shorter run, a repeated
/// fault repeated half as often, and last without two faults that are not
/// next to each other (two faults can be needed only together to keep a
/// failure's timing, so neither can go alone).
fn smaller(s: &Scenario) -> Vec<Scenario> {
    let n = s.faults.len();
    let without = |drop: &[usize]| {
        let mut c = s.clone();
        c.faults = (0..n)
            .filter(|i| !drop.contains(i))
            .map(|i| s.faults[i].clone())
            .collect();
        c
    };
    let mut out = Vec::new();
    let mut block = n / 2;
    while block >= 2 {
        // Blocks aligned from the end, so the tail goes first.
        let mut end = n;
        while end >= block {
            let drop: Vec<usize> = (end - block..end).collect();
            out.push(without(&drop));
            end -= block;
        }
        block /= 2;
    }
    for i in (0..n).rev() {
        out.push(without(&[i]));
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
        c.workload.keys = w.keys / 2;
        out.push(c);
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
    for i in (0..n).rev() {
        if s.faults[i].times > 1 {
            let mut c = s.clone();
            let fault = &mut c.faults[i];
            fault.times /= 2;
            if fault.times <= 1 {
                // Once: a plain fault, which a scenario file writes
                // without `every_ms` and `times`.
                fault.times = 0;
                fault.every_ms = 0;
            }
            out.push(c);
        }
    }
    for j in (0..n).rev() {
        for i in (0..j.saturating_sub(1)).rev() {
            out.push(without(&[i, j]));
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
    fn every_candidate_is_a_valid_scenario_file() {
        // A fault repeated 3 times halves to once: a plain fault, not
        // `times: 1`, which a scenario file refuses.
        let scenario = Scenario::parse(
            r#"{"name": "s", "nodes": 3, "duration_ms": 4000,
                "faults": [
                  {"at_ms": 100, "until_ms": 300, "every_ms": 500, "times": 3, "kind": "crash", "node": "n2"},
                  {"at_ms": 2000, "until_ms": 2100, "every_ms": 20, "times": 2, "kind": "pause", "node": "n1"}
                ]}"#,
        )
        .expect("valid");
        let candidates = smaller(&scenario);
        assert!(candidates
            .iter()
            .any(|c| c.faults.len() == 2 && c.faults[0].times == 0));
        for c in candidates {
            let text = serde_json::to_string(&c).expect("serialises");
            Scenario::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        }
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
