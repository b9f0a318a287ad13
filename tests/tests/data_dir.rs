//! `ryw-node --data-dir`: what a node acknowledged survives a restart; a
//! data file damaged between runs is recovered safely (a torn tail cut
//! off, damage cut off and named with its offset, the node then catching
//! up from its peers); a directory it cannot use, or an fsync that fails,
//! stops it with a message naming the path.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use ryw_tests::workspace_binary;
use serde_json::Value;

const INIT: &str = r#"{"src":"c1","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#;

/// Runs `ryw-node --data-dir PATH` (with `env` set) on `init` then
/// `requests`, until stdin closes.
fn node_run(path: &Path, env: &[(&str, &str)], init: &str, requests: &[String]) -> Output {
    let mut command = Command::new(workspace_binary("ryw-node"));
    command.args(["--seed", "1", "--data-dir"]).arg(path);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ryw-node starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut text = format!("{init}\n");
    for request in requests {
        text.push_str(request);
        text.push('\n');
    }
    let _ = stdin.write_all(text.as_bytes());
    drop(stdin);
    child.wait_with_output().expect("ryw-node ends")
}

/// Runs a one-node cluster on `dir` with `requests` after `init`.
fn run_node(dir: &Path, requests: &[String]) -> Output {
    node_run(dir, &[], INIT, requests)
}

fn write(msg_id: u64, value: u64) -> String {
    format!(
        r#"{{"src":"c1","dest":"n1","body":{{"type":"write","msg_id":{msg_id},"key":1,"value":{value}}}}}"#
    )
}

const READ: &str = r#"{"src":"c1","dest":"n1","body":{"type":"read","msg_id":99,"key":1}}"#;

