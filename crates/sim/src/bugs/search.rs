//! Finding a planted bug the way a person sweeping would: seeds in order,
//! every scenario per seed, until a run's violations show the bug.

use super::catalogue::Bug;

impl Bug {
    /// The first (seed, scenario) that catches this bug, seeds in order and
    /// every scenario per seed, as a person sweeping would find it.
    pub fn first_catch(
        self,
        scenarios: &[(String, crate::Scenario)],
        seeds: std::ops::Range<u64>,
    ) -> Option<(usize, crate::Summary)> {
        self.catches(scenarios, seeds).next()
    }

    /// Every (scenario index, summary) that catches this bug, in the order
    /// of [`Bug::first_catch`]; runs are made as the iterator is read.
    pub fn catches(
        self,
        scenarios: &[(String, crate::Scenario)],
        seeds: std::ops::Range<u64>,
    ) -> impl Iterator<Item = (usize, crate::Summary)> + '_ {
        let factory = self.factory();
        let mut seeds = seeds;
        let mut seed = seeds.next();
        let mut k = 0;
        std::iter::from_fn(move || {
            while let Some(s) = seed {
                if k == scenarios.len() {
                    k = 0;
                    seed = seeds.next();
                    continue;
                }
                let summary = crate::run(&scenarios[k].1, crate::RunOptions::new(s, &*factory));
                k += 1;
                if self.caught(&summary) {
                    return Some((k - 1, summary));
                }
            }
            None
        })
    }
}
