//! `ryw-sim` command line: `run` one seed, `sweep` many, and the tools
//! around them.
//!
//! Exit status: 0 nothing violated, 1 a violation was found (or, for
//! `reshrink`, a bug was not found), 2 bad usage or a scenario file that
//! does not parse.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

mod maelstrom_cli;

use clap::{Args, Parser, Subcommand};
use ryw_core::Event;
use ryw_sim::bugs::Bug;
use ryw_sim::coverage::Coverage;
use ryw_sim::sweep::{Plan, SeedRange, Shard, JOBS_MAX};
use ryw_sim::NodeFactory;
use ryw_sim::{real_node, run, RunOptions, Scenario};

/// Deterministic simulation of the read-your-writes store: one master seed
/// decides every delay, loss, fault target, client choice and timeout, so
/// every run replays exactly.
#[derive(Parser)]
#[command(name = "ryw-sim", version, propagate_version = true)]
#[command(
    after_help = "Exit status: 0 nothing violated, 1 a violation was found, 2 bad usage or a scenario that does not parse."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one scenario under one seed and print what happened.
    Run(RunArgs),
    /// Run scenarios under a range of seeds; print a FAIL line with its
    /// replay command for every run that violates a property.
    Sweep(SweepArgs),
    /// List the planted bugs that --bug accepts.
    Bugs,
    /// Find every planted bug in the scenarios, shrink it, and rewrite the
    /// committed cases DIR/shrunk/BUG.json.
    Reshrink(ReshrinkArgs),
    /// Follower-read report: leader load and latency with and without
    /// follower reads, healthy and with a lagging follower.
    Bench(BenchArgs),
    /// Benchmarks of the simulator and of ryw-node (release build): instruction counts under callgrind, where valgrind is installed, then wall clock.
    Speed(SpeedArgs),
    /// Coverage-guided search: mutate fault schedules, workloads and seeds
    /// of the scenarios, keep what reaches new abstract states or events,
    /// and print every failure as sweep does.
    Explore(ExploreArgs),
    /// Test any Maelstrom node, in any language: start N real processes of
    /// CMD, route their messages through the network model in real time,
    /// pause, crash and restart them on the scenario's schedule, run the
    /// read-your-writes workload, and judge what the clients saw.
    Maelstrom(maelstrom_cli::MaelstromArgs),
}

#[derive(Args)]
struct UndecidedArg {
    /// Accept runs whose linearizability search ran out of budget on some
    /// key (by default such a run is not passed: exit 1).
    #[arg(long)]
    allow_undecided: bool,
}

#[derive(Args)]
struct BugArg {
    /// Run the store with this planted bug (see `ryw-sim bugs`).
    #[arg(long, value_name = "NAME", value_parser = parse_bug)]
    bug: Option<Bug>,
}

