//! Benchmark baseline for `ryw-node`: the least a program must do per line
//! to answer it. It decodes each JSON line into borrowed, typed fields (no
//! `serde_json::Value` tree; the key stays raw JSON text) and writes a
//! reply of the same shape and size as the node's straight into the output
//! buffer, doing nothing else (no Raft, no state). `ryw-node` throughput is
//! measured against it, so the ratio says how much of the node's cost is
//! more than parsing and printing.

use std::borrow::Cow;
use std::io::{self, BufRead, BufWriter, Write};

use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    src: Cow<'a, str>,
    #[serde(borrow)]
    body: Body<'a>,
}

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    msg_id: Option<u64>,
    #[serde(borrow)]
    key: Option<&'a RawValue>,
}

fn main() -> io::Result<()> {
    let mut stdin = io::stdin().lock();
    let mut out = BufWriter::new(io::stdout().lock());
    let mut line = String::new();
    let mut msg_id = 0u64;
    loop {
        line.clear();
        if stdin.read_line(&mut line)? == 0 {
            break;
        }
        let Ok(request) = serde_json::from_str::<Request<'_>>(line.trim_end()) else {
            continue;
        };
        let (dest, body) = (&request.src, &request.body);
        let in_reply_to = body.msg_id.unwrap_or(0);
        write!(out, r#"{{"src": "n1", "dest": "{dest}", "body": {{"#)?;
        match &*body.kind {
            "init" => write!(out, r#""type": "init_ok", "in_reply_to": {in_reply_to}"#)?,
            "write" => write!(
                out,
                r#""type": "write_ok", "in_reply_to": {in_reply_to}, "commit_index": {}"#,
                msg_id + 1
            )?,
            _ => {
                let key = body.key.map_or("null", RawValue::get);
                write!(
                    out,
                    r#""type": "ryw_read_ok", "in_reply_to": {in_reply_to}, "value": {key}, "served_by": "n1", "follower_applied_index": {msg_id}, "waited_ms": 0"#
                )?
            }
        }
        writeln!(out, r#", "msg_id": {msg_id}}}}}"#)?;
        msg_id += 1;
    }
    out.flush()
}
