//! `ryw-node`'s command line: help and version on stdout with exit 0, every
//! setting by flag or environment variable, bad values refused with exit 2;
//! and its input, read as whole lines however stdin splits them.

use std::io::Write;
use std::process::{Command, Stdio};

use ryw_tests::workspace_binary;

fn node() -> Command {
    Command::new(workspace_binary("ryw-node"))
}

#[test]
fn help_and_version_print_to_stdout_and_exit_0() {
    let help = node().arg("--help").output().expect("runs");
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--seed",
        "--ryw-wait-ms-max",
        "--request-timeout-ms",
        "RYW_SEED",
        "[default: 100]",
    ] {
        assert!(text.contains(flag), "help names {flag}:\n{text}");
    }
    let version = node().arg("--version").output().expect("runs");
    assert_eq!(version.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("ryw-node "));
}

/// (arguments, environment, what the error must name)
type Case = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    &'static str,
);

#[test]
fn bad_settings_exit_2_naming_them() {
    let cases: [Case; 4] = [
        (&["--seed", "x"], &[], "--seed"),
        (&[], &[("RYW_SEED", "-1")], "--seed"),
        (&["--request-timeout-ms", "0"], &[], "request_timeout_ms"),
        (&["--frob"], &[], "--frob"),
    ];
    for (args, env, named) in cases {
        let out = node()
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(named), "{args:?}: {err}");
    }
}

#[test]
fn a_flag_sets_what_its_variable_sets() {
    let mut child = node()
        .args(["--seed", "42"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(br#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#)
        .expect("written");
    let out = child.wait_with_output().expect("exits");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rng seed 42"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("init_ok"));
}

#[test]
fn the_usage_guide_shows_the_help_as_it_is() {
    let guide = std::fs::read_to_string(ryw_tests::scenarios_dir().join("../docs/usage.md"))
        .expect("docs/usage.md");
    let help = node().arg("--help").output().expect("runs");
    let shown = format!(
        "$ ryw-node --help\n{}",
        String::from_utf8_lossy(&help.stdout).trim_end()
    );
    assert!(
        guide.contains(&shown),
        "docs/usage.md lacks, or shows an old:\n{shown}"
    );
}

#[test]
fn lines_longer_than_a_read_blank_lines_and_a_last_line_without_newline_are_read_whole() {
    // stdin is read 8 KiB at a time; this value spans several reads.
    let long_value = "v".repeat(50_000);
    let input = format!(
        concat!(
            r#"{{"src":"c0","dest":"n1","body":{{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}}}"#,
            "\n\n\r\n",
            r#"{{"src":"c1","dest":"n1","body":{{"type":"write","msg_id":2,"key":"k","value":"{}"}}}}"#,
            "\r\n",
            r#"{{"src":"c1","dest":"n1","body":{{"type":"read","msg_id":3,"key":"k"}}}}"#,
        ),
        long_value
    );
    let mut child = node()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut stdin = child.stdin.take().expect("stdin");
    // Written in pieces that end inside lines, as a pipe may deliver them.
    for piece in input.as_bytes().chunks(3_001) {
        stdin.write_all(piece).expect("written");
        stdin.flush().expect("flushed");
    }
    drop(stdin);
    let out = child.wait_with_output().expect("exits");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let replies: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON reply"))
        .collect();
    let kinds: Vec<&str> = replies
        .iter()
        .map(|reply| reply["body"]["type"].as_str().expect("a type"))
        .collect();
    assert_eq!(kinds, ["init_ok", "write_ok", "read_ok"], "{stdout}");
    assert_eq!(replies[2]["body"]["value"], long_value.as_str());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .matches("skipping")
            .count(),
        0,
        "blank lines are not complained of"
    );
}