#[derive(Args)]
struct RunArgs {
    /// Scenario file (JSON, see sim-scenarios/).
    scenario: PathBuf,
    /// The master seed: it decides everything random in the run.
    #[arg(long)]
    seed: u64,
    /// Write every event as JSON Lines to FILE.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Write the client history as JSON Lines to FILE (Jepsen style: an
    /// invoke and an ok/fail/info event per operation, for Porcupine,
    /// Knossos or Elle).
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    bug: BugArg,
    #[command(flatten)]
    undecided: UndecidedArg,
    /// Draw a space-time diagram of the run to FILE (SVG).
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Start the diagram at this simulated time [default: a window around
    /// the first violation, or the run's first 500 ms if nothing failed].
    #[arg(long, value_name = "MS", requires = "svg")]
    from_ms: Option<u64>,
    /// End the diagram at this simulated time [default: as for --from-ms;
    /// with only --from-ms, the end of the run].
    #[arg(long, value_name = "MS", requires = "svg")]
    to_ms: Option<u64>,
}

#[derive(Args)]
struct SweepArgs {
    /// Scenario files.
    #[arg(required = true)]
    scenarios: Vec<PathBuf>,
    /// Seeds A up to (not including) B.
    #[arg(long, value_name = "A..B", value_parser = SeedRange::parse)]
    seeds: SeedRange,
    /// Worker threads (1 to 256) [default: the cores visible].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=JOBS_MAX as u64))]
    jobs: Option<u64>,
    /// Run only the K-th of N interleaved slices of the seeds.
    #[arg(long, value_name = "K/N", value_parser = Shard::parse, default_value = "1/1")]
    shard: Shard,
    #[command(flatten)]
    bug: BugArg,
    #[command(flatten)]
    undecided: UndecidedArg,
    /// Print which named events the runs reached (how many runs, the first seed), and write the same table to FILE as CSV.
    #[arg(long, value_name = "FILE")]
    coverage: Option<PathBuf>,
}

#[derive(Args)]
struct ExploreArgs {
    /// Scenario files to start from.
    #[arg(required = true)]
    scenarios: Vec<PathBuf>,
    /// Runs in all (the budget).
    #[arg(long, default_value_t = 1000)]
    runs: u64,
    /// Stop after this many seconds of wall time, even with runs left (the
    /// runs done then depend on the machine; the search up to there does not).
    #[arg(long, value_name = "S")]
    time_s: Option<u64>,
    /// The search's own seed: with the same inputs it decides every draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Worker threads (1 to 256) [default: the cores visible].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=JOBS_MAX as u64))]
    jobs: Option<u64>,
    #[command(flatten)]
    bug: BugArg,
    #[command(flatten)]
    undecided: UndecidedArg,
    /// Plain swarm instead, the baseline: each scenario in turn under seeds
    /// 0, 1, 2, ... (from SEED x 2^32 on with --seed), no mutation, no corpus.
    #[arg(long)]
    swarm: bool,
    /// Resume the corpus saved in DIR, and save it there at the end.
    #[arg(long, value_name = "DIR")]
    corpus: Option<PathBuf>,
    /// Where a failing input is written as a scenario file, for its replay
    /// command.
    #[arg(long, value_name = "DIR", default_value = "explore-out")]
    out: PathBuf,
    /// Stop at the first failure.
    #[arg(long)]
    first_failure: bool,
    /// Shrink the first failure (as `reshrink` does) and write it to DIR/shrunk-1.json.
    #[arg(long)]
    shrink: bool,
    /// Write the events' coverage to FILE as CSV, as sweep does.
    #[arg(long, value_name = "FILE")]
    coverage: Option<PathBuf>,
}

#[derive(Args)]
struct ReshrinkArgs {
    /// Folder of the scenarios to search (and its real-bugs/ and disk/ folders); cases
    /// go to DIR/shrunk/.
    #[arg(long, value_name = "DIR", default_value = "sim-scenarios")]
    dir: PathBuf,
    /// Only this planted bug (repeat for several) [default: every one]
    #[arg(long = "bug", value_name = "NAME", value_parser = parse_bug)]
    bugs: Vec<Bug>,
}

#[derive(Args)]
struct BenchArgs {
    /// First seed of every row.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seeds per row (from --seed on): rows show means, and the range of
    /// read p99 and leader load across seeds.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    seeds: u64,
    /// Also write the rows as CSV to FILE.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Also plot the rows to FILE (SVG).
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// The store's settings for every row, as a scenario's "node" object
    /// (e.g. '{"append_in_flight_max": 4}'); unnamed settings keep their
    /// defaults.
    #[arg(long, value_name = "JSON", value_parser = parse_node_settings)]
    node: Option<ryw_sim::scenario::NodeSettings>,
    /// Also print what the leader's messages are, by kind, per operation.
    #[arg(long)]
    by_kind: bool,
}

fn parse_node_settings(text: &str) -> Result<ryw_sim::scenario::NodeSettings, String> {
    serde_json::from_str(text).map_err(|e| format!("not a node settings object: {e}"))
}

#[derive(Args)]
struct SpeedArgs {
    /// Scenario files [default: sim-scenarios/*.json].
    scenarios: Vec<PathBuf>,
    /// Seeds per scenario.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    seeds: u64,
    /// Pipelined requests fed to ryw-node.
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    requests: u64,
    /// Repetitions of every measurement; the table shows the median and the range.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=100))]
    repeat: u64,
    /// Pipelined requests fed to each program under callgrind.
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    instruction_requests: u64,
    /// Skip the instruction counts (they need valgrind and take a minute).
    #[arg(long)]
    no_instructions: bool,
}

fn parse_bug(name: &str) -> Result<Bug, String> {
    Bug::parse(name)
}

/// What a command found: `Ok(true)` nothing wrong, `Ok(false)` a violation
/// (exit 1), `Err` bad usage or input (exit 2).
type Outcome = Result<bool, String>;

/// The command line, with `help --help` (or `-h`) read as `help`: clap's
/// own `help` command takes no flags, but asking it for help is no error.
fn args() -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "help") {
        let mut k = 2;
        while k < args.len() {
            if args[k] == "--help" || args[k] == "-h" {
                args.remove(k);
            } else {
                k += 1;
            }
        }
    }
    args
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(args());
    let result = match cli.command {
        Command::Run(args) => cmd_run(args),
        Command::Sweep(args) => cmd_sweep(args),
        Command::Explore(args) => cmd_explore(args),
        Command::Bugs => cmd_bugs(),
        Command::Reshrink(args) => cmd_reshrink(args),
        Command::Bench(args) => cmd_bench(args),
        Command::Speed(args) => cmd_speed(args),
        Command::Maelstrom(args) => maelstrom_cli::cmd_maelstrom(args),
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

/// The node factory: the real store, or the store with a bug planted.
fn factory(bug: Option<Bug>) -> Box<NodeFactory> {
    match bug {
        None => Box::new(real_node),
        Some(bug) => bug.factory(),
    }
}

/// Writes a line to stdout; `false` once stdout is closed (`| head`), so
/// the caller can stop quietly instead of panicking.
fn say(text: &str) -> bool {
    writeln!(std::io::stdout().lock(), "{text}").is_ok()
}

fn cmd_bugs() -> Outcome {
    for bug in Bug::ALL {
        let line = format!(
            "{:<30} {} (caught by: {})",
            bug.name(),
            bug.description(),
            bug.caught_by()
                .iter()
                .map(|p| p.name())
                .collect::<Vec<_>>()
                .join(" or ")
        );
        if !say(&line) {
            break;
        }
    }
    Ok(true)
}

/// Refuses an output file that is the scenario being run: writing it
/// would destroy the input.
fn refuse_overwriting_the_scenario(args: &RunArgs) -> Result<(), String> {
    let same = |out: &Path| {
        out == args.scenario
            || matches!(
                (out.canonicalize(), args.scenario.canonicalize()),
                (Ok(a), Ok(b)) if a == b
            )
    };
    let outputs = [
        ("--trace", &args.trace),
        ("--history", &args.history),
        ("--svg", &args.svg),
    ];
    for (flag, file) in outputs {
        if let Some(file) = file.as_deref().filter(|f| same(f)) {
            return Err(format!(
                "{flag} {}: that is the scenario being run; writing it would destroy it",
                file.display()
            ));
        }
    }
    Ok(())
}

// Longer than 70 lines on purpose: the run command's steps in order (load, run, write trace, history and diagram, report), each short.
fn cmd_run(args: RunArgs) -> Outcome {
    refuse_overwriting_the_scenario(&args)?;
    let scenario = Scenario::load(&args.scenario)?;
    let trace: Option<Box<dyn Write + Send>> = match &args.trace {
        Some(file) => {
            let f = std::fs::File::create(file)
                .map_err(|e| format!("--trace {}: {e}", file.display()))?;
            Some(Box::new(std::io::BufWriter::new(f)))
        }
        None => None,
    };
    if let (Some(from_ms), Some(to_ms)) = (args.from_ms, args.to_ms) {
        if from_ms >= to_ms {
            return Err(format!("--from-ms {from_ms} must be below --to-ms {to_ms}"));
        }
    }
    let factory = factory(args.bug.bug);
    let bar = run_progress_bar(scenario.end_ms());
    let progress = bar.clone().map(|bar| {
        Box::new(move |sim_ms: u64| bar.set_position(sim_ms)) as Box<dyn FnMut(u64) + Send>
    });
    let mut summary = run(
        &scenario,
        RunOptions {
            trace,
            record: args.svg.is_some(),
            history: args.history.is_some(),
            progress,
            ..RunOptions::new(args.seed, &*factory)
        },
    );
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    summary.bug = args.bug.bug.map(|b| b.name().to_owned());
    if let (Some(file), Some(history)) = (&args.history, summary.history.take()) {
        let header = ryw_sim::history::HistoryHeader {
            source: "ryw-sim run",
            version: env!("CARGO_PKG_VERSION"),
            scenario: summary.scenario.clone(),
            seed: summary.seed,
            bug: summary.bug.clone(),
            bin: None,
            time: "simulated",
        };
        std::fs::write(file, history.json_lines(&header))
            .map_err(|e| format!("--history {}: {e}", file.display()))?;
    }
    if let (Some(file), Some(why)) = (&args.trace, &summary.trace_error) {
        return Err(format!(
            "--trace {}: writing failed, the trace is incomplete: {why}",
            file.display()
        ));
    }
    if let (Some(file), Some(recording)) = (&args.svg, summary.recording.take()) {
        let end_ms = recording.end_ms;
        let (from_ms, to_ms, why) = match (args.from_ms, args.to_ms) {
            (None, None) => ryw_sim::diagram::default_window(&summary.violations, end_ms),
            (from_ms, to_ms) => (
                from_ms.unwrap_or(0),
                to_ms.unwrap_or(end_ms),
                "as asked".into(),
            ),
        };
        if from_ms >= end_ms {
            return Err(format!(
                "--from-ms {from_ms} is past the end of the run ({end_ms} ms): the diagram would be empty"
            ));
        }
        let drawn = ryw_sim::diagram::render(&recording, &summary.violations, from_ms, to_ms);
        std::fs::write(file, &drawn.svg).map_err(|e| format!("--svg {}: {e}", file.display()))?;
        let mut note = format!(
            "diagram: {}: {from_ms}..{} ms, {why}",
            file.display(),
            to_ms.min(end_ms)
        );
        if drawn.arrows_omitted > 0 {
            note.push_str(&format!(
                "; {} messages not drawn (at most {} are): narrow the window with --from-ms/--to-ms",
                drawn.arrows_omitted,
                ryw_sim::diagram::ARROWS_MAX
            ));
        }
        if args.from_ms.is_none() && args.to_ms.is_none() {
            note.push_str(" (--from-ms/--to-ms choose another window)");
        }
        eprintln!("{note}");
    }
    let text = if args.json {
        serde_json::to_string(&summary).map_err(|e| e.to_string())?
    } else {
        let mut text = summary.text();
        if !summary.violations.is_empty() {
            text.push_str(&format!(
                "replay: {}\n",
                summary.replay_command(&args.scenario.display().to_string())
            ));
        }
        text.trim_end().to_owned()
    };
    say(&text);
    Ok(summary.passed(args.undecided.allow_undecided))
}

/// Progress on a terminal only: never `\r` text in a redirected file.
/// `what` is the unit counted (`runs`, `simulated ms`).
fn terminal_bar(length: u64, what: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(length);
    let template =
        format!("{{bar:30}} {{pos}}/{{len}} {what}{{msg}}, {{elapsed}} elapsed, ETA {{eta}}");
    let style = indicatif::ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

/// A sweep's progress: runs done and how many failed.
fn progress_bar(runs: u64) -> Option<indicatif::ProgressBar> {
    let bar = terminal_bar(runs, "runs")?;
    bar.set_message(", 0 failed");
    Some(bar)
}

/// A single run's progress in simulated time.
fn run_progress_bar(end_ms: u64) -> Option<indicatif::ProgressBar> {
    terminal_bar(end_ms, "simulated ms")
}

fn load_all(paths: &[PathBuf]) -> Result<Vec<(String, Scenario)>, String> {
    paths
        .iter()
        .map(|p| Ok((p.display().to_string(), Scenario::load(p)?)))
        .collect()
}

/// Set by Ctrl-C during a sweep.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

// Longer than 70 lines on purpose: the sweep command's steps in order (load, plan, progress, report, tally), each short.
fn cmd_sweep(args: SweepArgs) -> Outcome {
    if let Some(file) = &args.coverage {
        let same = |p: &PathBuf| matches!((file.canonicalize(), p.canonicalize()), (Ok(a), Ok(b)) if a == b);
        if args.scenarios.iter().any(same) {
            return Err(format!(
                "--coverage {}: that is a scenario being run; writing it would destroy it",
                file.display()
            ));
        }
    }
    let plan = Plan {
        scenarios: load_all(&args.scenarios)?,
        seeds: args.seeds,
        shard: args.shard,
    };
    if plan.runs() == 0 {
        return Err(format!(
            "--seeds {} holds no seed of shard {}",
            plan.seeds, plan.shard
        ));
    }
    let jobs = match args.jobs {
        Some(j) => j as usize,
        None => std::thread::available_parallelism().map_or(1, |n| n.get().min(JOBS_MAX)),
    };
    let bug = args.bug.bug;
    let factory = factory(bug);
    let bar = progress_bar(plan.runs());
    let allow_undecided = args.undecided.allow_undecided;
    let failed = AtomicU64::new(0);
    let undecided = AtomicU64::new(0);
    let delivered = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let coverage = Mutex::new(Coverage::default());
    let started = std::time::Instant::now();
    let report = |finished: ryw_sim::sweep::Finished<'_>| -> bool {
        let mut summary = finished.result;
        summary.bug = bug.map(|b| b.name().to_owned());
        // Runs arrive in plan order, so the first run noted is the first a
        // person sweeping would see.
        {
            let mut coverage = coverage
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            coverage.add(finished.path, summary.seed, &summary.reached);
            coverage.add_states(&summary.abstract_states);
        }
        done.fetch_add(1, Ordering::Relaxed);
        delivered.fetch_add(summary.delivered, Ordering::Relaxed);
        let mut open = true;
        let line = if let Some(first) = summary.violations.first() {
            Some(format!(
                "FAIL {} seed {}: {first}",
                ryw_sim::report::one_line(&summary.scenario),
                summary.seed
            ))
        } else if summary.linearizability_undecided_keys > 0 {
            undecided.fetch_add(1, Ordering::Relaxed);
            (!allow_undecided).then(|| {
                format!(
                    "UNDECIDED {} seed {}: {} keys undecided within the linearizability search budget",
                    ryw_sim::report::one_line(&summary.scenario),
                    summary.seed,
                    summary.linearizability_undecided_keys
                )
            })
        } else {
            None
        };
        if let Some(line) = line {
            let count = failed.fetch_add(1, Ordering::Relaxed) + 1;
            let line = format!(
                "{line}\n  replay: {}",
                summary.replay_command(finished.path)
            );
            match &bar {
                Some(bar) => {
                    bar.suspend(|| open = say(&line));
                    bar.set_message(format!(", {count} failed"));
                }
                None => open = say(&line),
            }
        }
        if let Some(bar) = &bar {
            bar.inc(1);
        }
        open
    };
    // Ctrl-C stops the sweep after the runs in progress and still prints
    // the tally of what ran (a second Ctrl-C is the shell's default again:
    // the handler only sets a flag).
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::Relaxed));
    let report = |finished: ryw_sim::sweep::Finished<'_>| -> bool {
        report(finished) && !INTERRUPTED.load(Ordering::Relaxed)
    };
    let outcome = ryw_sim::sweep::sweep(&plan, &*factory, jobs, &report);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let failed = failed.load(Ordering::Relaxed);
    let interrupted = INTERRUPTED.load(Ordering::Relaxed);
    if outcome.is_err() && !interrupted {
        // Stdout was closed: nothing more can be said there.
        return Ok(failed == 0);
    }
    let wall_s = started.elapsed().as_secs_f64().max(1e-9);
    let undecided = match undecided.load(Ordering::Relaxed) {
        0 => String::new(),
        n if allow_undecided => format!(" ({n} with undecided keys, accepted)"),
        n => format!(" ({n} of them with undecided keys)"),
    };
    let stopped = if interrupted {
        format!("interrupted after {} of ", done.load(Ordering::Relaxed))
    } else {
        String::new()
    };
    say(&format!(
        "{stopped}{} runs ({} scenarios x {} seeds, shard {}), {failed} failed{undecided}; {wall_s:.1} s wall, {} delivered messages per second over {jobs} jobs",
        if interrupted { plan.runs() } else { done.load(Ordering::Relaxed) },
        plan.scenarios.len(),
        plan.seed_count(),
        plan.shard,
        (delivered.load(Ordering::Relaxed) as f64 / wall_s) as u64
    ));
    if interrupted {
        // The shell's convention for a command ended by SIGINT.
        std::process::exit(130);
    }
    let coverage = coverage
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    say(&format!(
        "abstract states: {} distinct over the runs (docs/checkers.md says what one is)",
        coverage.states()
    ));
    // Each scenario is held to the events it exists to reach.
    let mut unreached = 0;
    for (path, scenario) in &plan.scenarios {
        for event in coverage.unreached(path, &scenario.expect.reach_events()) {
            unreached += 1;
            say(&format!(
                "NOT REACHED {}: no run reached {} ({}), which its expect.reach names",
                ryw_sim::report::one_line(path),
                event.name(),
                event.meaning()
            ));
        }
    }
    if let Some(file) = &args.coverage {
        say(&coverage.table(done.load(Ordering::Relaxed)));
        std::fs::write(file, coverage.csv())
            .map_err(|e| format!("--coverage {}: {e}", file.display()))?;
    }
    Ok(failed == 0 && unreached == 0)
}

