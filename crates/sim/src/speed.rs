//! Benchmarks (not tests): simulator speed on the standard scenarios, and
//! `ryw-node` throughput against a parse-only baseline. Instruction counts
//! from callgrind come first where valgrind is installed: they do not
//! swing with the machine's load, as wall-clock figures (which follow,
//! with peak memory) do.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::node::real_node;
use crate::run::{run, RunOptions};
use crate::scenario::Scenario;

pub struct Measurement {
    pub what: String,
    pub figure: String,
    pub peak_kib: Option<u64>,
}

/// Peak resident memory of a process (Linux `VmHWM`), in KiB.
pub fn peak_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The median of `figures` and their range, as `median (min-max)`
/// rendered by `show`.
pub fn median_of(mut figures: Vec<f64>, show: impl Fn(f64) -> String) -> String {
    figures.sort_by(f64::total_cmp);
    let (Some(&lowest), Some(&highest)) = (figures.first(), figures.last()) else {
        return "no measurement".into();
    };
    let median = figures[figures.len() / 2];
    if figures.len() == 1 {
        return show(median);
    }
    format!(
        "{} (median of {}; {} to {})",
        show(median),
        figures.len(),
        show(lowest),
        show(highest)
    )
}

/// Runs `seeds` seeds of each scenario on this thread, `repeat` times,
/// and reports the median speed with its range.
pub fn simulator(scenarios: &[(String, Scenario)], seeds: u64, repeat: u64) -> Vec<Measurement> {
    let mut rows = Vec::new();
    for (path, scenario) in scenarios {
        let (mut msgs_per_s, mut sim_s_per_s) = (Vec::new(), Vec::new());
        for _ in 0..repeat {
            let (mut delivered, mut sim_ms) = (0u64, 0u64);
            let started = Instant::now();
            for seed in 0..seeds {
                let summary = run(scenario, RunOptions::new(seed, &real_node));
                delivered += summary.delivered;
                sim_ms += summary.sim_ms;
            }
            let wall_s = started.elapsed().as_secs_f64().max(1e-9);
            msgs_per_s.push(delivered as f64 / wall_s);
            sim_s_per_s.push(sim_ms as f64 / 1000.0 / wall_s);
        }
        rows.push(Measurement {
            what: format!("simulator, {path} ({seeds} seeds)"),
            figure: format!(
                "{} delivered msgs/s, {} simulated s per wall s",
                median_of(msgs_per_s, |f| format!("{:.2}M", f / 1e6)),
                median_of(sim_s_per_s, |f| format!("{f:.0}"))
            ),
            peak_kib: None,
        });
    }
    rows
}

/// A one-node cluster's input: `init`, then alternating `write` and a
/// `ryw_read` carrying the token of the write before it.
pub fn node_input(requests: usize) -> String {
    let mut input = String::from(
        r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#,
    );
    input.push('\n');
    for i in 0..requests {
        let msg_id = i + 2;
        let key = format!("k{:03}", i % 1000);
        if i % 2 == 0 {
            let _ = writeln!(
                input,
                r#"{{"src":"c1","dest":"n1","body":{{"type":"write","msg_id":{msg_id},"key":"{key}","value":"{key}"}}}}"#
            );
        } else {
            // The no-op of the leader's term is index 1; write w is index w + 2.
            let token = i / 2 + 2;
            let _ = writeln!(
                input,
                r#"{{"src":"c1","dest":"n1","body":{{"type":"ryw_read","msg_id":{msg_id},"key":"{key}","last_write_index":{token}}}}}"#
            );
        }
    }
    input
}

/// What one piped run measured.
pub struct Piped {
    pub ops_per_s: f64,
    pub wall_s: f64,
    pub peak_kib: Option<u64>,
    /// What the program wrote to stderr.
    pub log: Vec<String>,
}

/// Pipes `input` into `binary` run with `args` (then closes its stdin) and
/// times how long all replies take. Peak memory comes from `/usr/bin/time
/// -f %M` when the machine has it.
pub fn pipe_throughput(
    binary: &Path,
    args: &[&str],
    input: &str,
    replies: usize,
) -> Result<Piped, String> {
    let gnu_time = Path::new("/usr/bin/time");
    let mut command = if gnu_time.exists() {
        let mut c = Command::new(gnu_time);
        c.args(["-f", "peak_kib=%M"]).arg(binary);
        c
    } else {
        Command::new(binary)
    };
    command.args(args);
    let mut child = spawn_piped(command, binary)?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let log = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let input = input.to_owned();
    let started = Instant::now();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
        // Dropping stdin: both programs answer everything they read, then exit.
    });
    let seen = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take(replies)
        .count();
    let elapsed_s = started.elapsed().as_secs_f64();
    let _ = writer.join();
    let _ = child.wait();
    let log = log.join().unwrap_or_default();
    if seen < replies {
        return Err(format!(
            "{}: only {seen} of {replies} replies",
            binary.display()
        ));
    }
    let peak_kib = log
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("peak_kib=")?.trim().parse().ok());
    Ok(Piped {
        ops_per_s: replies as f64 / elapsed_s.max(1e-9),
        wall_s: elapsed_s,
        peak_kib,
        log,
    })
}

