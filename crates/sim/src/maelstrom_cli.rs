//! `ryw-sim maelstrom` on the command line: the flags, the scenario (given,
//! or the default), the report and the history file; and `conform`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ryw_sim::history::HistoryHeader;
use ryw_sim::maelstrom::{self, conform, Setup};
use ryw_sim::Scenario;

/// `ryw-sim maelstrom`'s own flags.
#[derive(Args)]
#[command(subcommand_negates_reqs = true, args_conflicts_with_subcommands = true)]
pub struct MaelstromArgs {
    #[command(subcommand)]
    command: Option<MaelstromCommand>,
    /// The command line that starts one node, run by `sh -c` (`{node}` and
    /// `{data_dir}` in it are replaced by the node's id and data directory):
    /// `--bin 'python3 main.py'`, `--bin './target/release/ryw-node --data-dir {data_dir}'`.
    #[arg(long, value_name = "CMD", required = true)]
    bin: Option<String>,
    /// Scenario file (JSON, see sim-scenarios/); without one, the default
    /// mix of faults and workload (sim-scenarios/maelstrom/default.json,
    /// about half a minute).
    scenario: Option<PathBuf>,
    /// How many nodes (default: the scenario's, 3 for the default).
    #[arg(long, value_name = "N")]
    nodes: Option<usize>,
    /// The seed of the fault schedule, the workload and the network's draws
    /// (default: drawn from the clock, and printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Give each node a data directory DIR/n1, DIR/n2, ... (for `{data_dir}`
    /// in --bin): a crashed node restarts on it, a wipe deletes it.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Write the client history as JSON Lines to FILE (as `ryw-sim run
    /// --history` does, with times in wall-clock milliseconds).
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// Where the nodes' stderr logs go (default: a fresh directory under
    /// the system's temporary directory).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Accept runs whose linearizability search ran out of budget on some key.
    #[arg(long)]
    allow_undecided: bool,
}

#[derive(Subcommand)]
enum MaelstromCommand {
    /// Run the seed task's sample tests against CMD, byte for byte, then a
    /// short three-node check with no faults.
    Conform(ConformArgs),
}

#[derive(Args)]
struct ConformArgs {
    /// The command line that starts one node, run by `sh -c`.
    #[arg(long, value_name = "CMD")]
    bin: String,
    /// The seed of the three-node check.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the nodes' stderr logs go.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// A seed for a run that was given none: from the clock, as every real
/// run differs anyway (it is printed, and fixes the run's plan).
fn fresh_seed() -> u64 {
    (ryw_sim::maelstrom::clock::wall_stamp_ms() % 1_000_000_000) as u64
}

pub fn cmd_maelstrom(args: MaelstromArgs) -> Result<bool, String> {
    if let Some(MaelstromCommand::Conform(conform)) = args.command {
        return cmd_conform(conform);
    }
    let bin = args.bin.ok_or("--bin is required")?;
    let mut scenario = match &args.scenario {
        Some(path) => Scenario::load(path)?,
        None => Scenario::parse(maelstrom::DEFAULT_SCENARIO).expect("the default is valid"),
    };
    let seed = args.seed.unwrap_or_else(fresh_seed);
    if scenario.swarm {
        let mut seeds = sim_engine::seeds::SeedStreams::new(seed);
        scenario.draw_swarm(&mut seeds.stream("swarm"));
    }
    let (scenario, ignored) = maelstrom::prepare(scenario, args.nodes, args.data_dir.is_some())?;
    let log_dir = args.out.unwrap_or_else(maelstrom::default_log_dir);
    println!(
        "maelstrom: starting {} node(s) of `{bin}` for scenario {} with seed {seed} (about {} s); logs in {}",
        scenario.nodes,
        scenario.name,
        scenario.end_ms().div_ceil(1000),
        log_dir.display()
    );
    let name = scenario.name.clone();
    let setup = Setup {
        bin: bin.clone(),
        seed,
        data_dir: args.data_dir,
        log_dir,
        history: args.history.is_some(),
    };
    let mut report = maelstrom::run(scenario, ignored, setup)?;
    if let (Some(file), Some(history)) = (&args.history, report.history.take()) {
        let header = HistoryHeader {
            source: "ryw-sim maelstrom",
            version: env!("CARGO_PKG_VERSION"),
            scenario: name,
            seed,
            bug: None,
            bin: Some(bin),
            time: "wall",
        };
        std::fs::write(file, history.json_lines(&header))
            .map_err(|e| format!("--history {}: {e}", file.display()))?;
    }
    print!("{}", report.text());
    Ok(report.passed(args.allow_undecided))
}

fn cmd_conform(args: ConformArgs) -> Result<bool, String> {
    let log_dir = args.out.unwrap_or_else(maelstrom::default_log_dir);
    let (samples, cluster) = conform::run(&args.bin, args.seed, &log_dir)?;
    let (text, passed) = conform::text(&samples, &cluster);
    print!("{text}");
    Ok(passed)
}