/// What `explore` prints at 100, 1,000, 10,000 ... runs.
fn milestone(explorer: &ryw_sim::explore::Explorer<'_>) -> String {
    let events = Event::ALL
        .iter()
        .filter(|&&e| explorer.coverage.reached(e))
        .count();
    format!(
        "after {} runs: {} distinct abstract states, {events} of {} events, corpus {}",
        explorer.runs(),
        explorer.coverage.states(),
        Event::COUNT,
        explorer.corpus.len()
    )
}

// Longer than 70 lines on purpose: the explore command's steps in order (load, resume, search loop with its report, save, shrink, tally).
fn cmd_explore(args: ExploreArgs) -> Outcome {
    use ryw_sim::explore::{corpus, Explorer, Mode};
    let bases = load_all(&args.scenarios)?;
    let jobs = match args.jobs {
        Some(j) => j as usize,
        None => std::thread::available_parallelism().map_or(1, |n| n.get().min(JOBS_MAX)),
    };
    let bug = args.bug.bug;
    let factory = factory(bug);
    let mode = if args.swarm {
        Mode::Swarm
    } else {
        Mode::Guided
    };
    let mut explorer = Explorer::new(bases, args.seed, mode, &*factory);
    if let Some(dir) = &args.corpus {
        let saved = corpus::load(dir)?;
        if !saved.is_empty() {
            say(&format!(
                "resuming {} inputs from {}",
                saved.len(),
                dir.display()
            ));
            explorer.resume(saved);
        }
    }
    let bar = terminal_bar(args.runs, "runs");
    let started = std::time::Instant::now();
    let allow_undecided = args.undecided.allow_undecided;
    let mut failures: Vec<(ryw_sim::explore::Input, ryw_sim::Summary)> = Vec::new();
    let mut next_milestone = 100;
    let mut open = true;
    loop {
        // Batches end at each milestone, so that the figures printed there
        // are after exactly that many runs, whatever the budget.
        let left = args
            .runs
            .saturating_sub(explorer.runs())
            .min(next_milestone - explorer.runs());
        let out_of_time = args
            .time_s
            .is_some_and(|s| started.elapsed().as_secs() >= s);
        if left == 0 || out_of_time || !open || INTERRUPTED.load(Ordering::Relaxed) {
            break;
        }
        let mut stop = false;
        explorer.batch(jobs, left, &mut |ran| {
            let failed = !ran.summary.violations.is_empty()
                || (!allow_undecided && ran.summary.linearizability_undecided_keys > 0);
            if failed {
                let k = failures.len() + 1;
                let path = args.out.join(format!("failure-{k}.json"));
                let mut summary = ran.summary.clone();
                summary.bug = bug.map(|b| b.name().to_owned());
                let why = summary.violations.first().map_or_else(
                    || "keys undecided within the linearizability search budget".to_owned(),
                    |v| v.to_string(),
                );
                let mut scenario = ran.input.scenario.clone();
                scenario.description = format!(
                    "Found by `ryw-sim explore --seed {}` at run {}: {}. Replay: {}",
                    args.seed,
                    ran.number,
                    ran.origin,
                    summary.replay_command(&path.display().to_string())
                );
                let written = std::fs::create_dir_all(&args.out).and_then(|()| {
                    std::fs::write(
                        &path,
                        serde_json::to_string_pretty(&scenario).unwrap_or_default() + "\n",
                    )
                });
                let replay = match written {
                    Ok(()) => summary.replay_command(&path.display().to_string()),
                    Err(e) => format!("(could not write {}: {e})", path.display()),
                };
                let line = format!(
                    "FAIL {} seed {}: {why}\n  replay: {replay}\n  found at run {} from {}",
                    ryw_sim::report::one_line(&summary.scenario),
                    summary.seed,
                    ran.number,
                    ran.origin
                );
                match &bar {
                    Some(bar) => bar.suspend(|| open = say(&line)),
                    None => open = say(&line),
                }
                failures.push((ran.input.clone(), summary));
                stop = args.first_failure;
            }
            if let Some(bar) = &bar {
                bar.set_position(ran.number);
            }
            open && !stop
        });
        if let Some(bar) = &bar {
            bar.set_message(format!(
                ", corpus {}, {} states, {} failed",
                explorer.corpus.len(),
                explorer.coverage.states(),
                failures.len()
            ));
        }
        while explorer.runs() >= next_milestone {
            let line = milestone(&explorer);
            match &bar {
                Some(bar) => bar.suspend(|| open = say(&line)),
                None => open = say(&line),
            }
            next_milestone *= 10;
        }
        if stop {
            break;
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if let Some(dir) = &args.corpus {
        corpus::save(dir, &explorer.corpus)?;
    }
    if let (true, Some((input, _))) = (args.shrink, failures.first()) {
        let fails = |summary: &ryw_sim::Summary| !summary.violations.is_empty();
        let shrink = ryw_sim::shrink::Shrink {
            factory: &*factory,
            fails: &fails,
            seeds_per_schedule: 4,
            candidates_max: 200,
        };
        if let Some(shrunk) = shrink.shrink(&input.scenario, input.seed) {
            let path = args.out.join("shrunk-1.json");
            let text = serde_json::to_string_pretty(&shrunk.scenario).map_err(|e| e.to_string())?;
            std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
            let mut summary = ryw_sim::Summary {
                seed: shrunk.seed,
                ..ryw_sim::Summary::default()
            };
            summary.bug = bug.map(|b| b.name().to_owned());
            say(&format!(
                "shrunk the first failure to {} faults after {} candidates; replay: {}",
                shrunk.scenario.faults.len(),
                shrunk.candidates_tried,
                summary.replay_command(&path.display().to_string())
            ));
        }
    }
    let wall_s = started.elapsed().as_secs_f64();
    say(&milestone(&explorer));
    say(&format!(
        "{} runs ({}), {} failed; {wall_s:.1} s wall over {jobs} jobs",
        explorer.runs(),
        if args.swarm { "plain swarm" } else { "guided" },
        failures.len()
    ));
    if let Some(file) = &args.coverage {
        say(&explorer.coverage.table(explorer.runs()));
        std::fs::write(file, explorer.coverage.csv())
            .map_err(|e| format!("--coverage {}: {e}", file.display()))?;
    }
    Ok(failures.is_empty())
}

/// Every `*.json` directly in `dir`, sorted.
fn scenario_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| {
            format!(
                "{}: {e} (run from the repository root or name scenarios)",
                dir.display()
            )
        })?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Ok(files)
}

