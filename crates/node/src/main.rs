//! `ryw-node`: a Maelstrom node. Reads JSON lines on stdin, writes JSON lines
//! on stdout, logs to stderr. The only place with a real clock: it feeds the
//! sans-IO core with milliseconds since start.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use ryw_core::{codec, Config, Durable, Id, Millis, Node};
use ryw_node::handle_line;
use ryw_storage::{FsDisk, LogStore, LOG_FILE};

use durability::{Durability, FsyncFailed};
use input::{spawn_stdin_reader, Inputs};

mod durability;
mod input;

/// Lines handled before stdout is flushed, so a burst is written in one go.
const BATCH_LINES_MAX: usize = 1024;

/// Most reads of input queued ahead of the node: each holds what stdin
/// had buffered (8 KiB, about 90 requests, unless one line is longer).
const INPUT_READS_QUEUED_MAX: usize = 16;

/// A Maelstrom node of the read-your-writes store: JSON lines on stdin,
/// JSON lines on stdout, diagnostics on stderr. Maelstrom starts it with no
/// arguments; every setting also has an environment variable.
#[derive(Parser)]
#[command(version, long_about = None)]
struct Cli {
    /// Seed of the node's election timeouts [default: drawn from the clock
    /// and the process id, and printed so a run can be repeated]
    #[arg(long, env = "RYW_SEED", value_name = "N")]
    seed: Option<u64>,
    /// How long a follower waits to apply a ryw_read's token before it
    /// forwards the read to the leader
    #[arg(long, env = "RYW_WAIT_MS_MAX", value_name = "MS", default_value_t = Config::default().ryw_wait_ms_max)]
    ryw_wait_ms_max: u64,
    /// Overall deadline for answering any client request
    #[arg(long, env = "RYW_REQUEST_TIMEOUT_MS", value_name = "MS", default_value_t = Config::default().request_timeout_ms)]
    request_timeout_ms: u64,
    /// Take a snapshot of the state machine every N applied entries and
    /// drop the log entries it covers (0: never)
    #[arg(long, env = "RYW_SNAPSHOT_EVERY", value_name = "N", default_value_t = Config::default().snapshot_every)]
    snapshot_every: u64,
    /// Entries kept in the log before a snapshot, for members a little behind
    #[arg(long, env = "RYW_COMPACTION_MARGIN", value_name = "N", default_value_t = Config::default().compaction_margin)]
    compaction_margin: u64,
    /// Keep term, vote, log and snapshot in DIR (created if missing) and
    /// recover them on start: votes and acknowledgements wait for fsync.
    /// Without it the node keeps everything in memory, as Maelstrom expects
    #[arg(long, env = "RYW_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match config_from(&cli) {
        Ok(config) => config,
        Err(why) => {
            eprintln!("ryw-node: {why}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "ryw-node: rng seed {} (set RYW_SEED or --seed to replay)",
        config.rng_seed
    );
    let (store, durable) = match &cli.data_dir {
        // In memory every start is a start from nothing: for all this node
        // knows, it ran before and forgot (see Durable::recovering).
        None => (
            None,
            Durable {
                recovering: true,
                ..Durable::default()
            },
        ),
        Some(dir) => match recover(dir) {
            Ok((store, durable)) => (Some(store), durable),
            Err(why) => {
                eprintln!("ryw-node: {why}");
                return ExitCode::FAILURE;
            }
        },
    };
    let config = Config {
        wait_for_disk: store.is_some(),
        ..config
    };
    match run(config, durable, store) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ryw-node: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Windows of backlog that hold two bursts of `lines_max` requests: the
/// burst being handled, and the one before it that the disk (an fsync in
/// flight) or the network is still confirming. With fewer, the node's own
/// reading ahead holds back writes that nothing overloads: with
/// `--data-dir`, the core's default (8 windows of 64 entries) held nearly
/// every write of a pipelined flood, about 2,500 instructions each.
fn backlog_windows_for(config: &Config, lines_max: usize) -> usize {
    let window = config.append_entries_max * config.append_in_flight_max;
    (2 * lines_max)
        .div_ceil(window.max(1))
        .max(config.backlog_windows_max)
}

/// The core's config from the command line (and its environment variables).
fn config_from(cli: &Cli) -> Result<Config, String> {
    // Real processes need distinct timeouts more than replayability; the
    // seed is printed so a run can still be repeated.
    let rng_seed = cli.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id())
    });
    let config = Config {
        rng_seed,
        incarnation: draw_incarnation(),
        ryw_wait_ms_max: cli.ryw_wait_ms_max,
        request_timeout_ms: cli.request_timeout_ms,
        snapshot_every: cli.snapshot_every,
        compaction_margin: cli.compaction_margin,
        ..Config::default()
    };
    let config = Config {
        backlog_windows_max: backlog_windows_for(&config, BATCH_LINES_MAX),
        ..config
    };
    config.validate()?;
    Ok(config)
}

