//! `ryw-node`: a Maelstrom node. Reads JSON lines on stdin, writes JSON lines
//! on stdout, logs to stderr. The only place with a real clock: it feeds the
//! sans-IO core with milliseconds since start.

use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use ryw_core::{codec, Config, Durable, Millis, Node};
use ryw_node::handle_line;
use ryw_storage::{FsDisk, LogStore, Unwritten, LOG_FILE};

/// Lines handled before stdout is flushed, so a burst is written in one go.
const BATCH_LINES_MAX: usize = 1024;

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
    /// Keep term, vote and log in DIR/raft.log (created if missing) and
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
        None => (None, Durable::default()),
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
        ryw_wait_ms_max: cli.ryw_wait_ms_max,
        request_timeout_ms: cli.request_timeout_ms,
        ..Config::default()
    };
    config.validate()?;
    Ok(config)
}

/// Opens the log in `dir` and rebuilds the node's durable state from it.
fn recover(dir: &std::path::Path) -> Result<(Disk, Durable), String> {
    let at = dir.join(LOG_FILE);
    let disk = FsDisk::open(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (store, recovered) = LogStore::open(disk).map_err(|e| format!("{}: {e}", dir.display()))?;
    let durable = recovered.durable;
    eprintln!(
        "ryw-node: recovered term {}, {} log entries and {} earlier starts from {}",
        durable.current_term,
        durable.log.last_index(),
        durable.starts,
        at.display()
    );
    if let Some((offset, bytes, why)) = recovered.cut {
        eprintln!(
            "ryw-node: cut a torn tail of {bytes} bytes at byte {offset} of {} ({why})",
            at.display()
        );
    }
    Ok((store, durable))
}

type Disk = LogStore<FsDisk>;

/// What the node asked to persist and the disk has not yet taken.
#[derive(Default)]
struct Pending {
    unwritten: Unwritten,
    /// The newest batch written whose fsync failed, to sync again.
    unsynced: Option<u64>,
}

/// Writes what the node asks to persist and fsyncs it, once for everything
/// queued (group commit). Batches that could not be written (a full disk)
/// wait in `unwritten` and are tried again on the next pass; meanwhile the
/// node sends no vote or acknowledgement that depends on them.
fn persist(node: &mut Node, store: &mut Disk, pending: &mut Pending, now: Millis) {
    while let Some(batch) = node.poll_persist() {
        pending.unwritten.push(batch);
    }
    let written = pending.unwritten.write_to(store, node.log());
    let mut synced = Ok(());
    if let Some(newest) = written.newest.or(pending.unsynced) {
        synced = store.sync();
        match synced {
            Ok(()) => {
                pending.unsynced = None;
                node.handle_persisted(now, newest);
            }
            Err(_) => pending.unsynced = Some(newest),
        }
    }
    if let Some(e) = written.error.or(synced.err()) {
        let why = format!("{LOG_FILE}: {e}");
        eprintln!(
            "ryw-node: cannot persist to {why}; votes and acknowledgements wait until it can"
        );
        node.handle_persist_failed(&why);
    }
}

fn run(config: Config, durable: Durable, mut store: Option<Disk>) -> io::Result<()> {
    let start = Instant::now();
    let now = || Millis(start.elapsed().as_millis() as u64);
    let lines = spawn_stdin_reader();
    let mut node = Node::restart(config, durable, now());
    let mut pending = Pending::default();
    let mut out = BufWriter::new(io::stdout().lock());
    let mut text = String::new();
    loop {
        let received = match node.poll_timeout() {
            Some(at) => {
                let wait = Duration::from_millis(at.since(now()));
                lines.recv_timeout(wait)
            }
            None => lines.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(line) => {
                log_skipped(handle_line(&mut node, now(), &line));
                for line in lines.try_iter().take(BATCH_LINES_MAX) {
                    log_skipped(handle_line(&mut node, now(), &line));
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                // stdin closed: Maelstrom never does this, plain pipes do.
                write_output(&mut node, &mut out, &mut text)?;
                out.flush()?;
                if let Some(store) = &store {
                    let stats = store.stats;
                    eprintln!(
                        "ryw-node: disk: {} fsyncs, {} entries, {} bytes written",
                        stats.syncs, stats.entries, stats.bytes
                    );
                }
                return Ok(());
            }
        }
        if node.poll_timeout().is_some_and(|at| at <= now()) {
            node.handle_timeout(now());
        }
        if let Some(store) = &mut store {
            persist(&mut node, store, &mut pending, now());
        }
        write_output(&mut node, &mut out, &mut text)?;
        out.flush()?;
    }
}

/// One thread reads stdin into a channel; dropping the sender signals EOF.
fn spawn_stdin_reader() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        loop {
            let mut line = Vec::new();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(_) => {
                    if tx.send(line).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    eprintln!("ryw-node: reading stdin: {e}");
                    return;
                }
            }
        }
    });
    rx
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