/// Re-finds every planted bug in the standard scenarios, shrinks it, and
/// rewrites the committed cases: run it when the store's timing changed and
/// a committed case no longer exposes its bug.
fn cmd_reshrink(args: ReshrinkArgs) -> Outcome {
    let dir = args.dir;
    let mut files = scenario_files(&dir)?;
    for more in ["real-bugs", "disk"] {
        let more = dir.join(more);
        if more.is_dir() {
            files.extend(scenario_files(&more)?);
        }
    }
    let scenarios = load_all(&files)?;
    let out_dir = dir.join("shrunk");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let mut all_found = true;
    let bugs = if args.bugs.is_empty() {
        Bug::ALL.to_vec()
    } else {
        args.bugs
    };
    for bug in bugs {
        let Some(case) = ryw_sim::shrink::find_and_shrink(bug, &scenarios, 400, 1) else {
            say(&format!(
                "{}: not caught within the standard scenarios' first seeds",
                bug.name()
            ));
            all_found = false;
            continue;
        };
        let path = out_dir.join(format!("{}.json", bug.name()));
        let shown = path.display().to_string();
        std::fs::write(&path, case.file_text(&shown)).map_err(|e| format!("{shown}: {e}"))?;
        say(&format!(
            "{}: found in {} seed {}, shrunk to {} faults, {} sessions, {} ms ({} candidates); wrote {shown}",
            bug.name(),
            case.found_in,
            case.found_seed,
            case.shrunk.scenario.faults.len(),
            case.shrunk.scenario.workload.sessions,
            case.shrunk.scenario.duration_ms,
            case.shrunk.candidates_tried,
        ));
    }
    Ok(all_found)
}