/// This start's incarnation: the high half of every operation id it gives
/// out. Drawn from the OS, never from the seed (a replayed seed would give
/// the ids of the run it replays) nor from the disk (which may be lost).
fn draw_incarnation() -> u32 {
    let mut bytes = [0u8; 4];
    let from_os = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| io::Read::read_exact(&mut f, &mut bytes))
        .is_ok();
    if from_os {
        return u32::from_le_bytes(bytes);
    }
    // No /dev/urandom: the clock's nanoseconds and the process id.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ (nanos >> 32) ^ u64::from(std::process::id()).rotate_left(16)) as u32
}

/// Opens the log in `dir` and rebuilds the node's durable state from it.
fn recover(dir: &std::path::Path) -> Result<(Disk, Durable), String> {
    let at = dir.join(LOG_FILE);
    let mut disk =
        FsDisk::open(dir).map_err(|e| format!("--data-dir {}: unusable: {e}", dir.display()))?;
    if let Ok(count) = std::env::var("RYW_TEST_FSYNC_FAIL_AFTER") {
        let count = count
            .parse()
            .map_err(|_| format!("RYW_TEST_FSYNC_FAIL_AFTER: {count:?} is not a count"))?;
        disk.fail_syncs_after(count);
    }
    if let Ok(ms) = std::env::var("RYW_TEST_FSYNC_DELAY_MS") {
        let ms = ms
            .parse()
            .map_err(|_| format!("RYW_TEST_FSYNC_DELAY_MS: {ms:?} is not a count of ms"))?;
        disk.slow_syncs(std::time::Duration::from_millis(ms));
    }
    let (store, recovered) = LogStore::open(disk).map_err(|e| format!("{}: {e}", dir.display()))?;
    let durable = recovered.durable;
    let snapshot = durable.snapshot.as_ref().map_or(0, |s| s.index);
    eprintln!(
        "ryw-node: recovered term {}, a snapshot to index {snapshot}, log entries {} to {} and {} earlier starts from {}",
        durable.current_term,
        durable.log.first_index(),
        durable.log.last_index(),
        durable.starts,
        dir.display()
    );
    if let Some((offset, bytes, why)) = recovered.cut {
        eprintln!(
            "ryw-node: cut a torn tail of {bytes} bytes at byte {offset} of {} ({why})",
            at.display()
        );
    }
    match &recovered.lost {
        Some(loss) => eprintln!(
            "ryw-node: {}: {loss}; this node will catch up from its peers before it votes",
            dir.display()
        ),
        None if durable.recovering => eprintln!(
            "ryw-node: {}: an earlier start had not finished catching up from its peers; it goes on",
            dir.display()
        ),
        None => {}
    }
    Ok((store, durable))
}

type Disk = LogStore<FsDisk>;

