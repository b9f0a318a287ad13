//! `ryw-sim explore`: a coverage-guided search. It keeps a corpus of inputs
//! (a scenario with its fault schedule, and a seed) that reached abstract
//! states ([`crate::abstract_state`]) or named events no run before them
//! had, and makes new inputs by mutating them ([`mutate`]). Plain swarm,
//! the baseline it is measured against, runs the same bases under fresh
//! seeds with no feedback.
//!
//! For the first [`WARM_UP_ROUNDS`] rounds of the bases, the search runs
//! exactly what plain swarm of the same seed runs: a bug a few seeds of
//! some scenario catch is caught at the same run as swarm catches it, and
//! the corpus fills with what the scenarios reach by themselves. From then
//! on, half the candidates are mutants of the corpus, and half carry on
//! the bases' own sequences of seeds, each base drawn by how often its
//! runs reach rare events ([`schedule`]).
//!
//! Deterministic from its seed: candidates are drawn in batches of
//! [`BATCH`] from the corpus as it stood before the batch, run on any
//! number of threads, and learnt from in the order they were drawn, so
//! `--jobs` changes the speed and nothing else.

pub mod corpus;
pub mod draw;
pub mod mutate;
pub mod rarity;
pub mod schedule;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ryw_core::Event;

use crate::coverage::Coverage;
use crate::node::NodeFactory;
use crate::report::Summary;
use crate::run::{run, RunOptions};
pub use mutate::Input;

/// Candidates drawn at once, before any of them is learnt from.
pub const BATCH: usize = 16;

/// Rounds of the bases (each under a fresh seed) before any mutant.
pub const WARM_UP_ROUNDS: u64 = 4;

/// One input of the corpus and what it found when it joined.
#[derive(Clone, Debug)]
pub struct Entry {
    pub input: Input,
    /// Where it came from: a base file, or its parent and the changes.
    pub origin: String,
    /// Abstract states no earlier run had reached.
    pub new_states: usize,
    /// The named events its run reached.
    pub events: Vec<Event>,
    /// The base it descends from (`None`: resumed from a corpus whose
    /// origin names none of this search's bases).
    pub base: Option<usize>,
}

/// How the search draws its inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Mutate the corpus, keep what reaches new ground.
    Guided,
    /// Plain swarm: each base in turn under a fresh seed, no feedback.
    Swarm,
}

/// One finished run, as the caller sees it.
pub struct Ran<'a> {
    /// 1 for the search's first run.
    pub number: u64,
    pub input: &'a Input,
    pub origin: &'a str,
    pub summary: &'a Summary,
    pub new_states: usize,
    pub new_events: Vec<Event>,
    /// Whether it joined the corpus.
    pub kept: bool,
}

/// A candidate: its input, its origin, its base, and whether it is a run
/// of the base's own sequence.
type Drawn = (Input, String, Option<usize>, bool);

pub struct Explorer<'a> {
    bases: Vec<(String, Input)>,
    pub corpus: Vec<Entry>,
    pub coverage: Coverage,
    rng: ChaCha8Rng,
    mode: Mode,
    factory: &'a NodeFactory,
    runs: u64,
    /// Inputs of the batch drawn last that have not run yet.
    pending: std::collections::VecDeque<Drawn>,
    schedule: schedule::Schedule,
    rarity: rarity::Rarity,
    /// Plain swarm's first seed: search seed `s` runs seeds from `s x 2^32`
    /// on (seed 0: 0, 1, 2, ...), so that swarm too can be measured over
    /// several searches.
    swarm_seed_base: u64,
}

impl<'a> Explorer<'a> {
    /// A search over `bases` (path, scenario), drawing from `seed`.
    pub fn new(
        bases: Vec<(String, crate::Scenario)>,
        seed: u64,
        mode: Mode,
        factory: &'a NodeFactory,
    ) -> Explorer<'a> {
        let swarm_seed_base = seed << 32;
        let schedule = schedule::Schedule::new(bases.len());
        let bases = bases
            .into_iter()
            .map(|(path, scenario)| {
                let input = Input {
                    scenario,
                    seed: swarm_seed_base,
                };
                (path, input)
            })
            .collect();
        Explorer {
            bases,
            corpus: Vec::new(),
            coverage: Coverage::default(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            mode,
            factory,
            runs: 0,
            pending: std::collections::VecDeque::new(),
            schedule,
            rarity: rarity::Rarity::default(),
            swarm_seed_base,
        }
    }