fn cmd_bench(args: BenchArgs) -> Outcome {
    let seed = args.seed;
    let node = args.node.unwrap_or_default();
    for nodes in [3, 7] {
        ryw_sim::bench::scenario(nodes, true, true, &node)
            .validate()
            .map_err(|e| format!("--node: {e}"))?;
    }
    let rows = ryw_sim::bench::report_seeds(seed, args.seeds, &node);
    println!(
        "follower-read report: seeds {seed}..{}, {} ms simulated per row and seed, 90% ryw_read / 10% write, 16 sessions over all nodes; lagging = n<last> +{} ms on every link",
        seed.saturating_add(args.seeds),
        ryw_sim::bench::DURATION_MS,
        ryw_sim::bench::LAG_MS
    );
    print!("{}", ryw_sim::bench::table(&rows));
    if args.by_kind {
        println!();
        print!("{}", ryw_sim::bench::leader_load_table(&rows));
    }
    if let Some(file) = &args.csv {
        std::fs::write(file, ryw_sim::bench::csv(&rows))
            .map_err(|e| format!("--csv {}: {e}", file.display()))?;
    }
    if let Some(file) = &args.plot {
        std::fs::write(file, ryw_sim::bench::plot(&rows))
            .map_err(|e| format!("--plot {}: {e}", file.display()))?;
    }
    let violations: usize = rows.iter().map(|r| r.violations).sum();
    if violations > 0 {
        println!("{violations} violations during the report runs: rerun them with `ryw-sim run`");
    }
    Ok(violations == 0)
}