/// Starts `command`, which runs `binary` (directly or under a measuring
/// tool), with its three streams piped and the node's seed fixed, once
/// `binary` is known to be built.
fn spawn_piped(mut command: Command, binary: &Path) -> Result<std::process::Child, String> {
    if !binary.exists() {
        return Err(format!(
            "{} is missing: build it with cargo build --release",
            binary.display()
        ));
    }
    command
        .env("RYW_SEED", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))
}

/// `ryw-node`'s own count of its disk work, from the line it writes to
/// stderr at the end: (fsyncs, entries).
pub fn disk_counts(log: &[String]) -> Option<(u64, u64)> {
    let line = log
        .iter()
        .find_map(|l| l.strip_prefix("ryw-node: disk: "))?;
    let mut numbers = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse::<u64>().ok());
    Some((numbers.next()??, numbers.next()??))
}

/// Whether valgrind (for callgrind's instruction counts) is installed.
pub fn callgrind_available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What one program did under callgrind: the instructions it executed
/// (every thread), and what it wrote to stdout.
pub struct Counted {
    pub instructions: u64,
    pub stdout: String,
}

/// Runs `binary` with `args` under callgrind, `input` on its stdin, and
/// reads the instruction count valgrind reports (`Collected : N`).
pub fn instructions(binary: &Path, args: &[&str], input: &str) -> Result<Counted, String> {
    let mut command = Command::new("valgrind");
    command
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(binary)
        .args(args);
    let mut child = spawn_piped(command, binary)?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let input = input.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let output = child
        .wait_with_output()
        .map_err(|e| format!("valgrind {}: {e}", binary.display()))?;
    let _ = writer.join();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let instructions = collected(&stderr).ok_or_else(|| {
        format!(
            "valgrind {}: no instruction count in its output ({})",
            binary.display(),
            stderr.lines().last().unwrap_or("nothing")
        )
    })?;
    Ok(Counted {
        instructions,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
    })
}

/// The count in callgrind's `==PID== Collected : 72301234` line.
pub fn collected(stderr: &str) -> Option<u64> {
    stderr.lines().find_map(|line| {
        let (_, count) = line.split_once("Collected :")?;
        count.trim().parse().ok()
    })
}

/// Instructions per unit, as the table shows them.
pub fn per(instructions: u64, units: u64, unit: &str) -> String {
    format!(
        "{:.0} instructions per {unit} ({:.1}M for {units})",
        instructions as f64 / units.max(1) as f64,
        instructions as f64 / 1e6
    )
}

pub fn table(rows: &[Measurement]) -> String {
    let mut out = String::from("| benchmark | result | peak memory |\n|---|---|---|\n");
    for r in rows {
        let memory = r
            .peak_kib
            .map_or("-".to_string(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
        let _ = writeln!(out, "| {} | {} | {memory} |", r.what, r.figure);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_reported_with_its_range() {
        let show = |f: f64| format!("{f:.0}");
        assert_eq!(
            median_of(vec![3.0, 1.0, 2.0], show),
            "2 (median of 3; 1 to 3)"
        );
        assert_eq!(median_of(vec![5.0], show), "5");
        assert_eq!(median_of(Vec::new(), show), "no measurement");
    }

    #[test]
    fn the_instruction_count_is_read_from_callgrinds_summary() {
        let stderr = "==4242== Callgrind, a call-graph generating cache profiler\n\
                      ==4242== Events    : Ir\n\
                      ==4242== Collected : 72301234\n\
                      ==4242== I   refs:      72,301,234\n";
        assert_eq!(collected(stderr), Some(72_301_234));
        assert_eq!(collected("==1== no count here"), None);
        assert_eq!(
            per(72_301_234, 14_021, "delivered message"),
            "5157 instructions per delivered message (72.3M for 14021)"
        );
    }
}
