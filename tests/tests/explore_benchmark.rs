//! `ryw-sim explore` against plain swarm on the same budget of runs: the
//! distinct abstract states and events each reaches, and how many runs
//! each takes to catch every planted bug: the median over five seeds of
//! each (swarm's seed `s` runs the bases in turn under seeds from
//! `s x 2^32` on, so seed 0 runs seeds 0, 1, 2, ...; its figure is shown
//! alone too, as it was measured before swarm had seeds). The bases are
//! the standard and disk scenarios without `new-leader-late-acks.json`,
//! which was written to catch `read-index-old-round`: without it, that bug
//! is one no sweep of the others catches.
//!
//! It takes about an hour on 2 cores, so it runs only when asked:
//! `cargo test --release -p ryw-tests --test explore_benchmark -- --ignored --nocapture`.
//! `RYW_EXPLORE_RUNS` (default 10000) and `RYW_EXPLORE_CATCH_MAX` (default
//! 10000, the most runs a search gets to catch one bug) change its size;
//! `RYW_EXPLORE_BUGS=a,b` measures only those planted bugs;
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
    let catch_max = env_u64("RYW_EXPLORE_CATCH_MAX", 10_000);
    let marks: Vec<u64> = [100, 1_000, 10_000]
        .into_iter()
        .filter(|&m| m <= runs)
        .collect();
    println!("bases: {} scenarios; {} cores", bases().len(), jobs());
    println!(
        "| runs | swarm states | explore states (seed 1) | ratio | swarm events | explore events |"
    );
    println!("|---|---|---|---|---|---|");
    let with_swarm = std::env::var("RYW_EXPLORE_SWARM").map_or(true, |v| v != "0");
    let swarm_marks: &[u64] = if with_swarm { &marks } else { &[] };
    let swarm = coverage_curve(Mode::Swarm, 0, runs, swarm_marks);
    let guided = coverage_curve(Mode::Guided, 1, runs, &marks);
    for (s, g) in swarm.iter().zip(&guided) {
        println!(
            "| {} | {} | {} | {:.2} | {} | {} |",
            s.0,
            s.1,
            g.1,
            g.1 as f64 / s.1.max(1) as f64,
            s.2,
            g.2
        );
    }
    println!();
    println!("| planted bug | swarm: runs to catch (seed 0) | swarm: median (seeds 0..5) | explore: median runs to catch (seeds 1..=5) | swarm, each seed | explore, each seed |");
    println!("|---|---|---|---|---|---|");
    // RYW_EXPLORE_BUGS=a,b: only those planted bugs.
    let only = std::env::var("RYW_EXPLORE_BUGS").unwrap_or_default();
    for bug in Bug::ALL {
        if !only.is_empty() && !only.split(',').any(|name| name == bug.name()) {
            continue;
        }
        let swarms: Vec<Option<u64>> = (0..5)
            .filter(|_| with_swarm)
            .map(|seed| runs_to_catch(bug, Mode::Swarm, seed, catch_max))
            .collect();
        let swarm = swarms.first().copied().flatten();
        let guided: Vec<Option<u64>> = (1..=5)
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
            "| `{}` | {} | {} | {} | {} | {} |",
            bug.name(),
            match (with_swarm, swarm) {
                (false, _) => "-".to_owned(),
                (true, None) => "not caught".to_owned(),
                (true, Some(n)) => n.to_string(),
            },
            median(swarms.clone()),
            median(guided.clone()),
            each(&swarms),
            each(&guided)
        );
    }
}