    /// Runs so far.
    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// Adds inputs saved by an earlier search; their runs are repeated
    /// (without counting as runs of this one) so that the coverage they
    /// reached is known again.
    pub fn resume(&mut self, entries: Vec<Entry>) {
        for mut entry in entries {
            // Its origin starts with the path of the base it descends from.
            entry.base = self.bases.iter().position(|(path, _)| {
                entry.origin == *path || entry.origin.starts_with(&format!("{path} + "))
            });
            let summary = self.run_one(&entry.input);
            self.coverage.add_states(&summary.abstract_states);
            self.coverage.add(
                &entry.input.scenario.name,
                entry.input.seed,
                &summary.reached,
            );
            self.rarity.learn(&summary.reached);
            self.rarity.hold(&summary.reached);
            self.corpus.push(entry);
        }
    }

    /// The next batch's inputs. Swarm: the bases in turn under the next
    /// seeds. Guided: the same sequence of bases and seeds for the first
    /// [`WARM_UP_ROUNDS`] rounds, then every other candidate a mutant of
    /// the corpus and every other the next run of a base the schedule
    /// draws.
    fn draw(&mut self, count: usize) -> Vec<Drawn> {
        let mut batch = Vec::with_capacity(count);
        while batch.len() < count {
            let n = self.runs + batch.len() as u64;
            let warm_up = self.warm_up_runs();
            // The bases under fresh seeds are plain swarm's own runs of
            // them: whatever swarm catches within the warm-up, the search
            // catches at the same run. The scenarios' own schedules are
            // strong priors (a search of mutants alone caught the disk bugs
            // later than plain swarm), and the search should not leave
            // them; after the warm-up, it runs more of those whose runs
            // reach rare events.
            let base_run = match self.mode {
                Mode::Swarm => Some(self.schedule.in_order(n)),
                Mode::Guided if n < warm_up => Some(self.schedule.in_order(n)),
                Mode::Guided if (n - warm_up).is_multiple_of(2) => {
                    Some(self.schedule.drawn(&mut self.rng))
                }
                Mode::Guided => None,
            };
            match base_run {
                Some((k, round)) => {
                    let (path, base) = &self.bases[k];
                    let input = Input {
                        scenario: base.scenario.clone(),
                        seed: self.swarm_seed_base + round,
                    };
                    let origin = match (self.mode, round) {
                        (Mode::Guided, 1..) => format!("{path} + reseed"),
                        _ => path.clone(),
                    };
                    batch.push((input, origin, Some(k), true));
                }
                None => {
                    let parent = self.pick_parent();
                    if let Some((child, what)) = mutate::mutate(&parent.0, &mut self.rng) {
                        batch.push((child, format!("{} + {what}", parent.1), parent.2, false));
                    }
                }
            }
        }
        batch
    }

    /// Runs before the first mutant.
    fn warm_up_runs(&self) -> u64 {
        WARM_UP_ROUNDS * self.bases.len() as u64
    }

