//! `ryw-sim` command line: `run` one seed, `sweep` many.
//!
//! Exit status: 0 nothing violated, 1 a violation was found, 2 bad usage or
//! a scenario file that does not parse.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use ryw_sim::bugs::Bug;
use ryw_sim::world::NodeFactory;
use ryw_sim::{real_node, run, RunOptions, Scenario};

const USAGE: &str = "usage:
  ryw-sim run SCENARIO --seed N [--trace FILE] [--json] [--bug NAME]
              [--svg FILE [--from-ms A] [--to-ms B]]
  ryw-sim sweep SCENARIO... --seeds A..B [--jobs J] [--shard K/N] [--bug NAME]
  ryw-sim bugs
  ryw-sim reshrink [--dir DIR]   find each planted bug in DIR/*.json (default
              sim-scenarios), shrink it, rewrite DIR/shrunk/BUG.json
  ryw-sim bench [--seed N] [--csv FILE] [--plot FILE.svg]
  ryw-sim speed [SCENARIO...] [--seeds N] [--requests N]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => cmd_run(&args[1..]),
        Some("sweep") => cmd_sweep(&args[1..]),
        Some("bench") => cmd_bench(&args[1..]),
        Some("reshrink") => cmd_reshrink(&args[1..]),
        Some("speed") => cmd_speed(&args[1..]),
        Some("bugs") => {
            for bug in Bug::ALL {
                println!(
                    "{:<30} {} (caught by: {})",
                    bug.name(),
                    bug.description(),
                    bug.caught_by().join(" or ")
                );
            }
            Ok(true)
        }
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(why) => {
            eprintln!("ryw-sim: {why}");
            ExitCode::from(2)
        }
    }
}

/// Splits `--flag value` options from positional arguments.
struct Args {
    positional: Vec<String>,
    options: Vec<(String, Option<String>)>,
}

fn parse(args: &[String], flags_with_value: &[&str], bare_flags: &[&str]) -> Result<Args, String> {
    let mut parsed = Args {
        positional: Vec::new(),
        options: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if flags_with_value.contains(&arg.as_str()) {
            let value = args
                .get(i + 1)
                .ok_or(format!("{arg} needs a value\n{USAGE}"))?;
            parsed.options.push((arg.clone(), Some(value.clone())));
            i += 2;
        } else if bare_flags.contains(&arg.as_str()) {
            parsed.options.push((arg.clone(), None));
            i += 1;
        } else if arg.starts_with("--") {
            return Err(format!("unknown option {arg}\n{USAGE}"));
        } else {
            parsed.positional.push(arg.clone());
            i += 1;
        }
    }
    Ok(parsed)
}

impl Args {
    fn value(&self, flag: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(f, _)| f == flag)
            .and_then(|(_, v)| v.as_deref())
    }
    /// The number given with `flag`, or `default` when the flag is absent.
    fn number_or(&self, flag: &str, default: u64) -> Result<u64, String> {
        self.value(flag).map_or(Ok(default), |v| number(flag, v))
    }

    fn has(&self, flag: &str) -> bool {
        self.options.iter().any(|(f, _)| f == flag)
    }
}

/// The node factory: the real store, or the store with `--bug NAME` planted.
fn factory(args: &Args) -> Result<(Box<NodeFactory>, Option<String>), String> {
    match args.value("--bug") {
        None => Ok((Box::new(real_node), None)),
        Some(name) => {
            let bug = Bug::parse(name)?;
            Ok((bug.factory(), Some(bug.name().to_owned())))
        }
    }
}

fn number(flag: &str, text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("{flag} must be a non-negative integer, got {text:?}"))
}

fn cmd_run(args: &[String]) -> Result<bool, String> {
    let args = parse(
        args,
        &[
            "--seed",
            "--trace",
            "--bug",
            "--svg",
            "--from-ms",
            "--to-ms",
        ],
        &["--json"],
    )?;
    let (factory, bug) = factory(&args)?;
    let [path] = args.positional.as_slice() else {
        return Err(format!("run takes one scenario file\n{USAGE}"));
    };
    let seed = number(
        "--seed",
        args.value("--seed")
            .ok_or(format!("run needs --seed\n{USAGE}"))?,
    )?;
    let scenario = Scenario::load(&PathBuf::from(path))?;
    let trace: Option<Box<dyn Write + Send>> = match args.value("--trace") {
        Some(file) => {
            let f = std::fs::File::create(file).map_err(|e| format!("--trace {file}: {e}"))?;
            Some(Box::new(std::io::BufWriter::new(f)))
        }
        None => None,
    };
    let from_ms = args.number_or("--from-ms", 0)?;
    let to_ms = args.number_or("--to-ms", u64::MAX)?;
    if from_ms >= to_ms {
        return Err(format!("--from-ms {from_ms} must be below --to-ms {to_ms}"));
    }
    let mut summary = run(
        &scenario,
        RunOptions {
            trace,
            record: args.value("--svg").is_some(),
            ..RunOptions::new(seed, &*factory)
        },
    );
    summary.bug = bug;
    if let (Some(file), Some(why)) = (args.value("--trace"), &summary.trace_error) {
        return Err(format!(
            "--trace {file}: writing failed, the trace is incomplete: {why}"
        ));
    }
    if let (Some(file), Some(recording)) = (args.value("--svg"), summary.recording.take()) {
        let svg = ryw_sim::diagram::render(&recording, &summary.violations, from_ms, to_ms);
        std::fs::write(file, svg).map_err(|e| format!("--svg {file}: {e}"))?;
    }
    if args.has("--json") {
        println!(
            "{}",
            serde_json::to_string(&summary).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", summary.text());
        if !summary.violations.is_empty() {
            println!("replay: {}", summary.replay_command(path));
        }
    }
    Ok(summary.violations.is_empty())
}

fn cmd_sweep(args: &[String]) -> Result<bool, String> {
    let args = parse(args, &["--seeds", "--jobs", "--shard", "--bug"], &[])?;
    let (factory, bug) = factory(&args)?;
    if args.positional.is_empty() {
        return Err(format!("sweep needs at least one scenario file\n{USAGE}"));
    }
    let seeds = args
        .value("--seeds")
        .ok_or(format!("sweep needs --seeds A..B\n{USAGE}"))?;
    let (a, b) = seeds
        .split_once("..")
        .ok_or(format!("--seeds must look like A..B, got {seeds:?}"))?;
    let (first, end) = (number("--seeds", a)?, number("--seeds", b)?);
    let jobs = match args.value("--jobs") {
        Some(j) => number("--jobs", j)?.max(1) as usize,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let (shard, shards) = match args.value("--shard") {
        None => (1, 1),
        Some(text) => {
            let (k, n) = text
                .split_once('/')
                .ok_or(format!("--shard must look like K/N, got {text:?}"))?;
            let (k, n) = (number("--shard", k)?, number("--shard", n)?);
            if n == 0 || k == 0 || k > n {
                return Err(format!("--shard K/N needs 1 <= K <= N, got {text}"));
            }
            (k, n)
        }
    };
    let mut scenarios = Vec::new();
    for path in &args.positional {
        scenarios.push((path.clone(), Scenario::load(&PathBuf::from(path))?));
    }
    // Shard K of N takes every seed s with (s - first) % N == K - 1: even slices for any range.
    let seeds: Vec<u64> = (first..end)
        .filter(|s| (s - first) % shards == shard - 1)
        .collect();
    let work: Vec<(usize, u64)> = (0..scenarios.len())
        .flat_map(|i| seeds.iter().map(move |&s| (i, s)))
        .collect();
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let failures: Mutex<Vec<(usize, u64, String)>> = Mutex::new(Vec::new());
    let delivered = AtomicU64::new(0);
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(&(scenario_index, seed)) = work.get(i) else {
                    return;
                };
                let (path, scenario) = &scenarios[scenario_index];
                let mut summary = run(scenario, RunOptions::new(seed, &*factory));
                summary.bug = bug.clone();
                delivered.fetch_add(summary.delivered, Ordering::Relaxed);
                if let Some(first) = summary.violations.first() {
                    let line = format!(
                        "FAIL {} seed {seed}: {first}\n  replay: {}",
                        scenario.name,
                        summary.replay_command(path)
                    );
                    println!("{line}");
                    if let Ok(mut f) = failures.lock() {
                        f.push((scenario_index, seed, line));
                    }
                }
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                if finished.is_multiple_of(20) || finished as usize == work.len() {
                    eprint!("\rryw-sim: {finished}/{} runs", work.len());
                }
            });
        }
    });
    eprintln!();
    let failures = failures.into_inner().unwrap_or_default();
    let wall_s = started.elapsed().as_secs_f64().max(1e-9);
    println!(
        "{} runs ({} scenarios x {} seeds, shard {shard}/{shards}), {} failed; {:.1} s wall, {} delivered messages per second over {jobs} jobs",
        work.len(),
        scenarios.len(),
        seeds.len(),
        failures.len(),
        wall_s,
        (delivered.load(Ordering::Relaxed) as f64 / wall_s) as u64
    );
    Ok(failures.is_empty())
}

/// Re-finds every planted bug in the standard scenarios, shrinks it, and
/// rewrites the committed cases: run it when the store's timing changed and
/// a committed case no longer exposes its bug.
fn cmd_reshrink(args: &[String]) -> Result<bool, String> {
    let args = parse(args, &["--dir"], &[])?;
    if !args.positional.is_empty() {
        return Err(format!("reshrink takes no scenario files\n{USAGE}"));
    }
    let dir = PathBuf::from(args.value("--dir").unwrap_or("sim-scenarios"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("--dir {}: {e}", dir.display()))?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let scenarios = files
        .iter()
        .map(|p| Ok((p.display().to_string(), Scenario::load(p)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let out_dir = dir.join("shrunk");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let mut all_found = true;
    for bug in Bug::ALL {
        let Some(case) = ryw_sim::shrink::find_and_shrink(bug, &scenarios) else {
            println!(
                "{}: not caught within the standard scenarios' first seeds",
                bug.name()
            );
            all_found = false;
            continue;
        };
        let path = out_dir.join(format!("{}.json", bug.name()));
        let shown = path.display().to_string();
        std::fs::write(&path, case.file_text(&shown)).map_err(|e| format!("{shown}: {e}"))?;
        println!(
            "{}: found in {} seed {}, shrunk to {} faults, {} sessions, {} ms ({} candidates); wrote {shown}",
            bug.name(),
            case.found_in,
            case.found_seed,
            case.shrunk.scenario.faults.len(),
            case.shrunk.scenario.workload.sessions,
            case.shrunk.scenario.duration_ms,
            case.shrunk.candidates_tried,
        );
    }
    Ok(all_found)
}

fn cmd_bench(args: &[String]) -> Result<bool, String> {
    let args = parse(args, &["--seed", "--csv", "--plot"], &[])?;
    if !args.positional.is_empty() {
        return Err(format!("bench takes no scenario\n{USAGE}"));
    }
    let seed = args.number_or("--seed", 1)?;
    let rows = ryw_sim::bench::report(seed);
    println!(
        "follower-read report: seed {seed}, {} ms simulated per row, 90% ryw_read / 10% write, 16 sessions over all nodes; lagging = n<last> +{} ms on every link",
        ryw_sim::bench::DURATION_MS,
        ryw_sim::bench::LAG_MS
    );
    print!("{}", ryw_sim::bench::table(&rows));
    if let Some(file) = args.value("--csv") {
        std::fs::write(file, ryw_sim::bench::csv(&rows))
            .map_err(|e| format!("--csv {file}: {e}"))?;
    }
    if let Some(file) = args.value("--plot") {
        std::fs::write(file, ryw_sim::bench::plot(&rows))
            .map_err(|e| format!("--plot {file}: {e}"))?;
    }
    let violations: usize = rows.iter().map(|r| r.violations).sum();
    if violations > 0 {
        println!("{violations} violations during the report runs: rerun them with `ryw-sim run`");
    }
    Ok(violations == 0)
}

fn cmd_speed(args: &[String]) -> Result<bool, String> {
    use ryw_sim::speed;
    let args = parse(args, &["--seeds", "--requests"], &[])?;
    let seeds = args.number_or("--seeds", 20)?;
    let requests = args.number_or("--requests", 200_000)? as usize;
    let paths: Vec<String> = if args.positional.is_empty() {
        let mut found: Vec<String> = std::fs::read_dir("sim-scenarios")
            .map_err(|e| {
                format!("sim-scenarios: {e} (run from the repository root or name scenarios)")
            })?
            .filter_map(|e| Some(e.ok()?.path().to_str()?.to_owned()))
            .filter(|p| p.ends_with(".json"))
            .collect();
        found.sort();
        found
    } else {
        args.positional.clone()
    };
    let mut scenarios = Vec::new();
    for path in paths {
        let scenario = Scenario::load(&PathBuf::from(&path))?;
        scenarios.push((path, scenario));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("wall-clock benchmarks: release build expected; {cores} cores visible; one thread per measurement");
    let mut rows = speed::simulator(&scenarios, seeds);
    if let Some(last) = rows.last_mut() {
        last.peak_kib = speed::peak_kib("self");
    }
    let dir = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = dir.parent().ok_or("no directory for ryw-sim")?;
    let input = speed::node_input(requests);
    let (node_ops, node_peak) =
        speed::pipe_throughput(&dir.join("ryw-node"), &input, requests + 1)?;
    let (base_ops, base_peak) =
        speed::pipe_throughput(&dir.join("ryw-parse-baseline"), &input, requests + 1)?;
    rows.push(speed::Measurement {
        what: format!("ryw-node, one-node cluster, {requests} pipelined write/ryw_read"),
        figure: format!("{:.0} ops/s", node_ops),
        peak_kib: node_peak,
    });
    rows.push(speed::Measurement {
        what: "ryw-parse-baseline, same input (parse + same-size reply only)".into(),
        figure: format!(
            "{:.0} ops/s; ryw-node reaches {:.0}% of it",
            base_ops,
            100.0 * node_ops / base_ops
        ),
        peak_kib: base_peak,
    });
    print!("{}", speed::table(&rows));
    println!("(simulator peak memory is this process's, after all simulator runs)");
    Ok(true)
}