fn replies(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("JSON lines")["body"].clone())
        .collect()
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("data-dir-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A data directory whose node acknowledged writes of 1..=5 to key 1.
fn written(name: &str) -> PathBuf {
    let dir = fresh_dir(name);
    let requests: Vec<String> = (1..=5).map(|v| write(v + 1, v)).collect();
    let out = run_node(&dir, &requests);
    let acked = replies(&out)
        .iter()
        .filter(|b| b["type"] == "write_ok")
        .count();
    assert_eq!(acked, 5, "{}", String::from_utf8_lossy(&out.stderr));
    dir
}

#[test]
fn acknowledged_writes_survive_a_restart() {
    let dir = written("survive");
    let out = run_node(&dir, &[READ.to_string()]);
    let read = replies(&out).into_iter().find(|b| b["type"] == "read_ok");
    assert_eq!(read.expect("read_ok")["value"], 5);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A data directory the previous log format's node wrote (format 2, JSON
/// records: `tests/fixtures/data-dir-format-2`, made by `ryw-node` at
/// commit 25f409c from two runs: writes of 1..=7 to key 1, a string, a cas
/// on key 1 to 8, a cas creating key 3, a number beyond 64 bits on key 2
/// and a list on key 4; then, as client c2, writes of 20..=25 to key 5).
#[test]
fn a_data_directory_of_the_previous_log_format_opens_serves_and_carries_on() {
    let dir = fresh_dir("format-2");
    std::fs::create_dir_all(&dir).expect("creates");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/data-dir-format-2");
    for file in std::fs::read_dir(&fixture).expect("the fixture") {
        let file = file.expect("a fixture file").path();
        std::fs::copy(&file, dir.join(file.file_name().expect("named"))).expect("copies");
    }
    let header = |dir: &Path| std::fs::read(dir.join("raft.log")).expect("the log")[..8].to_vec();
    assert_eq!(header(&dir), b"RYWLOG2\n");
    let read = |msg_id: u64, key: &str| {
        format!(
            r#"{{"src":"c1","dest":"n1","body":{{"type":"read","msg_id":{msg_id},"key":{key}}}}}"#
        )
    };
    let keys = ["1", "2", "3", "4", "5", "\"name\""];
    let requests: Vec<String> = (0..).zip(keys).map(|(k, key)| read(200 + k, key)).collect();
    let out = run_node(&dir, &requests);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("lost"), "nothing is lost: {stderr}");
    // The values as written, the number beyond 64 bits and the 2.50 exactly.
    for (msg_id, value) in [
        (200, "8"),
        (201, "123456789012345678901234567890"),
        (202, "1"),
        (203, "[1,{\"b\":2.50}]"),
        (204, "25"),
        (205, "\"ada\""),
    ] {
        let line = stdout
            .lines()
            .find(|l| l.contains(&format!("\"in_reply_to\": {msg_id},")))
            .unwrap_or_else(|| panic!("no answer to {msg_id}: {stdout}"));
        assert!(line.contains(&format!("\"value\": {value}")), "{line}");
    }
    // A new write goes into the same file, in its format, and survives.
    let out = run_node(&dir, &[write(300, 9)]);
    assert!(replies(&out).iter().any(|b| b["type"] == "write_ok"));
    assert_eq!(header(&dir), b"RYWLOG2\n");
    let out = run_node(&dir, &[READ.to_string()]);
    let read = replies(&out).into_iter().find(|b| b["type"] == "read_ok");
    assert_eq!(read.expect("read_ok")["value"], 9);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_cut_anywhere_recovers_to_an_older_state_and_runs() {
    let dir = written("cut");
    let file = dir.join("raft.log");
    let bytes = std::fs::read(&file).expect("the log file");
    // Every 7th length, and the last few bytes one by one.
    let lengths = (0..bytes.len())
        .step_by(7)
        .chain(bytes.len() - 5..bytes.len());
    for length in lengths {
        std::fs::write(&file, &bytes[..length]).expect("cut");
        let out = run_node(&dir, &[READ.to_string()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "cut at {length}: {stderr}");
        let answers = replies(&out);
        let read = answers
            .iter()
            .find(|b| b["in_reply_to"] == 99)
            .unwrap_or_else(|| panic!("cut at {length}: no answer to the read: {stderr}"));
        let value = &read["value"];
        assert!(
            read["code"] == 20 || value.as_u64().is_some_and(|v| (1..=5).contains(&v)),
            "cut at {length}: read {read}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_flipped_byte_is_never_trusted_the_damage_is_named_and_cut_off() {
    let dir = written("flip");
    let file = dir.join("raft.log");
    let mut bytes = std::fs::read(&file).expect("the log file");
    // Inside the first record (the header is 8 bytes, then 8 of framing).
    bytes[20] ^= 0x04;
    std::fs::write(&file, &bytes).expect("flip");
    let out = run_node(&dir, &[READ.to_string()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("raft.log is damaged at byte 8")
            && stderr.contains("catch up from its peers"),
        "{stderr}"
    );
    // A cluster of one has no peer to repair from: what followed the
    // damage is gone, and the node says so rather than serve it.
    let read = replies(&out).into_iter().find(|b| b["in_reply_to"] == 99);
    assert_eq!(
        read.expect("an answer")["code"],
        20,
        "nothing of the damaged log is served"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs the one-node cluster on `path` and returns its exit code and what
/// it printed on stderr.
fn start_on(path: &Path, env: &[(&str, &str)], requests: &[String]) -> (Option<i32>, String) {
    let out = node_run(path, env, INIT, requests);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_data_directory_that_cannot_be_used_stops_the_start_naming_the_path_and_why() {
    let file = fresh_dir("a-file");
    std::fs::write(&file, b"not a directory").expect("a plain file");
    let (code, stderr) = start_on(&file, &[], &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&file.display().to_string()) && stderr.contains("not a directory"),
        "{stderr}"
    );
    // /proc exists and is a directory, but nobody can create files in it.
    let (code, stderr) = start_on(Path::new("/proc"), &[], &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("/proc") && stderr.contains("cannot create, write and fsync a file"),
        "{stderr}"
    );
    let _ = std::fs::remove_file(&file);
}

/// With every fsync slowed to `FSYNC_MS`, a write's acknowledgement waits
/// for its fsync, and meanwhile the node goes on answering: a read of what
/// was already durable is answered while the write's fsync is in flight.
#[test]
fn the_node_answers_while_an_fsync_is_in_flight_and_acknowledges_only_after_it() {
    const FSYNC_MS: u64 = 600;
    let dir = fresh_dir("slow-fsync");
    let mut child = Command::new(workspace_binary("ryw-node"))
        .args(["--seed", "1", "--request-timeout-ms", "20000", "--data-dir"])
        .arg(&dir)
        .env("RYW_TEST_FSYNC_DELAY_MS", FSYNC_MS.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ryw-node starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    // Each reply line with when it arrived.
    let (tx, replies) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let body = serde_json::from_str::<Value>(&line).expect("JSON")["body"].clone();
            if tx.send((std::time::Instant::now(), body)).is_err() {
                return;
            }
        }
    });
    // Answers by the request they answer, whatever their order.
    let mut answers = std::collections::BTreeMap::new();
    let mut answer_to = |msg_id: u64| loop {
        if let Some(answer) = answers.remove(&msg_id) {
            return answer;
        }
        let (at, body) = replies
            .recv_timeout(std::time::Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no answer to {msg_id}"));
        let to = body["in_reply_to"].as_u64().unwrap_or(0);
        answers.insert(to, (at, body));
    };
    let mut send = |line: &str| {
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .expect("sends");
        stdin.flush().expect("flushes");
    };
    send(INIT);
    // Write 1 waits for the start's fsyncs; once it is acknowledged it is durable.
    send(&write(2, 1));
    let (_, first) = answer_to(2);
    assert_eq!(first["type"], "write_ok", "{first}");
    let sent = std::time::Instant::now();
    send(&write(3, 2));
    send(READ);
    let (read_at, read) = answer_to(99);
    let (acked_at, acked) = answer_to(3);
    assert!(read_at < acked_at);
    assert_eq!(acked["type"], "write_ok", "{acked}");
    assert!(
        acked_at.duration_since(sent).as_millis() >= u128::from(FSYNC_MS),
        "acknowledged {} ms after it was sent, before its fsync could end",
        acked_at.duration_since(sent).as_millis()
    );
    assert_eq!(read["type"], "read_ok", "{read}");
    // Before the fsync could end: a node that fsyncs in line would have
    // answered only after it (a generous margin for a loaded machine).
    let read_ms = read_at.duration_since(sent).as_millis();
    assert!(
        read_ms < u128::from(FSYNC_MS) / 2,
        "the read waited for the write's fsync: answered {read_ms} ms after it was sent"
    );
    drop(stdin);
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

// PostgreSQL's fsyncgate: after a failed fsync the kernel may have dropped
// the pages, so the node stops instead of trying again and trusting it.
#[test]
fn a_failed_fsync_stops_the_node_with_a_message_naming_the_file() {
    let dir = fresh_dir("fsync-fails");
    let requests: Vec<String> = (1..=5).map(|v| write(v + 1, v)).collect();
    let (code, stderr) = start_on(&dir, &[("RYW_TEST_FSYNC_FAIL_AFTER", "0")], &requests);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("fsync of") && stderr.contains("raft.log") && stderr.contains("injected"),
        "{stderr}"
    );
    // The restart recovers what the disk kept, and runs.
    let out = run_node(&dir, &[READ.to_string()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `ryw-sim speed` reads the node's count of its disk work from stderr.
#[test]
fn the_node_reports_its_disk_work_when_stdin_closes() {
    let dir = fresh_dir("stats");
    let requests: Vec<String> = (1..=5).map(|v| write(v + 1, v)).collect();
    let output = run_node(&dir, &requests);
    assert!(output.status.success());
    let log: Vec<String> = String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::to_owned)
        .collect();
    let (fsyncs, entries) = ryw_sim::speed::disk_counts(&log)
        .unwrap_or_else(|| panic!("no disk line in:\n{}", log.join("\n")));
    assert!(fsyncs >= 1, "{fsyncs} fsyncs");
    // The leader's no-op and the five writes.
    assert_eq!(entries, 6, "{log:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_data_directory_refuses_to_start_as_another_node_or_cluster() {
    let dir = written("owner");
    for init in [
        r#"{"src":"c1","dest":"n2","body":{"type":"init","msg_id":1,"node_id":"n2","node_ids":["n2"]}}"#,
        r#"{"src":"c1","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1","n2","n3"]}}"#,
    ] {
        let out = node_run(&dir, &[], init, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{init}: {stderr}");
        assert!(
            stderr.contains(r#"belongs to {"node_id":"n1","node_ids":["n1"]}"#),
            "{stderr}"
        );
        assert!(replies(&out).is_empty(), "not even init_ok: {init}");
    }
    // As itself, it starts and serves what it wrote.
    let out = run_node(&dir, &[READ.to_string()]);
    let read = replies(&out).into_iter().find(|b| b["type"] == "read_ok");
    assert_eq!(read.expect("read_ok")["value"], 5);
    let _ = std::fs::remove_dir_all(&dir);
}