fn run(config: Config, durable: Durable, store: Option<Disk>) -> io::Result<()> {
    let start = Instant::now();
    let now = || Millis(start.elapsed().as_millis() as u64);
    let (inputs, received) = mpsc::sync_channel(INPUT_READS_QUEUED_MAX);
    let mut disk = store.map(|store| Durability::new(store, inputs.clone()));
    spawn_stdin_reader(inputs);
    let mut node = Node::restart(config, durable, now());
    // Whether the data directory was checked to be this node's.
    let mut claimed = false;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut text = String::new();
    // stdin may close (plain pipes do): the node then stops once what it
    // wrote is durable and answered.
    let mut inputs = Inputs::new(received);
    loop {
        if let Some(disk) = disk.as_mut().filter(|d| d.ahead_of_disk()) {
            // Taking the result starts the next fsync, of what the burst wrote.
            if let Err(FsyncFailed(why)) = disk.wait_synced(&mut node, now) {
                out.flush()?;
                return Err(io::Error::other(why));
            }
            write_output(&mut node, &mut out, &mut text)?;
            out.flush()?;
        }
        let wait = node
            .poll_timeout()
            .map(|at| Duration::from_millis(at.since(now())));
        let took = inputs.burst(wait, BATCH_LINES_MAX, |line| {
            log_skipped(handle_line(&mut node, now(), line));
        });
        if let Some(disk) = disk.as_mut().filter(|_| took) {
            disk.note_burst();
        }
        if let Some(disk) = disk.as_mut().filter(|_| !claimed) {
            // Before anything the node says leaves: `init` named it.
            if let (Some(me), Some(members)) = (node.id(), node.member_ids()) {
                let members: Vec<String> = members.iter().map(Id::to_string).collect();
                disk.store()
                    .claim(&me.to_string(), &members)
                    .map_err(io::Error::other)?;
                claimed = true;
            }
        }
        if node.poll_timeout().is_some_and(|at| at <= now()) {
            node.handle_timeout(now());
        }
        if let Some(disk) = &mut disk {
            let persisted = disk
                .poll_synced(&mut node, now())
                .and_then(|()| disk.persist(&mut node));
            if let Err(FsyncFailed(why)) = persisted {
                // What the node already sent stays sent; nothing that
                // waited for this fsync leaves.
                out.flush()?;
                return Err(io::Error::other(why));
            }
        }
        write_output(&mut node, &mut out, &mut text)?;
        out.flush()?;
        if inputs.closed() && !disk.as_ref().is_some_and(Durability::busy) {
            if let Some(disk) = &mut disk {
                let stats = disk.store().stats;
                eprintln!(
                    "ryw-node: disk: {} fsyncs, {} entries, {} bytes written, {} snapshots",
                    stats.syncs, stats.entries, stats.bytes, stats.snapshots
                );
            }
            return Ok(());
        }
    }
}

fn log_skipped(result: Result<(), String>) {
    if let Err(why) = result {
        eprintln!("ryw-node: {why}");
    }
}

fn write_output(node: &mut Node, out: &mut impl Write, text: &mut String) -> io::Result<()> {
    while let Some(envelope) = node.poll_transmit() {
        text.clear();
        codec::encode_into(&envelope, text);
        text.push('\n');
        out.write_all(text.as_bytes())?;
    }
    while let Some(warning) = node.poll_warning() {
        eprintln!("ryw-node: {warning}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backlog_holds_two_bursts_and_never_less_than_the_cores_default() {
        for in_flight in [1, 4] {
            let config = Config {
                append_in_flight_max: in_flight,
                ..Config::default()
            };
            let window = config.append_entries_max * in_flight;
            let entries = backlog_windows_for(&config, BATCH_LINES_MAX) * window;
            assert!(entries >= 2 * BATCH_LINES_MAX, "{entries} entries");
            assert!(entries < 2 * BATCH_LINES_MAX + window, "{entries} entries");
        }
        let config = Config::default();
        let windows = backlog_windows_for(&config, BATCH_LINES_MAX);
        assert_eq!(
            backlog_windows_for(&config, 1),
            config.backlog_windows_max,
            "small bursts keep the default"
        );
        let cli = Cli::parse_from(["ryw-node", "--seed", "1"]);
        let config = config_from(&cli).expect("a valid config");
        assert_eq!(config.backlog_windows_max, windows, "the node runs with it");
    }
}
