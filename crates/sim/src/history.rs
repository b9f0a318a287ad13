//! A run's client history, for checkers outside this project (Porcupine,
//! Jepsen's Knossos and Elle): one JSON line per event, Jepsen style, after
//! one header line that says which run it is (scenario, seed, version,
//! planted bug). An operation has an `invoke` event when its client sends
//! it and one completion: `ok` (it happened, with its result), `fail` (it
//! certainly did not happen) or `info` (unknown: a timeout, error 0, or
//! still in flight at the end of the run). `index` orders every event of
//! the run, so events that share a millisecond keep the order they
//! happened in.
//!
//! Jepsen's conventions: `process` is a number, and a client whose
//! operation ended `info` goes on as a fresh process (the old one may still
//! have that operation in flight, so a checker must not order the two).
//! Each event names the node the request went to and its `msg_id`. A reply
//! that arrives after its client gave up is recorded as a `late` event:
//! checkers that know only the four types skip it; it settles what the
//! `info` left open.

use std::collections::BTreeMap;

use ryw_core::{ClientOp, Key, OpResult, Value};
use serde::Serialize;
use serde_json::{json, Value as Json};

/// What an event says about its operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Invoke,
    Ok,
    Fail,
    Info,
    /// A reply to an operation already ended `info` (its client gave up).
    Late,
}

/// The history's first line: which run it records.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryHeader {
    /// What wrote it: `ryw-sim run` or `ryw-sim maelstrom`.
    pub source: &'static str,
    pub version: &'static str,
    pub scenario: String,
    pub seed: u64,
    /// The planted bug (`ryw-sim run --bug`), or the command line of the
    /// binary under test (`ryw-sim maelstrom`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bug: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bin: Option<String>,
    /// `simulated` or `wall` (milliseconds since the run began).
    pub time: &'static str,
}

/// Who an event belongs to and where its request went.
#[derive(Clone, Debug)]
pub struct Addressed<'a> {
    /// The client session: `c1`, `c2`, ...
    pub client: &'a str,
    /// The node the request was sent to: `n1`, ...
    pub node: &'a str,
    pub msg_id: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct HistoryEvent {
    /// Position in the run's one order of client events, from 0.
    pub index: u64,
    /// Time of the event (see the header's `time`).
    pub time_ms: u64,
    /// Jepsen's process: a number, fresh after every `info`.
    pub process: u64,
    #[serde(rename = "type")]
    pub event: EventType,
    /// `write`, `cas`, `read` or `ryw_read`.
    pub f: &'static str,
    pub key: Json,
    /// `write`: the value written; `cas`: `[from, to]`; a read's `ok`: the
    /// value read (`null`: no such key); a read's invoke: `null`.
    pub value: Value,
    /// Arguments beyond the value: `ryw_read`'s `last_write_index` and
    /// `prefer_follower`, `cas`'s `create_if_not_exists`.
    #[serde(skip_serializing_if = "Json::is_null")]
    pub args: Json,
    /// A completion's reply body as the node sent it (without its ids), or
    /// why the client gave up.
    #[serde(skip_serializing_if = "Json::is_null")]
    pub result: Json,
    /// The client session that sent it: `c1`, `c2`, ...
    pub client: String,
    /// The node the request went to.
    pub node: String,
    /// The request's `msg_id`.
    pub msg_id: u64,
}

/// What `op` writes: a write's value, a cas's `[from, to]`; reads: `null`.
fn written(op: &ClientOp) -> Value {
    match op {
        ClientOp::Write { value, .. } => value.clone(),
        ClientOp::Cas { from, to, .. } => match (from, to) {
            (Value::Json(from), Value::Json(to)) => Value::from(json!([from, to])),
            // A value kept as text stays exact inside the pair.
            _ => Value::parse(&format!("[{from},{to}]")).unwrap_or_default(),
        },
        ClientOp::Read { .. } | ClientOp::RywRead { .. } => Value::NULL,
    }
}

fn key_json(key: &Key) -> Json {
    match key {
        Key::Int(k) => json!(k),
        Key::Str(k) => json!(k),
    }
}

/// The events of a run, as they happen.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub events: Vec<HistoryEvent>,
    /// Each client's process now; a client without one gets a fresh one.
    processes: BTreeMap<String, u64>,
    next_process: u64,
}

impl History {
    /// The process `client` runs as now.
    fn process(&mut self, client: &str) -> u64 {
        if let Some(&process) = self.processes.get(client) {
            return process;
        }
        let process = self.next_process;
        self.next_process += 1;
        self.processes.insert(client.to_owned(), process);
        process
    }

