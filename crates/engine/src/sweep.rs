//! Many runs: scenarios × a range of seeds, split into shards and run on
//! several threads, with results reported in a fixed order.
//!
//! The (seed, scenario) pairs are computed from their position, never built
//! up front, so a range of a billion seeds costs no memory. Results are
//! handed to the caller strictly in seed order (then scenario order), so two
//! sweeps of the same range print the same text, whatever the threads did.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// Most worker threads a sweep may use.
pub const JOBS_MAX: usize = 256;

/// `A..B`: seeds A up to, not including, B; never empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    pub first: u64,
    pub end: u64,
}

impl SeedRange {
    pub fn parse(text: &str) -> Result<SeedRange, String> {
        let (a, b) = text
            .split_once("..")
            .ok_or(format!("expected A..B (for example 0..100), got {text:?}"))?;
        let number = |part: &str| {
            part.trim().parse::<u64>().map_err(|_| {
                format!("{part:?} in {text:?} is not a non-negative integer below 2^64")
            })
        };
        let (first, end) = (number(a)?, number(b)?);
        if first >= end {
            return Err(format!(
                "{text:?} holds no seed: the end must be above the start ({first}..{} holds one)",
                first.saturating_add(1)
            ));
        }
        Ok(SeedRange { first, end })
    }

    pub fn as_range(&self) -> Range<u64> {
        self.first..self.end
    }
}

impl std::fmt::Display for SeedRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.first, self.end)
    }
}

/// `K/N`: the K-th of N interleaved slices of the seeds (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub k: u64,
    pub n: u64,
}

impl Shard {
    pub const WHOLE: Shard = Shard { k: 1, n: 1 };

    pub fn parse(text: &str) -> Result<Shard, String> {
        let (k, n) = text
            .split_once('/')
            .ok_or(format!("expected K/N (for example 2/8), got {text:?}"))?;
        let number = |part: &str| {
            part.trim()
                .parse::<u64>()
                .map_err(|_| format!("{part:?} in {text:?} is not a non-negative integer"))
        };
        let (k, n) = (number(k)?, number(n)?);
        if n == 0 || k == 0 || k > n {
            return Err(format!("needs 1 <= K <= N, got {text}"));
        }
        Ok(Shard { k, n })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// What a sweep runs: every scenario under every seed of the shard.
pub struct Plan<S> {
    /// Scenarios with the path a person would type to replay them.
    pub scenarios: Vec<(String, S)>,
    pub seeds: SeedRange,
    pub shard: Shard,
}

impl<S> Plan<S> {
    /// Seeds of the range that fall in this shard.
    pub fn seed_count(&self) -> u64 {
        let span = self.seeds.end - self.seeds.first;
        let offset = self.shard.k - 1;
        if span <= offset {
            0
        } else {
            (span - offset).div_ceil(self.shard.n)
        }
    }

    /// Runs in the plan.
    pub fn runs(&self) -> u64 {
        self.seed_count()
            .saturating_mul(self.scenarios.len() as u64)
    }

    /// The `i`-th run: seeds in order, every scenario per seed.
    pub fn run_at(&self, i: u64) -> (usize, u64) {
        let per_seed = self.scenarios.len() as u64;
        let seed_index = i / per_seed;
        let seed = self.seeds.first + (self.shard.k - 1) + seed_index * self.shard.n;
        ((i % per_seed) as usize, seed)
    }
}

/// One finished run, handed over in plan order.
pub struct Finished<'a, R> {
    pub path: &'a str,
    pub seed: u64,
    pub result: R,
}

/// Why a sweep stopped before its end.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// The caller's `report` asked to stop (for example, stdout was closed).
    ByCaller,
}

