//! Reading what a node under test writes: an envelope (`src`, `dest`,
//! `body`), and a reply to a client read leniently, the way a person would
//! read it. A node written to the task's text may leave out fields our own
//! node sends (`leader_applied_index`, `waited_ms`): what the checkers need
//! is required, the rest defaults, and what is missing is named.

use ryw_core::{ErrorCode, Id, OpResult, Redirect, Served, Value};
use serde_json::{Map, Value as Json};

/// One line a node wrote, as an envelope.
pub struct Envelope {
    pub src: String,
    pub dest: String,
    pub body: Map<String, Json>,
}

impl Envelope {
    pub fn kind(&self) -> &str {
        self.body.get("type").and_then(Json::as_str).unwrap_or("")
    }

    pub fn in_reply_to(&self) -> Option<u64> {
        self.body.get("in_reply_to").and_then(Json::as_u64)
    }
}

/// The line as an envelope, or why it is none (quoting the line).
pub fn envelope(line: &str) -> Result<Envelope, String> {
    let quoted = || {
        let cut = ryw_core::codec::cut_at_char_boundary(line, 200);
        let more = if cut.len() < line.len() { "…" } else { "" };
        format!("{cut}{more}")
    };
    let json: Json = serde_json::from_str(line)
        .map_err(|e| format!("a line that is not JSON ({e}): {}", quoted()))?;
    let Json::Object(mut top) = json else {
        return Err(format!("a line that is not a JSON object: {}", quoted()));
    };
    let mut text = |field: &str| match top.remove(field) {
        Some(Json::String(s)) => Ok(s),
        Some(_) => Err(format!("field '{field}' is not a string: {}", quoted())),
        None => Err(format!("no field '{field}': {}", quoted())),
    };
    let src = text("src")?;
    let dest = text("dest")?;
    let body = match top.remove("body") {
        Some(Json::Object(body)) => body,
        _ => return Err(format!("no object 'body': {}", quoted())),
    };
    if !body.get("type").is_some_and(Json::is_string) {
        return Err(format!("field 'body.type' is not a string: {}", quoted()));
    }
    Ok(Envelope { src, dest, body })
}

/// A client reply's result, with what the reply left out that the task's
/// protocol asks for (each a sentence); `Err` when the reply cannot be
/// read as a result at all (the error names the field).
pub fn result(body: &Map<String, Json>) -> Result<(OpResult, Vec<String>), String> {
    let kind = body.get("type").and_then(Json::as_str).unwrap_or("");
    let mut missing = Vec::new();
    let index = |field: &str| {
        body.get(field).and_then(Json::as_u64).ok_or_else(|| {
            format!("{kind}: field 'body.{field}' is missing or not a non-negative integer")
        })
    };
    let value = || {
        body.get("value")
            .cloned()
            .map(Value::from)
            .ok_or_else(|| format!("{kind}: no field 'body.value'"))
    };
    let result = match kind {
        "write_ok" => OpResult::WriteOk {
            commit_index: index("commit_index")?,
        },
        "cas_ok" => OpResult::CasOk {
            commit_index: index("commit_index")?,
        },
        "read_ok" => OpResult::ReadOk { value: value()? },
        "ryw_read_ok" => {
            let served_by = match body.get("served_by").and_then(Json::as_str) {
                Some(id) => Id::parse(id),
                None => {
                    missing.push("ryw_read_ok without 'served_by'".to_owned());
                    Id::parse("?")
                }
            };
            let how = match body.get("reason").and_then(Json::as_str) {
                Some(text) => {
                    let reason = Redirect::parse(text).unwrap_or_else(|| {
                        missing.push(format!("ryw_read_ok with an unknown reason {text:?}"));
                        Redirect::FollowerBehind
                    });
                    Served::Redirected { reason }
                }
                None => Served::Locally {
                    waited_ms: body.get("waited_ms").and_then(Json::as_u64).unwrap_or(0),
                },
            };
            let applied_index = ["follower_applied_index", "leader_applied_index"]
                .iter()
                .find_map(|field| body.get(*field).and_then(Json::as_u64))
                .unwrap_or(0);
            OpResult::RywReadOk {
                value: value()?,
                served_by,
                applied_index,
                how,
            }
        }
        "error" => OpResult::Error {
            code: ErrorCode(index("code")?),
            text: body
                .get("text")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_owned(),
        },
        other => return Err(format!("{other:?} is not a reply type")),
    };
    Ok((result, missing))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(line: &str) -> Map<String, Json> {
        envelope(line).expect("an envelope").body
    }

    #[test]
    fn the_tasks_own_redirect_reply_reads_without_the_fields_it_leaves_out() {
        let line = r#"{"src": "n1", "dest": "c1", "body": {"type": "ryw_read_ok", "in_reply_to": 3, "value": "new", "served_by": "n1", "reason": "follower_behind_redirected_to_leader"}}"#;
        let (result, missing) = result(&body(line)).expect("read");
        assert!(missing.is_empty(), "{missing:?}");
        let OpResult::RywReadOk { served_by, how, .. } = result else {
            panic!("{result:?}")
        };
        assert_eq!(served_by.to_string(), "n1");
        assert!(matches!(how, Served::Redirected { .. }));
    }

    #[test]
    fn what_a_reply_lacks_is_named() {
        let no_served_by =
            r#"{"src":"n2","dest":"c1","body":{"type":"ryw_read_ok","in_reply_to":1,"value":1}}"#;
        let (_, missing) = result(&body(no_served_by)).expect("read");
        assert_eq!(missing, ["ryw_read_ok without 'served_by'"]);
        let no_index = r#"{"src":"n2","dest":"c1","body":{"type":"write_ok","in_reply_to":1}}"#;
        let why = result(&body(no_index)).expect_err("a write_ok needs its index");
        assert!(why.contains("'body.commit_index'"), "{why}");
        for (line, field) in [
            ("not json", "not JSON"),
            (r#"{"dest":"c1","body":{"type":"x"}}"#, "'src'"),
            (r#"{"src":"n1","dest":"c1","body":3}"#, "'body'"),
            (r#"{"src":"n1","dest":"c1","body":{}}"#, "'body.type'"),
        ] {
            let why = envelope(line).err().expect("refused");
            assert!(why.contains(field), "{why}");
        }
    }
}
