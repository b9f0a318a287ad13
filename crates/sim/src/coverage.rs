//! Which named events ([`ryw_core::Event`]) a sweep reached: per event, how
//! many runs reached it and the first (scenario, seed) that did, and per
//! scenario which it reached, to hold each scenario to the events it
//! exists to reach (`expect.reach`); and how many distinct abstract states
//! ([`crate::abstract_state`]) its runs reached together.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use ryw_core::Event;

/// One event's coverage in a sweep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reach {
    /// Runs in which it happened at least once.
    pub runs: u64,
    /// The first run that reached it, in the sweep's order: (scenario, seed).
    pub first: Option<(String, u64)>,
}

/// The events a sweep reached. Runs must be added in the sweep's order
/// (seeds, then scenarios) for `first` to be the first a person would see.
#[derive(Clone, Debug)]
pub struct Coverage {
    events: Vec<Reach>,
    by_scenario: BTreeMap<String, [bool; Event::COUNT]>,
    /// Distinct abstract states: only inserted into and counted, never
    /// iterated, so its order reaches nothing.
    states: HashSet<u64>,
}

impl Default for Coverage {
    fn default() -> Coverage {
        Coverage {
            events: vec![Reach::default(); Event::COUNT],
            by_scenario: BTreeMap::new(),
            states: HashSet::new(),
        }
    }
}

impl Coverage {
    /// Adds one run of `scenario` under `seed`, with its event counts
    /// (`Summary::reached`).
    pub fn add(&mut self, scenario: &str, seed: u64, reached: &[u64]) {
        let seen = self
            .by_scenario
            .entry(scenario.to_owned())
            .or_insert([false; Event::COUNT]);
        for (k, &count) in reached.iter().enumerate() {
            if count == 0 {
                continue;
            }
            seen[k] = true;
            let reach = &mut self.events[k];
            reach.runs += 1;
            reach
                .first
                .get_or_insert_with(|| (scenario.to_owned(), seed));
        }
    }

    /// Adds one run's abstract states (`Summary::abstract_states`); how
    /// many of them no run added before had reached.
    pub fn add_states(&mut self, states: &[u64]) -> usize {
        states.iter().filter(|&&h| self.states.insert(h)).count()
    }

    /// Distinct abstract states over every run added.
    pub fn states(&self) -> usize {
        self.states.len()
    }

    /// Whether some run reached `event`.
    pub fn reached(&self, event: Event) -> bool {
        self.of(event).runs > 0
    }

    pub fn of(&self, event: Event) -> &Reach {
        &self.events[event as usize]
    }

    /// The events of `expected` that no run of `scenario` reached.
    pub fn unreached(&self, scenario: &str, expected: &[Event]) -> Vec<Event> {
        let seen = self.by_scenario.get(scenario);
        expected
            .iter()
            .copied()
            .filter(|&e| !seen.is_some_and(|s| s[e as usize]))
            .collect()
    }

    /// One line per event: runs that reached it, the first that did, and
    /// what it means.
    pub fn table(&self, runs: u64) -> String {
        let mut out = format!("events reached, over {runs} runs:\n");
        for event in Event::ALL {
            let reach = self.of(event);
            let first = match &reach.first {
                Some((scenario, seed)) => format!("first {scenario} seed {seed}"),
                None => "never".to_owned(),
            };
            let _ = writeln!(
                out,
                "  {:<38} {:>8} runs  {first}  ({})",
                event.name(),
                reach.runs,
                event.meaning()
            );
        }
        out
    }

    /// The same as CSV: a header, then one row per event.
    pub fn csv(&self) -> String {
        let mut out = String::from("event,runs,first_scenario,first_seed,meaning\n");
        for event in Event::ALL {
            let reach = self.of(event);
            let (scenario, seed) = match &reach.first {
                Some((scenario, seed)) => (csv_field(scenario), seed.to_string()),
                None => (String::new(), String::new()),
            };
            let _ = writeln!(
                out,
                "{},{},{scenario},{seed},{}",
                event.name(),
                reach.runs,
                csv_field(event.meaning())
            );
        }
        out
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_counts_runs_keeps_the_first_and_names_what_a_scenario_missed() {
        let mut coverage = Coverage::default();
        let mut counts = [0; Event::COUNT];
        counts[Event::LeaderElected as usize] = 3;
        coverage.add("a.json", 4, &counts);
        counts[Event::EntryOverwritten as usize] = 1;
        coverage.add("b.json", 4, &counts);
        coverage.add("a.json", 5, &[0; Event::COUNT]);
        let elected = coverage.of(Event::LeaderElected);
        assert_eq!(elected.runs, 2);
        assert_eq!(elected.first, Some(("a.json".to_owned(), 4)));
        assert_eq!(
            coverage.of(Event::EntryOverwritten).first,
            Some(("b.json".to_owned(), 4))
        );
        let expected = [Event::LeaderElected, Event::EntryOverwritten];
        assert_eq!(
            coverage.unreached("a.json", &expected),
            [Event::EntryOverwritten]
        );
        assert!(coverage.unreached("b.json", &expected).is_empty());
        assert_eq!(coverage.unreached("c.json", &expected), expected);
        let csv = coverage.csv();
        assert_eq!(csv.lines().count(), 1 + Event::COUNT);
        assert!(csv.contains("\nleader-elected,2,a.json,4,a candidate won an election\n"));
        assert!(csv.contains("\nentry-overwritten,1,b.json,4,"));
        assert!(coverage.table(3).contains("never"));
    }

    #[test]
    fn csv_fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
    }
}
