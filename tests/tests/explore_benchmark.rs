//! `ryw-sim explore` against plain swarm on the same budget of runs: the
//! distinct abstract states and events each reaches, and how many runs
//! each takes to catch every planted bug: the median over five seeds of
//! each, the same seeds 1 to 5 on both sides (swarm's seed `s` runs the
//! bases in turn under seeds from `s x 2^32` on; explore's seed `s` runs
//! exactly that sequence first, then every other run). The bases are the
//! standard and disk scenarios without `new-leader-late-acks.json`, which
//! was written to catch `read-index-old-round`: without it, that bug is
//! one no sweep of the others catches.
//!
//! It takes half an hour to an hour on 2 cores, so it runs only when asked:
//! `cargo test --release -p ryw-tests --test explore_benchmark -- --ignored --nocapture`.
//! `RYW_EXPLORE_RUNS` (default 10000) and `RYW_EXPLORE_CATCH_MAX` (default
//! 10000, the most runs a search gets to catch one bug) change its size;
//! `RYW_EXPLORE_BUGS=a,b` measures only those planted bugs;
//! `RYW_EXPLORE_SEEDS=n` runs seeds 1 to n on each side instead of five
//! (a hard bug's runs to its first catch vary several-fold from seed to
//! seed, and a median of five moves with one of them);
//! `RYW_EXPLORE_SWARM=0` skips swarm's side (after a change to the search
//! alone, swarm's figures stand: it has no feedback to change).

use ryw_sim::bugs::Bug;
use ryw_sim::explore::{Explorer, Mode};
use ryw_sim::{real_node, NodeFactory, Scenario};
use ryw_tests::{disk_scenario_files, display_path, scenario_files};

fn bases() -> Vec<(String, Scenario)> {
    scenario_files()
        .into_iter()
        .chain(disk_scenario_files())
        .filter(|p| !p.ends_with("new-leader-late-acks.json"))
        .map(|p| (display_path(&p), Scenario::load(&p).expect("parses")))
        .collect()
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs a search for `runs` runs, noting (states, events) at each of `at`.
fn coverage_curve(mode: Mode, seed: u64, runs: u64, at: &[u64]) -> Vec<(u64, usize, usize)> {
    let mut explorer = Explorer::new(bases(), seed, mode, &real_node);
    let mut curve = Vec::new();
    for &mark in at.iter().filter(|&&m| m <= runs) {
        while explorer.runs() < mark {
            let left = mark - explorer.runs();
            explorer.batch(jobs(), left, &mut |_| true);
        }
        let events = ryw_core::Event::ALL
            .iter()
            .filter(|&&e| explorer.coverage.reached(e))
            .count();
        curve.push((mark, explorer.coverage.states(), events));
    }
    curve
}

/// Runs until a run shows `bug`; how many runs that took (`None`: not
/// within `max`).
fn runs_to_catch(bug: Bug, mode: Mode, seed: u64, max: u64) -> Option<u64> {
    let factory: Box<NodeFactory> = bug.factory();
    let mut explorer = Explorer::new(bases(), seed, mode, &*factory);
    let mut caught = None;
    while caught.is_none() && explorer.runs() < max {
        let left = max - explorer.runs();
        explorer.batch(jobs(), left, &mut |ran| {
            if bug.caught(ran.summary) {
                caught = Some(ran.number);
                return false;
            }
            true
        });
    }
    caught
}

fn median(mut xs: Vec<Option<u64>>) -> String {
    // Not caught counts as more than any number.
    xs.sort_by_key(|x| x.unwrap_or(u64::MAX));
    match xs.get(xs.len() / 2) {
        Some(Some(n)) => n.to_string(),
        Some(None) => "not caught".to_owned(),
        None => "-".to_owned(), // not measured
    }
}

#[test]
#[ignore]
fn explore_against_plain_swarm() {
    let runs = env_u64("RYW_EXPLORE_RUNS", 10_000);
    let seeds = env_u64("RYW_EXPLORE_SEEDS", 5);
    let catch_max = env_u64("RYW_EXPLORE_CATCH_MAX", 10_000);
    let marks: Vec<u64> = [100, 1_000, 10_000]
        .into_iter()
        .filter(|&m| m <= runs)
        .collect();
    println!("bases: {} scenarios; {} cores", bases().len(), jobs());
    println!("| runs | swarm states: median (each seed) | explore states: median (each seed) | ratio of medians | events, swarm / explore (medians) |");
    println!("|---|---|---|---|---|");
    let with_swarm = std::env::var("RYW_EXPLORE_SWARM").map_or(true, |v| v != "0");
    let swarm_marks: &[u64] = if with_swarm { &marks } else { &[] };
    let curves = |mode: Mode, marks: &[u64]| -> Vec<Vec<(u64, usize, usize)>> {
        (1..=seeds)
            .map(|seed| coverage_curve(mode, seed, runs, marks))
            .collect()
    };
    let swarms = curves(Mode::Swarm, swarm_marks);
    let guided = curves(Mode::Guided, &marks);
    // (median states, each seed's, median events) at the k-th mark.
    let at = |curves: &[Vec<(u64, usize, usize)>], k: usize| -> (usize, String, usize) {
        let mut states: Vec<usize> = curves
            .iter()
            .filter_map(|c| c.get(k))
            .map(|m| m.1)
            .collect();
        let each: Vec<String> = states.iter().map(usize::to_string).collect();
        let mut events: Vec<usize> = curves
            .iter()
            .filter_map(|c| c.get(k))
            .map(|m| m.2)
            .collect();
        states.sort_unstable();
        events.sort_unstable();
        let mid = |xs: &[usize]| xs.get(xs.len() / 2).copied().unwrap_or(0);
        (mid(&states), each.join(", "), mid(&events))
    };
    for (k, mark) in marks.iter().enumerate() {
        let (s, s_each, s_events) = at(&swarms, k);
        let (g, g_each, g_events) = at(&guided, k);
        println!(
            "| {mark} | {s} ({s_each}) | {g} ({g_each}) | {:.2} | {s_events} / {g_events} |",
            g as f64 / s.max(1) as f64
        );
    }
    println!();
    println!("| planted bug | swarm: median runs to catch (seeds 1..={seeds}) | explore: median (seeds 1..={seeds}) | swarm, each seed | explore, each seed |");
    println!("|---|---|---|---|---|");
    // RYW_EXPLORE_BUGS=a,b: only those planted bugs.
    let only = std::env::var("RYW_EXPLORE_BUGS").unwrap_or_default();
    for bug in Bug::ALL {
        if !only.is_empty() && !only.split(',').any(|name| name == bug.name()) {
            continue;
        }
        let swarms: Vec<Option<u64>> = (1..=seeds)
            .filter(|_| with_swarm)
            .map(|seed| runs_to_catch(bug, Mode::Swarm, seed, catch_max))
            .collect();
        let guided: Vec<Option<u64>> = (1..=seeds)
            .map(|seed| runs_to_catch(bug, Mode::Guided, seed, catch_max))
            .collect();
        let each = |xs: &[Option<u64>]| -> String {
            let shown: Vec<String> = xs
                .iter()
                .map(|x| x.map_or("-".to_owned(), |n| n.to_string()))
                .collect();
            shown.join(", ")
        };
        println!(
            "| `{}` | {} | {} | {} | {} |",
            bug.name(),
            median(swarms.clone()),
            median(guided.clone()),
            each(&swarms),
            each(&guided)
        );
    }
}
