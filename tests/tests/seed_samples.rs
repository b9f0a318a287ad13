//! The seed task's two sample tests, run against the built `ryw-node`, byte for byte.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ryw_tests::workspace_binary;

/// Pipes `input` into a fresh node and returns its stdout once it exits.
fn run_node(input: &str) -> (String, std::process::ExitStatus) {
    let mut child = Command::new(workspace_binary("ryw-node"))
        .env("RYW_SEED", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ryw-node starts");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("write input");
    let output = child.wait_with_output().expect("ryw-node exits");
    (
        String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        output.status,
    )
}

const INIT_OK: &str =
    "{\"src\": \"n1\", \"dest\": \"c0\", \"body\": {\"type\": \"init_ok\", \"in_reply_to\": 1, \"msg_id\": 0}}\n";

/// A seed sample: `init` for n1 of three nodes, then one `ryw_read` with `token`.
fn assert_sample_prints_only_init_ok(token: u64) {
    let input = format!(
        "{}\n{}\n",
        r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1","n2","n3"]}}"#,
        format_args!(
            r#"{{"src":"c1","dest":"n1","body":{{"type":"ryw_read","msg_id":2,"key":"x","last_write_index":{token},"prefer_follower":true}}}}"#
        )
    );
    let (stdout, status) = run_node(&input);
    assert!(status.success());
    assert_eq!(stdout, INIT_OK);
}

#[test]
fn sample_read_your_writes_from_follower() {
    assert_sample_prints_only_init_ok(5);
}

#[test]
fn sample_follower_behind_redirects_to_leader() {
    assert_sample_prints_only_init_ok(999);
}

#[test]
fn node_exits_with_status_zero_soon_after_stdin_closes() {
    // Built (if need be) before the clock starts: the bound is on the node.
    workspace_binary("ryw-node");
    let started = Instant::now();
    let (_, status) = run_node("");
    assert!(status.success());
    // A bound on a child process's lifetime, not on our own code's speed.
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn one_node_cluster_answers_piped_requests_and_survives_garbage() {
    let input = r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}
{"src":"c1","dest":"n1","body":{"type":"write","msg_id":2,"key":"x","value":"new"}}
not json at all
{"src":"c1","dest":"n1","body":{"type":"write","msg_id":3,"key":{"a":1},"value":1}}
{"src":"c1","dest":"n1","body":{"type":"append_entries","msg_id":4,"term":99,"prev_log_index":0,"prev_log_term":0,"entries":[],"leader_commit":0,"seq":1}}
{"src":"c1","dest":"n1","body":{"type":"ryw_read","msg_id":5,"key":"x","last_write_index":2}}
"#;
    let (stdout, status) = run_node(input);
    assert!(status.success());
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    for line in &lines {
        ryw_core::codec::decode(line).expect("stdout carries only valid envelopes");
    }
    assert!(lines[1].contains(r#""type": "write_ok", "in_reply_to": 2, "commit_index": 2"#));
    assert!(lines[2].contains(r#""code": 12"#) && lines[2].contains("'body.key'"));
    assert!(
        lines[3].contains(r#""code": 10"#),
        "forged Raft message refused: {}",
        lines[3]
    );
    assert!(lines[4]
        .contains(r#""type": "ryw_read_ok", "in_reply_to": 5, "value": "new", "served_by": "n1""#));
}

// A value is any JSON, kept exactly: an integer beyond 64 bits is neither
// rounded nor refused, and a `cas` compares it exactly (a rounding store
// would take 2^64 + 1 for 2^64 and answer `cas_ok`).
#[test]
fn values_beyond_64_bits_are_stored_returned_and_compared_exactly() {
    let input = r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}
{"src":"c1","dest":"n1","body":{"type":"write","msg_id":2,"key":"q","value":18446744073709551616}}
{"src":"c1","dest":"n1","body":{"type":"cas","msg_id":3,"key":"q","from":18446744073709551617,"to":5}}
{"src":"c1","dest":"n1","body":{"type":"read","msg_id":4,"key":"q"}}
{"src":"c1","dest":"n1","body":{"type":"cas","msg_id":5,"key":"q","from":18446744073709551616,"to":123456789012345678901234567890}}
{"src":"c1","dest":"n1","body":{"type":"read","msg_id":6,"key":"q"}}
{"src":"c1","dest":"n1","body":{"type":"write","msg_id":7,"key":"f","value":[1e400, 2.50, -0]}}
{"src":"c1","dest":"n1","body":{"type":"read","msg_id":8,"key":"f"}}
"#;
    let (stdout, status) = run_node(input);
    assert!(status.success());
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 8, "{stdout}");
    assert!(lines[1].contains(r#""type": "write_ok""#), "{}", lines[1]);
    assert!(
        lines[2].contains(r#""type": "error""#) && lines[2].contains(r#""code": 22"#),
        "cas from a different number fails: {}",
        lines[2]
    );
    assert!(
        lines[3].contains(r#""value": 18446744073709551616,"#),
        "{}",
        lines[3]
    );
    assert!(lines[4].contains(r#""type": "cas_ok""#), "{}", lines[4]);
    assert!(
        lines[5].contains(r#""value": 123456789012345678901234567890,"#),
        "{}",
        lines[5]
    );
    assert!(
        lines[7].contains(r#""value": [1e400,2.50,-0],"#),
        "{}",
        lines[7]
    );
}
