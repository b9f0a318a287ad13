//! Benchmark baseline for `ryw-node`: parses each JSON line and prints a
//! reply of the same shape and size as the node's, doing nothing else (no
//! Raft, no state). `ryw-node` throughput is measured against it.

use std::io::{self, BufRead, BufWriter, Write};

fn main() -> io::Result<()> {
    let stdin = io::stdin().lock();
    let mut out = BufWriter::new(io::stdout().lock());
    let mut msg_id = 0u64;
    for line in stdin.lines() {
        let line = line?;
        let Ok(request) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let body = &request["body"];
        let in_reply_to = body["msg_id"].as_u64().unwrap_or(0);
        let dest = request["src"].as_str().unwrap_or("c0");
        let reply = match body["type"].as_str() {
            Some("init") => format!(r#""type": "init_ok", "in_reply_to": {in_reply_to}"#),
            Some("write") => format!(
                r#""type": "write_ok", "in_reply_to": {in_reply_to}, "commit_index": {}"#,
                msg_id + 1
            ),
            _ => format!(
                r#""type": "ryw_read_ok", "in_reply_to": {in_reply_to}, "value": {}, "served_by": "n1", "follower_applied_index": {}, "waited_ms": 0"#,
                body["key"], msg_id
            ),
        };
        writeln!(
            out,
            r#"{{"src": "n1", "dest": "{dest}", "body": {{{reply}, "msg_id": {msg_id}}}}}"#
        )?;
        msg_id += 1;
    }
    out.flush()
}
