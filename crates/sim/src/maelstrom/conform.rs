//! `ryw-sim maelstrom conform`: the seed task's sample tests, as the task
//! states them, against any binary: each sample's input is piped into a
//! fresh process, and what it prints within the sample's timeout must
//! equal the expected output byte for byte. Then a short three-node run
//! with no faults checks that the node works in a cluster at all.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::process::Launch;
use super::report::Report;
use super::runner::Setup;
use crate::scenario::Scenario;

/// One of the task's sample tests.
pub struct Sample {
    pub name: &'static str,
    pub input: &'static str,
    pub expected: &'static str,
    pub timeout_ms: u64,
}

/// The seed task's sample tests, exactly as it gives them.
pub const SAMPLES: [Sample; 2] = [
    Sample {
        name: "Read-your-writes from follower",
        input: concat!(
            r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1","n2","n3"]}}"#,
            "\n",
            r#"{"src":"c1","dest":"n1","body":{"type":"ryw_read","msg_id":2,"key":"x","last_write_index":5,"prefer_follower":true}}"#,
            "\n"
        ),
        expected: "{\"src\": \"n1\", \"dest\": \"c0\", \"body\": {\"type\": \"init_ok\", \"in_reply_to\": 1, \"msg_id\": 0}}\n",
        timeout_ms: 5_000,
    },
    Sample {
        name: "Follower behind redirects to leader",
        input: concat!(
            r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1","n2","n3"]}}"#,
            "\n",
            r#"{"src":"c1","dest":"n1","body":{"type":"ryw_read","msg_id":2,"key":"x","last_write_index":999,"prefer_follower":true}}"#,
            "\n"
        ),
        expected: "{\"src\": \"n1\", \"dest\": \"c0\", \"body\": {\"type\": \"init_ok\", \"in_reply_to\": 1, \"msg_id\": 0}}\n",
        timeout_ms: 5_000,
    },
];

/// The short cluster check after the samples: three nodes, no faults.
const CLUSTER_CHECK: &str = r#"{
  "name": "conform-cluster",
  "description": "Three nodes, no faults, a few seconds of the workload.",
  "nodes": 3,
  "duration_ms": 4000
}"#;

/// What one sample did.
pub struct SampleResult {
    pub name: &'static str,
    /// The first difference, or `None` if the output matched.
    pub difference: Option<String>,
}

/// Pipes the sample's input into a fresh process of `bin` (stdin then
/// closed, as a plain pipe does) and compares what it printed by the time
/// it exited, or by the timeout, with the expected output.
pub fn run_sample(bin: &str, sample: &Sample) -> SampleResult {
    let command = Launch {
        command: bin,
        node: 0,
        life: 1,
        stderr_log: Path::new("/dev/null"),
        data_dir: None,
    }
    .shell_command();
    let printed = match printed_within(&command, sample.input, sample.timeout_ms) {
        Ok(printed) => printed,
        Err(why) => {
            return SampleResult {
                name: sample.name,
                difference: Some(why),
            }
        }
    };
    SampleResult {
        name: sample.name,
        difference: first_difference(sample.expected, &printed),
    }
}

/// Everything `command` printed on stdout until it exited or `timeout_ms`
/// passed (then it is killed).
fn printed_within(command: &str, input: &str, timeout_ms: u64) -> Result<String, String> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped");
    // A node that reads nothing must not block the write.
    let input = input.to_owned();
    std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let mut stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        let _ = tx.send(bytes);
    });
    let bytes = match rx.recv_timeout(Duration::from_millis(timeout_ms)) {
        Ok(bytes) => bytes,
        Err(_) => {
            // Still running at the timeout: what it printed so far counts.
            let _ = child.kill();
            rx.recv().unwrap_or_default()
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    String::from_utf8(bytes).map_err(|_| "printed bytes that are not UTF-8".to_owned())
}

/// The first line where `got` differs from `expected`, shown both ways.
fn first_difference(expected: &str, got: &str) -> Option<String> {
    if expected == got {
        return None;
    }
    let (want, have): (Vec<&str>, Vec<&str>) = (
        expected.split_inclusive('\n').collect(),
        got.split_inclusive('\n').collect(),
    );
    let line = (0..want.len().max(have.len()))
        .find(|&i| want.get(i) != have.get(i))
        .unwrap_or(0);
    let show = |l: Option<&&str>| l.map_or("(nothing)".to_owned(), |l| format!("{l:?}"));
    Some(format!(
        "line {}: expected {}, got {}",
        line + 1,
        show(want.get(line)),
        show(have.get(line))
    ))
}

/// The samples, then the cluster check.
pub fn run(bin: &str, seed: u64, log_dir: &Path) -> Result<(Vec<SampleResult>, Report), String> {
    let samples = SAMPLES.iter().map(|s| run_sample(bin, s)).collect();
    let scenario = Scenario::parse(CLUSTER_CHECK).expect("the cluster check is valid");
    let setup = Setup {
        bin: bin.to_owned(),
        seed,
        data_dir: None,
        log_dir: log_dir.to_path_buf(),
        history: false,
    };
    let report = super::run(scenario, Vec::new(), setup)?;
    Ok((samples, report))
}

/// The conformance report a person reads, and whether everything passed.
pub fn text(samples: &[SampleResult], cluster: &Report) -> (String, bool) {
    let mut out = String::new();
    let mut passed = true;
    for sample in samples {
        match &sample.difference {
            None => out.push_str(&format!(
                "PASS sample {:?}: output matches byte for byte\n",
                sample.name
            )),
            Some(why) => {
                passed = false;
                out.push_str(&format!("FAIL sample {:?}: {why}\n", sample.name));
            }
        }
    }
    out.push_str("three-node check, no faults:\n");
    out.push_str(&cluster.text());
    passed &= cluster.passed(false);
    (out, passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_names_the_line_and_shows_both() {
        assert_eq!(first_difference("a\nb\n", "a\nb\n"), None);
        let why = first_difference("a\nb\n", "a\nc\n").expect("differs");
        assert_eq!(why, r#"line 2: expected "b\n", got "c\n""#);
        let why = first_difference("a\n", "a\nextra\n").expect("differs");
        assert!(why.contains("expected (nothing)"), "{why}");
        let why = first_difference("a\n", "a").expect("differs");
        assert!(why.starts_with("line 1:"), "{why}");
    }

    #[test]
    fn a_shell_command_that_prints_the_expected_output_passes_and_one_that_hangs_is_cut_off() {
        // `exec` runs the command itself: one program, printing the line.
        let printing = format!("printf '%s\\n' '{}'", SAMPLES[0].expected.trim_end());
        assert_eq!(run_sample(&printing, &SAMPLES[0]).difference, None);
        let hanging = Sample {
            timeout_ms: 300,
            ..SAMPLES[0]
        };
        let result = run_sample("sleep 30", &hanging);
        assert!(
            result
                .difference
                .is_some_and(|d| d.contains("got (nothing)")),
            "a silent node fails, cut off at the timeout"
        );
    }
}