    fn push(
        &mut self,
        time_ms: u64,
        who: &Addressed<'_>,
        event: EventType,
        op: &ClientOp,
        value: Value,
        result: Json,
    ) {
        let args = match op {
            ClientOp::RywRead {
                last_write_index,
                prefer_follower,
                ..
            } => json!({"last_write_index": last_write_index, "prefer_follower": prefer_follower}),
            ClientOp::Cas {
                create_if_not_exists: true,
                ..
            } => json!({"create_if_not_exists": true}),
            _ => Json::Null,
        };
        // A late reply's process is set by the caller: the one that gave up.
        let process = match event {
            EventType::Late => 0,
            _ => self.process(who.client),
        };
        if event == EventType::Info {
            // Jepsen: the process may still have this operation in flight,
            // so the client goes on as another.
            self.processes.remove(who.client);
        }
        self.events.push(HistoryEvent {
            index: self.events.len() as u64,
            time_ms,
            process,
            event,
            f: op.type_name(),
            key: key_json(op.key()),
            value,
            args,
            result,
            client: who.client.to_owned(),
            node: who.node.to_owned(),
            msg_id: who.msg_id,
        });
    }

    /// A client sent `op`.
    pub fn invoke(&mut self, time_ms: u64, who: &Addressed<'_>, op: &ClientOp) {
        let value = written(op);
        self.push(time_ms, who, EventType::Invoke, op, value, Json::Null);
    }

    /// `op` was answered with `result` (`body`: the reply as sent); `event`
    /// is how it ended, or [`EventType::Late`] for a reply after its client
    /// gave up.
    pub fn complete(
        &mut self,
        time_ms: u64,
        who: &Addressed<'_>,
        op: &ClientOp,
        result: &OpResult,
        event: EventType,
        body: Json,
    ) {
        let value = match result {
            OpResult::ReadOk { value } | OpResult::RywReadOk { value, .. } => value.clone(),
            _ => written(op),
        };
        if event == EventType::Late {
            // Not the client's current process: the one that gave up.
            let process = self
                .events
                .iter()
                .rev()
                .find(|e| e.client == who.client && e.msg_id == who.msg_id)
                .map(|e| e.process);
            self.push(time_ms, who, event, op, value, body);
            if let (Some(process), Some(last)) = (process, self.events.last_mut()) {
                last.process = process;
            }
            return;
        }
        self.push(time_ms, who, event, op, value, body);
    }

    /// The client gave up on `op`, or the run ended first (`why`).
    pub fn unknown(&mut self, time_ms: u64, who: &Addressed<'_>, op: &ClientOp, why: &str) {
        let reason = json!({ "reason": why });
        let value = written(op);
        self.push(time_ms, who, EventType::Info, op, value, reason);
    }

    /// The header line, then the events, as JSON lines.
    pub fn json_lines(&self, header: &HistoryHeader) -> String {
        let mut out = serde_json::to_string(&json!({ "header": header })).unwrap_or_default();
        out.push('\n');
        for event in &self.events {
            out.push_str(&serde_json::to_string(event).unwrap_or_default());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(value: u64) -> ClientOp {
        ClientOp::Write {
            key: Key::Int(1),
            value: Value::from(value),
        }
    }

    #[test]
    fn a_client_goes_on_as_a_fresh_process_after_info_and_a_late_reply_keeps_the_old_one() {
        let mut history = History::default();
        let c1 = |msg_id| addressed("c1", "n2", msg_id);
        let c2 = addressed("c2", "n1", 1);
        history.invoke(0, &c1(1), &write(1));
        history.invoke(1, &c2, &write(2));
        history.unknown(5, &c1(1), &write(1), "gave up");
        history.invoke(6, &c1(2), &write(3));
        let ok = OpResult::WriteOk { commit_index: 4 };
        history.complete(7, &c1(1), &write(1), &ok, EventType::Late, Json::Null);
        history.complete(8, &c1(2), &write(3), &ok, EventType::Ok, Json::Null);
        let processes: Vec<(EventType, u64)> = history
            .events
            .iter()
            .map(|e| (e.event, e.process))
            .collect();
        use EventType::*;
        assert_eq!(
            processes,
            [
                (Invoke, 0),
                (Invoke, 1),
                (Info, 0),
                (Invoke, 2),
                (Late, 0),
                (Ok, 2)
            ]
        );
        let header = HistoryHeader {
            source: "test",
            version: "0",
            scenario: "s".into(),
            seed: 7,
            bug: None,
            bin: None,
            time: "simulated",
        };
        let text = history.json_lines(&header);
        let first = text.lines().next().expect("header");
        assert_eq!(
            first,
            r#"{"header":{"scenario":"s","seed":7,"source":"test","time":"simulated","version":"0"}}"#
        );
        assert!(
            text.contains(r#""client":"c1","node":"n2","msg_id":1"#),
            "{text}"
        );
    }

    fn addressed<'a>(client: &'a str, node: &'a str, msg_id: u64) -> Addressed<'a> {
        Addressed {
            client,
            node,
            msg_id,
        }
    }
}
