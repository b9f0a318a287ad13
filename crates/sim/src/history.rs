//! A run's client history, for checkers outside this project (Porcupine,
//! Jepsen's Knossos and Elle): one JSON line per event, Jepsen style. An
//! operation has an `invoke` event when its client sends it and one
//! completion: `ok` (it happened, with its result), `fail` (it certainly did
//! not happen) or `info` (unknown: a timeout, error 0, or still in flight
//! at the end of the run). `index` orders every event of the run, so
//! events that share a millisecond keep the order they happened in.

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
}

#[derive(Clone, Debug, Serialize)]
pub struct HistoryEvent {
    /// Position in the run's one order of client events, from 0.
    pub index: u64,
    /// Simulated time of the event.
    pub time_ms: u64,
    /// The client session: `c1`, `c2`, ...
    pub process: String,
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
}

impl History {
    fn push(
        &mut self,
        time_ms: u64,
        process: String,
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
        });
    }

    /// A client sent `op`.
    pub fn invoke(&mut self, time_ms: u64, process: String, op: &ClientOp) {
        self.push(
            time_ms,
            process,
            EventType::Invoke,
            op,
            written(op),
            Json::Null,
        );
    }

    /// `op` was answered with `result` (`body`: the reply as sent); `event`
    /// is how it ended.
    pub fn complete(
        &mut self,
        time_ms: u64,
        process: String,
        op: &ClientOp,
        result: &OpResult,
        event: EventType,
        body: Json,
    ) {
        let value = match result {
            OpResult::ReadOk { value } | OpResult::RywReadOk { value, .. } => value.clone(),
            _ => written(op),
        };
        self.push(time_ms, process, event, op, value, body);
    }

    /// The client gave up on `op`, or the run ended first (`why`).
    pub fn unknown(&mut self, time_ms: u64, process: String, op: &ClientOp, why: &str) {
        let reason = json!({ "reason": why });
        self.push(time_ms, process, EventType::Info, op, written(op), reason);
    }

    /// The events as JSON lines.
    pub fn json_lines(&self) -> String {
        let mut out = String::new();
        for event in &self.events {
            out.push_str(&serde_json::to_string(event).unwrap_or_default());
            out.push('\n');
        }
        out
    }
}