/// Runs the plan on `jobs` threads: `run` does one (scenario, seed). `report`
/// sees every result in plan order and returns `false` to stop the sweep
/// early. Results that finish ahead of an earlier one wait in memory, so
/// keep them small.
pub fn sweep<S: Sync, R: Send>(
    plan: &Plan<S>,
    jobs: usize,
    run: &(dyn Fn(&S, u64) -> R + Sync),
    report: &(dyn Fn(Finished<'_, R>) -> bool + Sync),
) -> Result<(), Stopped> {
    assert!((1..=JOBS_MAX).contains(&jobs), "jobs checked by the caller");
    let total = plan.runs();
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    // Finished runs waiting for an earlier one, and the next to hand over.
    let order: Mutex<(u64, BTreeMap<u64, R>)> = Mutex::new((0, BTreeMap::new()));
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(total.max(1) as usize) {
            scope.spawn(|| loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return;
                }
                let (scenario, seed) = plan.run_at(i);
                let result = run(&plan.scenarios[scenario].1, seed);
                let mut order = order.lock().unwrap_or_else(|p| p.into_inner());
                order.1.insert(i, result);
                loop {
                    let due = order.0;
                    let Some(result) = order.1.remove(&due) else {
                        break;
                    };
                    order.0 += 1;
                    let (scenario, seed) = plan.run_at(due);
                    let path = &plan.scenarios[scenario].0;
                    if !report(Finished { path, seed, result }) {
                        stop.store(true, Ordering::Relaxed);
                        return;
                    }
                }
            });
        }
    });
    if stop.load(Ordering::Relaxed) {
        Err(Stopped::ByCaller)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_must_hold_a_seed() {
        assert_eq!(SeedRange::parse("3..5"), Ok(SeedRange { first: 3, end: 5 }));
        for bad in [
            "5..2",
            "5..5",
            "5",
            "a..3",
            "-1..3",
            "1..99999999999999999999",
        ] {
            assert!(SeedRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_cover_every_seed_once() {
        let scenario = String::from("s");
        let mut seen = Vec::new();
        for k in 1..=3 {
            let plan = Plan {
                scenarios: vec![
                    ("a".into(), scenario.clone()),
                    ("b".into(), scenario.clone()),
                ],
                seeds: SeedRange { first: 10, end: 17 },
                shard: Shard { k, n: 3 },
            };
            for i in 0..plan.runs() {
                seen.push(plan.run_at(i));
            }
        }
        seen.sort();
        let expected: Vec<(usize, u64)> = (10..17)
            .flat_map(|s| [(0, s), (1, s)])
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn a_huge_range_is_not_built_in_memory() {
        let scenario = String::from("s");
        let plan = Plan {
            scenarios: vec![("a".into(), scenario)],
            seeds: SeedRange::parse("0..18446744073709551615").expect("valid"),
            shard: Shard::WHOLE,
        };
        assert_eq!(plan.runs(), u64::MAX);
        assert_eq!(plan.run_at(u64::MAX - 1), (0, u64::MAX - 1));
        // Stops as soon as the caller says so.
        let seen = AtomicU64::new(0);
        let stopped = sweep(&plan, 2, &|_, seed| seed, &|_| {
            seen.fetch_add(1, Ordering::Relaxed) < 4
        });
        assert_eq!(stopped, Err(Stopped::ByCaller));
        assert!(seen.load(Ordering::Relaxed) >= 5);
    }

    #[test]
    fn results_arrive_in_seed_order_whatever_the_threads_do() {
        let scenario = String::from("s");
        let plan = Plan {
            scenarios: vec![("a".into(), scenario.clone()), ("b".into(), scenario)],
            seeds: SeedRange { first: 0, end: 12 },
            shard: Shard::WHOLE,
        };
        let order = Mutex::new(Vec::new());
        // Later seeds finish first: each run sleeps less the later its seed.
        let run = |_: &String, seed: u64| {
            std::thread::sleep(std::time::Duration::from_millis(12 - seed));
            seed
        };
        sweep(&plan, 4, &run, &|f| {
            assert_eq!(f.seed, f.result);
            order
                .lock()
                .expect("lock")
                .push((f.path.to_owned(), f.seed));
            true
        })
        .expect("ran to the end");
        let order = order.into_inner().expect("lock");
        let expected: Vec<(String, u64)> = (0..12)
            .flat_map(|s| [("a".to_owned(), s), ("b".to_owned(), s)])
            .collect();
        assert_eq!(order, expected);
    }
}