// Longer than 70 lines on purpose: the benchmark's measurements in order, each printed as it is taken.
/// Instruction counts from callgrind, which do not swing with the
/// machine's load: the simulator on `healthy.json` seed 1 (or the first
/// scenario given), and `ryw-node`, the parse-only baseline and `ryw-node
/// --data-dir` on `requests` pipelined requests.
fn instruction_counts(paths: &[PathBuf], requests: usize) -> Result<String, String> {
    use ryw_sim::speed;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = exe.parent().ok_or("no directory for ryw-sim")?;
    let scenario = paths
        .iter()
        .find(|p| p.ends_with("healthy.json"))
        .or(paths.first())
        .ok_or("no scenario to count instructions on")?;
    let path = scenario.display().to_string();
    let sim = speed::instructions(&exe, &["run", &path, "--seed", "1", "--json"], "")?;
    let summary: serde_json::Value = serde_json::from_str(&sim.stdout)
        .map_err(|e| format!("ryw-sim run --json under callgrind: {e}"))?;
    let field = |name: &str| summary[name].as_u64().unwrap_or(0);
    let (delivered, sim_ms) = (field("delivered"), field("sim_ms"));
    let input = speed::node_input(requests);
    let node_binary = dir.join("ryw-node");
    // Callgrind runs a program some fifty times slower: with the default
    // one-second deadline, writes waiting for an fsync would time out
    // there and nowhere else, and the count would include their errors.
    // The seed fixes the node's one random draw, its election timeout.
    let node_args = ["--seed", "1", "--request-timeout-ms", "3600000"];
    let node = speed::instructions(&node_binary, &node_args, &input)?;
    let base = speed::instructions(&dir.join("ryw-parse-baseline"), &[], &input)?;
    let data_dir = std::env::temp_dir().join(format!("ryw-speed-ir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let data_arg = data_dir.display().to_string();
    let durable_args = [&node_args[..], &["--data-dir", &data_arg]].concat();
    let durable = speed::instructions(&node_binary, &durable_args, &input);
    let _ = std::fs::remove_dir_all(&data_dir);
    let durable = durable?;
    let n = requests as u64;
    let rows = [
        (
            format!("simulator, {path} seed 1"),
            format!(
                "{}; {:.1}M per simulated second",
                speed::per(sim.instructions, delivered, "delivered message"),
                sim.instructions as f64 / 1e6 / (sim_ms as f64 / 1000.0).max(1e-9)
            ),
        ),
        (
            format!("ryw-node, {requests} pipelined write/ryw_read"),
            speed::per(node.instructions, n, "request"),
        ),
        (
            "ryw-parse-baseline, same input".into(),
            format!(
                "{}; ryw-node reaches {:.2} of it",
                speed::per(base.instructions, n, "request"),
                base.instructions as f64 / node.instructions.max(1) as f64
            ),
        ),
        (
            "ryw-node --data-dir, same input".into(),
            format!(
                "{}; {:.2} of in-memory",
                speed::per(durable.instructions, n, "request"),
                node.instructions as f64 / durable.instructions.max(1) as f64
            ),
        ),
    ];
    let mut out = String::from(
        "instruction counts (callgrind; every thread; the same on any load):\n| benchmark | instructions |\n|---|---|\n",
    );
    for (what, figure) in rows {
        out.push_str(&format!("| {what} | {figure} |\n"));
    }
    Ok(out)
}

fn cmd_speed(args: SpeedArgs) -> Outcome {
    use ryw_sim::speed;
    let seeds = args.seeds;
    let requests = args.requests as usize;
    let paths = if args.scenarios.is_empty() {
        scenario_files(Path::new("sim-scenarios"))?
    } else {
        args.scenarios
    };
    let scenarios = load_all(&paths)?;
    let repeat = args.repeat;
    if args.no_instructions {
        println!("instruction counts: skipped (--no-instructions)");
    } else if !speed::callgrind_available() {
        println!(
            "instruction counts: skipped, valgrind is not installed (apt-get install valgrind)"
        );
    } else {
        print!(
            "{}",
            instruction_counts(&paths, args.instruction_requests as usize)?
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "wall-clock benchmarks: release build expected; {cores} cores visible; one thread per measurement; each repeated {repeat} times"
    );
    let mut rows = speed::simulator(&scenarios, seeds, repeat);
    if let Some(last) = rows.last_mut() {
        last.peak_kib = speed::peak_kib("self");
    }
    rows.extend(node_wall_clock(requests, repeat)?);
    print!("{}", speed::table(&rows));
    println!("(simulator peak memory is this process's, after all simulator runs)");
    Ok(true)
}

/// The wall-clock rows of `ryw-node`, in memory and with `--data-dir`, and
/// of the parse-and-reply baseline, each the median of `repeat` runs on
/// the same `requests` pipelined requests.
fn node_wall_clock(
    requests: usize,
    repeat: u64,
) -> Result<Vec<ryw_sim::speed::Measurement>, String> {
    use ryw_sim::speed;
    let mut rows = Vec::new();
    let dir = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = dir.parent().ok_or("no directory for ryw-sim")?;
    let input = speed::node_input(requests);
    let (mut node_ops, mut base_ops, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut disk_ops, mut fsyncs_per_s, mut entries_per_fsync) =
        (Vec::new(), Vec::new(), Vec::new());
    let (mut node_peak, mut base_peak, mut disk_peak) = (None, None, None);
    let node_binary = dir.join("ryw-node");
    for k in 0..repeat {
        let node = speed::pipe_throughput(&node_binary, &[], &input, requests + 1)?;
        let base =
            speed::pipe_throughput(&dir.join("ryw-parse-baseline"), &[], &input, requests + 1)?;
        // The same input on a fresh data directory: group commit on.
        let data_dir = std::env::temp_dir().join(format!("ryw-speed-{}-{k}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        let data_arg = data_dir.display().to_string();
        let durable = speed::pipe_throughput(
            &node_binary,
            &["--data-dir", &data_arg],
            &input,
            requests + 1,
        );
        let _ = std::fs::remove_dir_all(&data_dir);
        let durable = durable?;
        let (fsyncs, entries) = speed::disk_counts(&durable.log)
            .ok_or("ryw-node --data-dir did not report its disk work on stderr")?;
        (node_peak, base_peak) = (node_peak.max(node.peak_kib), base_peak.max(base.peak_kib));
        disk_peak = disk_peak.max(durable.peak_kib);
        ratios.push(100.0 * node.ops_per_s / base.ops_per_s);
        node_ops.push(node.ops_per_s);
        base_ops.push(base.ops_per_s);
        disk_ops.push(durable.ops_per_s);
        fsyncs_per_s.push(fsyncs as f64 / durable.wall_s.max(1e-9));
        entries_per_fsync.push(entries as f64 / fsyncs.max(1) as f64);
    }
    let ops = |f: f64| format!("{f:.0}");
    rows.push(speed::Measurement {
        what: format!("ryw-node, one-node cluster, {requests} pipelined write/ryw_read"),
        figure: format!("{} ops/s", speed::median_of(node_ops, ops)),
        peak_kib: node_peak,
    });
    rows.push(speed::Measurement {
        what: format!(
            "ryw-node --data-dir (fdatasync, group commit), same input, in {}",
            std::env::temp_dir().display()
        ),
        figure: format!(
            "{} ops/s; {} fsyncs/s; {} entries per fsync",
            speed::median_of(disk_ops, ops),
            speed::median_of(fsyncs_per_s, ops),
            speed::median_of(entries_per_fsync, |f| format!("{f:.1}"))
        ),
        peak_kib: disk_peak,
    });
    rows.push(speed::Measurement {
        what: "ryw-parse-baseline, same input (parse + same-size reply only)".into(),
        figure: format!(
            "{} ops/s; ryw-node reaches {} of it",
            speed::median_of(base_ops, ops),
            speed::median_of(ratios, |f| format!("{f:.0}%"))
        ),
        peak_kib: base_peak,
    });
    Ok(rows)
}