    /// A parent: a quarter of the time one of the newest entries (what
    /// just found new ground is likely near more), a quarter of the time
    /// one that reached a rare event or pair of events (rare events mark
    /// hard states, and hard states are next to harder ones), a
    /// quarter of the time an entry drawn by the new states it found (a
    /// schedule that opened much new ground has more around it), otherwise
    /// any entry or base.
    fn pick_parent(&mut self) -> (Input, String, Option<usize>) {
        let pick = |entry: &Entry| (entry.input.clone(), entry.origin.clone(), entry.base);
        if !self.corpus.is_empty() {
            match self.rng.random_range(0..4) {
                0 => {
                    let recent = self.corpus.len().min(8);
                    let k = self.corpus.len() - 1 - self.rng.random_range(0..recent);
                    return pick(&self.corpus[k]);
                }
                1 => {
                    if let Some(k) = self.rare_entry() {
                        return pick(&self.corpus[k]);
                    }
                }
                2 => {
                    let k = self.productive_entry();
                    return pick(&self.corpus[k]);
                }
                _ => {}
            }
        }
        let k = self
            .rng
            .random_range(0..self.corpus.len() + self.bases.len());
        match self.corpus.get(k) {
            Some(entry) => pick(entry),
            None => {
                let (path, base) = &self.bases[k - self.corpus.len()];
                (base.clone(), path.clone(), Some(k - self.corpus.len()))
            }
        }
    }

    /// An entry drawn with odds in proportion to the abstract states it
    /// reached first (an entry kept for an event alone counts as one).
    fn productive_entry(&mut self) -> usize {
        let weights: Vec<u64> = self
            .corpus
            .iter()
            .map(|entry| entry.new_states.max(1) as u64)
            .collect();
        draw::weighted(&weights, &mut self.rng).expect("the corpus is not empty")
    }

    /// One of the entries that reached a rare event, or a rare pair of
    /// events, drawn by [`rarity::Rarity`].
    fn rare_entry(&mut self) -> Option<usize> {
        let (a, b) = self.rarity.draw(&mut self.rng)?;
        let holders: Vec<usize> = (0..self.corpus.len())
            .filter(|&k| {
                let events = &self.corpus[k].events;
                events.contains(&a) && events.contains(&b)
            })
            .collect();
        if holders.is_empty() {
            return None;
        }
        Some(holders[self.rng.random_range(0..holders.len())])
    }

    fn run_one(&self, input: &Input) -> Summary {
        let mut summary = run(&input.scenario, RunOptions::new(input.seed, self.factory));
        summary.latencies_ms.clear();
        summary.recording = None;
        summary
    }

    /// Runs one batch on `jobs` threads and learns from it in draw order,
    /// showing each run to `seen`; stops early (returns `false`) when
    /// `seen` does, or after `runs_left` runs.
    pub fn batch(
        &mut self,
        jobs: usize,
        runs_left: u64,
        seen: &mut dyn FnMut(Ran<'_>) -> bool,
    ) -> bool {
        if runs_left == 0 {
            return false;
        }
        // Batches are drawn whole, so that a caller that asks for fewer
        // runs (a milestone, a budget) does not change what is drawn: the
        // rest wait here, drawn from the corpus as it stood.
        if self.pending.is_empty() {
            self.pending = self.draw(BATCH).into();
        }
        let count = self.pending.len().min(runs_left as usize);
        let inputs: Vec<Drawn> = self.pending.drain(..count).collect();
        let summaries: Vec<Mutex<Option<Summary>>> = (0..count).map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..jobs.clamp(1, count) {
                scope.spawn(|| loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some((input, ..)) = inputs.get(k) else {
                        break;
                    };
                    let summary = self.run_one(input);
                    *summaries[k].lock().unwrap_or_else(|p| p.into_inner()) = Some(summary);
                });
            }
        });
        for ((input, origin, base, own), summary) in inputs.into_iter().zip(summaries) {
            let summary = summary
                .into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("every input ran");
            self.runs += 1;
            let before: Vec<bool> = Event::ALL
                .iter()
                .map(|&e| self.coverage.reached(e))
                .collect();
            let new_states = self.coverage.add_states(&summary.abstract_states);
            self.coverage
                .add(&input.scenario.name, input.seed, &summary.reached);
            let new_events: Vec<Event> = Event::ALL
                .iter()
                .zip(before)
                .filter(|&(&e, was)| !was && self.coverage.reached(e))
                .map(|(&e, _)| e)
                .collect();
            if let (Some(base), true) = (base, own) {
                self.schedule.learn(base, &summary.reached);
            }
            self.rarity.learn(&summary.reached);
            let failed = !summary.violations.is_empty();
            let kept =
                self.mode == Mode::Guided && !failed && (new_states > 0 || !new_events.is_empty());
            if kept {
                self.rarity.hold(&summary.reached);
                self.corpus.push(Entry {
                    input: input.clone(),
                    origin: origin.clone(),
                    new_states,
                    events: reached_events(&summary),
                    base,
                });
            }
            let go_on = seen(Ran {
                number: self.runs,
                input: &input,
                origin: &origin,
                summary: &summary,
                new_states,
                new_events,
                kept,
            });
            if !go_on {
                return false;
            }
        }
        true
    }
}

