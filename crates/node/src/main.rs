//! `ryw-node`: a Maelstrom node. Reads JSON lines on stdin, writes JSON lines
//! on stdout, logs to stderr. The only place with a real clock: it feeds the
//! sans-IO core with milliseconds since start.

use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ryw_core::{codec, Config, Millis, Node};
use ryw_node::handle_line;

/// Lines handled before stdout is flushed, so a burst is written in one go.
const BATCH_LINES_MAX: usize = 1024;

fn main() -> ExitCode {
    let config = match config_from_env() {
        Ok(config) => config,
        Err(why) => {
            eprintln!("ryw-node: {why}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "ryw-node: rng seed {} (set RYW_SEED to replay)",
        config.rng_seed
    );
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ryw-node: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Settings from the environment: `RYW_SEED`, `RYW_WAIT_MS_MAX`, `RYW_REQUEST_TIMEOUT_MS`.
fn config_from_env() -> Result<Config, String> {
    let read = |name: &str| -> Result<Option<u64>, String> {
        match std::env::var(name) {
            Ok(text) => text
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("{name} must be a non-negative integer, got {text:?}")),
            Err(_) => Ok(None),
        }
    };
    let rng_seed = match read("RYW_SEED")? {
        Some(seed) => seed,
        // Real processes need distinct timeouts more than replayability;
        // the seed is printed so a run can still be repeated.
        None => {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
                ^ u64::from(std::process::id())
        }
    };
    let mut config = Config {
        rng_seed,
        ..Config::default()
    };
    if let Some(ms) = read("RYW_WAIT_MS_MAX")? {
        config.ryw_wait_ms_max = ms;
    }
    if let Some(ms) = read("RYW_REQUEST_TIMEOUT_MS")? {
        config.request_timeout_ms = ms;
    }
    config.validate()?;
    Ok(config)
}

fn run(config: Config) -> io::Result<()> {
    let start = Instant::now();
    let now = || Millis(start.elapsed().as_millis() as u64);
    let lines = spawn_stdin_reader();
    let mut node = Node::new(config, now());
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
                return Ok(());
            }
        }
        if node.poll_timeout().is_some_and(|at| at <= now()) {
            node.handle_timeout(now());
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