/// The named events a run reached.
fn reached_events(summary: &Summary) -> Vec<Event> {
    Event::ALL
        .iter()
        .zip(&summary.reached)
        .filter(|&(_, &count)| count > 0)
        .map(|(&e, _)| e)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::real_node;
    use crate::Scenario;

    fn bases() -> Vec<(String, Scenario)> {
        let scenario = Scenario::parse(
            r#"{"name": "small", "nodes": 3, "duration_ms": 800,
                "workload": {"sessions": 2},
                "faults": [{"at_ms": 300, "until_ms": 500, "kind": "isolate", "node": "leader"}]}"#,
        )
        .expect("valid");
        vec![("small.json".to_owned(), scenario)]
    }

    fn search(seed: u64, jobs: usize, mode: Mode) -> (Vec<String>, usize, usize) {
        let mut explorer = Explorer::new(bases(), seed, mode, &real_node);
        let mut seen = Vec::new();
        while explorer.runs() < 48 {
            let left = 48 - explorer.runs();
            explorer.batch(jobs, left, &mut |ran| {
                seen.push(format!(
                    "{} {} {}",
                    ran.origin, ran.input.seed, ran.new_states
                ));
                true
            });
        }
        (seen, explorer.coverage.states(), explorer.corpus.len())
    }

    #[test]
    fn the_same_seed_gives_the_same_search_on_any_number_of_threads() {
        let one = search(3, 1, Mode::Guided);
        let two = search(3, 2, Mode::Guided);
        assert_eq!(one, two);
        assert_ne!(
            one.0,
            search(4, 1, Mode::Guided).0,
            "another seed, another search"
        );
        assert!(one.2 > 0, "something joined the corpus");
    }

    #[test]
    fn the_search_is_the_same_however_its_budget_is_cut() {
        // Cut at odd places (a milestone, a time limit), or in whole
        // batches: the same inputs, in the same order.
        let runs = |cuts: &[u64]| -> Vec<(u64, String)> {
            let mut explorer = Explorer::new(bases(), 9, Mode::Guided, &real_node);
            let mut seen = Vec::new();
            for &cut in cuts {
                while explorer.runs() < cut {
                    let left = cut - explorer.runs();
                    explorer.batch(2, left, &mut |ran| {
                        seen.push((ran.input.seed, ran.origin.to_owned()));
                        true
                    });
                }
            }
            seen
        };
        let whole = runs(&[64]);
        assert_eq!(whole, runs(&[5, 21, 22, 40, 64]));
        assert!(whole.iter().any(|(_, origin)| origin.contains(" + add ")));
    }

    #[test]
    fn entries_are_drawn_in_proportion_to_the_new_states_they_found() {
        let mut explorer = Explorer::new(bases(), 7, Mode::Guided, &real_node);
        let (_, base) = bases().remove(0);
        for new_states in [0, 1, 98] {
            explorer.corpus.push(Entry {
                input: Input {
                    scenario: base.clone(),
                    seed: new_states as u64,
                },
                origin: format!("found {new_states}"),
                new_states,
                events: Vec::new(),
                base: None,
            });
        }
        let mut drawn = [0u32; 3];
        for _ in 0..10_000 {
            drawn[explorer.productive_entry()] += 1;
        }
        // Weights 1 (an entry kept for an event alone), 1 and 98.
        assert!((50..150).contains(&drawn[0]), "{drawn:?}");
        assert!((50..150).contains(&drawn[1]), "{drawn:?}");
        assert!(drawn[2] > 9_600, "{drawn:?}");
        // And parents are drawn that way a quarter of the time: the entry
        // that found 98 states is picked about 45% of the time (a quarter
        // of it by this draw), where the other ways alone would pick it
        // about 27% of the time.
        let productive = (0..4_000)
            .filter(|_| explorer.pick_parent().0.seed == 98)
            .count();
        assert!(productive > 1_600, "{productive} of 4000");
    }

    /// The rare parent holds both events of the pair the rarity draws:
    /// here the only pair held by one entry alone and reached by few runs.
    #[test]
    fn the_rare_parent_is_an_entry_that_reached_the_rare_pair_drawn() {
        use Event::*;
        let mut explorer = Explorer::new(bases(), 7, Mode::Guided, &real_node);
        assert_eq!(explorer.rare_entry(), None, "an empty corpus holds nothing");
        let (_, base) = bases().remove(0);
        let common = [LeaderElected, FollowerReadServedAtOnce];
        let rare = [
            LeaderElected,
            SnapshotInstalled,
            DuplicateAnsweredFromFilter,
        ];
        let halves = [&common[..], &rare[..2], &rare[..]];
        for (k, events) in halves.iter().enumerate() {
            explorer.corpus.push(Entry {
                input: Input {
                    scenario: base.clone(),
                    seed: k as u64,
                },
                origin: format!("entry {k}"),
                new_states: 1,
                events: events.to_vec(),
                base: None,
            });
            explorer.rarity.hold(&draw::reached_counts(events));
        }
        // Runs: the common pair 1,000 times, snapshots alone 100, the
        // rare pair once (the third entry's own run).
        for _ in 0..1_000 {
            explorer.rarity.learn(&draw::reached_counts(&common));
        }
        for _ in 0..100 {
            explorer.rarity.learn(&draw::reached_counts(&rare[..2]));
        }
        explorer.rarity.learn(&draw::reached_counts(&rare));
        let mut drawn = [0u32; 3];
        for _ in 0..3_000 {
            let k = explorer.rare_entry().expect("entries hold pairs");
            drawn[k] += 1;
        }
        // Every pair with the filter's event is held by the third entry
        // alone and reached once: it is drawn most, and only it for them.
        assert!(drawn[2] > 2_000, "{drawn:?}");
        assert!(drawn[0] > 0 && drawn[1] > 0, "{drawn:?}");
    }

    #[test]
    fn a_parent_drawn_from_the_bases_names_its_own_base() {
        let mut two = bases();
        let (_, mut other) = two[0].clone();
        other.name = "other".to_owned();
        two.push(("other.json".to_owned(), other));
        let mut explorer = Explorer::new(two, 2, Mode::Guided, &real_node);
        let (_, base) = bases().remove(0);
        for seed in 0..3 {
            explorer.corpus.push(Entry {
                input: Input {
                    scenario: base.clone(),
                    seed,
                },
                origin: format!("small.json + reseed {seed}"),
                new_states: 1,
                events: Vec::new(),
                base: Some(0),
            });
        }
        let mut from_bases = [0; 2];
        for _ in 0..400 {
            let (_, origin, base) = explorer.pick_parent();
            if let Some(k) = ["small.json", "other.json"]
                .iter()
                .position(|p| origin == *p)
            {
                assert_eq!(base, Some(k), "{origin}");
                from_bases[k] += 1;
            }
        }
        assert!(from_bases.iter().all(|&n| n > 10), "{from_bases:?}");
    }

    #[test]
    fn a_resumed_entry_descends_from_the_base_its_origin_names_and_its_coverage_is_known() {
        let mut explorer = Explorer::new(bases(), 1, Mode::Guided, &real_node);
        let (_, base) = bases().remove(0);
        let entry = |origin: &str| Entry {
            input: Input {
                scenario: base.clone(),
                seed: 5,
            },
            origin: origin.to_owned(),
            new_states: 3,
            events: Vec::new(),
            base: None,
        };
        explorer.resume(vec![
            entry("small.json"),
            entry("small.json + reseed, drop faults[0]"),
            entry("small.jsonx + reseed"),
            entry("elsewhere/small.json"),
        ]);
        let found: Vec<Option<usize>> = explorer.corpus.iter().map(|e| e.base).collect();
        assert_eq!(found, [Some(0), Some(0), None, None]);
        assert!(explorer.coverage.states() > 0, "their runs were repeated");
        assert_eq!(explorer.runs(), 0, "and do not count as this search's");
    }

    #[test]
    fn swarm_runs_the_bases_under_fresh_seeds_and_keeps_nothing() {
        let (seen, states, corpus) = search(0, 2, Mode::Swarm);
        assert_eq!(corpus, 0);
        assert!(states > 0);
        assert!(seen[0].starts_with("small.json 0 "));
        assert!(seen[5].starts_with("small.json 5 "));
        // Another search seed, other seeds: from seed x 2^32 on.
        let (seen, _, _) = search(3, 2, Mode::Swarm);
        assert!(seen[0].starts_with(&format!("small.json {} ", 3u64 << 32)));
    }

    #[test]
    fn the_warm_up_runs_the_bases_under_fresh_seeds_before_any_mutant() {
        let (seen, _, _) = search(3, 1, Mode::Guided);
        let warm_up = WARM_UP_ROUNDS as usize; // one base
        assert!(seen[0].starts_with("small.json "), "{seen:?}");
        for run in &seen[1..warm_up] {
            assert!(run.starts_with("small.json + reseed "), "{seen:?}");
        }
        assert!(
            seen[warm_up..].iter().any(|run| !run.contains("+ reseed")),
            "mutants after the warm-up: {seen:?}"
        );
    }

    #[test]
    fn the_search_runs_swarms_sequence_first_and_then_the_bases_own_runs_every_other_run() {
        // What a run was: its scenario and seed (what it found differs, as
        // a base's first run in the search finds everything new).
        let two_bases = || {
            let mut two = bases();
            let (_, mut other) = two[0].clone();
            other.name = "other".to_owned();
            two.push(("other.json".to_owned(), other));
            two
        };
        let runs = |mode: Mode| -> Vec<(String, u64)> {
            let mut explorer = Explorer::new(two_bases(), 5, mode, &real_node);
            let mut seen = Vec::new();
            while explorer.runs() < 40 {
                let left = 40 - explorer.runs();
                explorer.batch(2, left, &mut |ran| {
                    seen.push((ran.input.scenario.name.clone(), ran.input.seed));
                    true
                });
            }
            // Every entry descends from the base its origin names (the
            // schedule credits that base with what its descendants reach).
            for entry in &explorer.corpus {
                let named = ["small.json", "other.json"]
                    .iter()
                    .position(|path| entry.origin.starts_with(path));
                assert_eq!(entry.base, named, "{}", entry.origin);
            }
            seen
        };
        let swarm = runs(Mode::Swarm);
        let first = 5u64 << 32;
        let expected = [("small", first), ("other", first), ("small", first + 1)];
        for (run, (name, seed)) in swarm.iter().zip(expected) {
            assert_eq!(
                (run.0.as_str(), run.1),
                (name, seed),
                "each base in turn, then the next seed"
            );
        }
        let guided = runs(Mode::Guided);
        let warm_up = 2 * WARM_UP_ROUNDS as usize; // two bases
        assert_eq!(guided[..warm_up], swarm[..warm_up]);
        // Then every other run is the next of some base's own runs: each
        // base's, in the order the search ran them, are swarm's runs of it.
        let mut rounds: std::collections::BTreeMap<String, u64> = Default::default();
        for (name, seed) in guided[warm_up..].iter().step_by(2) {
            let round = rounds.entry(name.clone()).or_insert(WARM_UP_ROUNDS);
            assert_eq!(*seed, first + *round, "{name}'s next run in swarm");
            *round += 1;
        }
        assert_eq!(rounds.values().sum::<u64>(), 2 * WARM_UP_ROUNDS + 16);
    }
}
