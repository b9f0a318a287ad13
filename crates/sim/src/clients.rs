//! The client side of a run, shared by the simulator's harness and the
//! black-box runner (`ryw-sim maelstrom`): sessions draw their requests,
//! every reply is shown to the checkers and then learnt from, outcomes and
//! latencies are counted, and the history is kept. The two differ only in
//! who carries the messages and where the committed-log oracle learns from
//! (the nodes' logs in simulation; the clients' acknowledgements against a
//! binary whose insides nobody can see).

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use ryw_core::{
    Body, ClientOp, Envelope, ErrorCode, Id, Key, Millis, OpResult, Payload, Served, Value,
};

use crate::checkers::oracle::CommittedLog;
use crate::checkers::{Checker, Reply};
use crate::history::{Addressed, EventType, History};
use crate::scenario::Workload;
use crate::workload::{Acked, Outstanding, Session};

/// How a client request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// It took effect (or read what it read).
    Ok,
    /// It certainly took no effect.
    Fail,
    /// Unknown: it may or may not have taken effect (a timeout, error 0).
    Info,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        }
    }
}

/// Where `ryw_read`s were served, as their replies say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadsServed {
    /// By the node asked, at once.
    pub local: u64,
    /// By the node asked, after waiting for its apply to catch up.
    pub after_wait: u64,
    /// By the leader, after the node asked forwarded them.
    pub redirected: u64,
}

/// Requests a session gave up on, remembered so that a late reply can be
/// recorded against the right operation; the oldest are forgotten.
const GIVEN_UP_KEPT_MAX: usize = 16;

pub struct Clients {
    workload: Workload,
    nodes: usize,
    /// The time after which sessions send nothing new.
    end_ms: u64,
    pub sessions: Vec<Session>,
    rng: ChaCha8Rng,
    next_value: u64,
    /// Orders invocations and completions (several can share a millisecond).
    history_clock: u64,
    pub oracle: CommittedLog,
    /// Whether the oracle learns from acknowledgements (a black box) rather
    /// than from the nodes' logs.
    oracle_from_acks: bool,
    pub checkers: Vec<Box<dyn Checker>>,
    /// (operation kind, outcome) -> count.
    pub op_counts: BTreeMap<(&'static str, Outcome), u64>,
    pub latencies_ms: BTreeMap<&'static str, Vec<u64>>,
    pub reads_served: ReadsServed,
    /// The client history, if the run keeps one.
    pub history: Option<History>,
    /// Per session, the requests it gave up on, newest last.
    given_up: Vec<Vec<Outstanding>>,
}

impl Clients {
    /// Sessions that stop sending at `end_ms`, checked by `checkers`.
    pub fn new(
        workload: Workload,
        nodes: usize,
        end_ms: u64,
        sessions: Vec<Session>,
        rng: ChaCha8Rng,
        checkers: Vec<Box<dyn Checker>>,
    ) -> Clients {
        let count = sessions.len();
        Clients {
            workload,
            nodes,
            end_ms,
            sessions,
            rng,
            next_value: 0,
            history_clock: 0,
            oracle: CommittedLog::default(),
            oracle_from_acks: false,
            checkers,
            op_counts: BTreeMap::new(),
            latencies_ms: BTreeMap::new(),
            reads_served: ReadsServed::default(),
            history: None,
            given_up: vec![Vec::new(); count],
        }
    }

    /// The oracle learns what was written from the clients alone: every
    /// value written, and the index each acknowledgement names.
    pub fn judging_a_black_box(mut self) -> Clients {
        self.oracle_from_acks = true;
        self
    }

    /// How long a session thinks before its next request.
    pub fn think_ms(&mut self) -> u64 {
        self.rng.random_range(0..=self.workload.think_ms_max)
    }

    /// How long a session waits for a reply before it gives up.
    pub fn timeout_ms(&self) -> u64 {
        self.workload.client_timeout_ms
    }

    /// Session `session`'s next request, as the envelope to send to its
    /// node, or `None` once the workload has ended.
    pub fn next(&mut self, now_ms: u64, session: usize) -> Option<(usize, Envelope)> {
        if now_ms >= self.end_ms {
            return None;
        }
        let request = self.sessions[session].next_request(
            &self.workload,
            self.nodes,
            &mut self.next_value,
            &mut self.rng,
            Millis(now_ms),
            self.history_clock,
        );
        self.history_clock += 1;
        let client = self.sessions[session].client.clone();
        if self.oracle_from_acks {
            if let ClientOp::Write { value: to, .. } | ClientOp::Cas { to, .. } = &request.op {
                self.oracle.learn_written(to);
            }
        }
        if let Some(history) = &mut self.history {
            let (client, node) = (client.to_string(), node_name(request.node));
            let who = addressed(&client, &node, request.msg_id);
            history.invoke(now_ms, &who, &request.op);
        }
        let envelope = Envelope {
            src: client,
            dest: Id::Node(request.node as u32 + 1),
            body: Body {
                msg_id: Some(request.msg_id),
                in_reply_to: None,
                payload: Payload::Request(request.op),
            },
        };
        Some((request.node, envelope))
    }

    /// Session `session` gives up on request `msg_id` if it still waits
    /// for it; `true` if it did (it then thinks before its next request).
    pub fn give_up(&mut self, now_ms: u64, session: usize, msg_id: u64) -> bool {
        let s = &mut self.sessions[session];
        if s.outstanding.as_ref().is_none_or(|o| o.msg_id != msg_id) {
            return false;
        }
        let request = s.outstanding.take().expect("checked");
        if let Some(history) = &mut self.history {
            let (client, node) = (s.client.to_string(), node_name(request.node));
            let who = addressed(&client, &node, request.msg_id);
            let why = "the client gave up (client_timeout_ms)";
            history.unknown(now_ms, &who, &request.op, why);
        }
        self.count(&request.op, Outcome::Info);
        self.ended(now_ms, session, &request, None, None);
        let given_up = &mut self.given_up[session];
        if given_up.len() == GIVEN_UP_KEPT_MAX {
            given_up.remove(0);
        }
        given_up.push(request);
        true
    }

    /// Ends every request still in flight (the run is over; `why` says how).
    pub fn end_in_flight(&mut self, end_ms: u64, why: &str) {
        for session in 0..self.sessions.len() {
            if let Some(request) = self.sessions[session].outstanding.take() {
                if let Some(history) = &mut self.history {
                    let client = self.sessions[session].client.to_string();
                    let node = node_name(request.node);
                    let who = addressed(&client, &node, request.msg_id);
                    history.unknown(end_ms, &who, &request.op, why);
                }
                self.ended(end_ms, session, &request, None, None);
            }
        }
    }

    /// The history with every request still in flight marked unknown
    /// (`why`), without ending them for the checkers: for a run that
    /// panicked.
    pub fn history_so_far(&mut self, why: &str) -> Option<History> {
        let mut history = self.history.take()?;
        let at_ms = history.events.last().map_or(0, |e| e.time_ms);
        for session in &self.sessions {
            if let Some(request) = &session.outstanding {
                let (client, node) = (session.client.to_string(), node_name(request.node));
                let who = addressed(&client, &node, request.msg_id);
                history.unknown(at_ms, &who, &request.op, why);
            }
        }
        Some(history)
    }

    /// Every (kind, outcome) count, as summaries name them.
    pub fn ops(&self) -> BTreeMap<String, u64> {
        self.op_counts
            .iter()
            .map(|(&(kind, outcome), &n)| (format!("{kind} {}", outcome.name()), n))
            .collect()
    }

    /// Tallies an outcome; static keys keep the per-operation path allocation-free.
    fn count(&mut self, op: &ClientOp, outcome: Outcome) {
        *self.op_counts.entry((op_kind(op), outcome)).or_insert(0) += 1;
    }

    /// Shows a request's end to every checker.
    fn ended(
        &mut self,
        now_ms: u64,
        session: usize,
        request: &Outstanding,
        result: Option<&OpResult>,
        returned: Option<u64>,
    ) {
        let reply = Reply {
            now_ms,
            session: &self.sessions[session],
            request,
            result,
            returned,
            oracle: &self.oracle,
        };
        for checker in &mut self.checkers {
            checker.on_reply(&reply);
        }
    }
}

/// Replies: what reaches a session, what the checkers see of it, and what
/// the session learns from it.
impl Clients {
    /// A reply reached client `to`: `true` if it ended the request its
    /// session waited for (the session then thinks before its next one).
    /// `body` is the reply as sent, for the history (`Null` without one).
    pub fn on_reply(
        &mut self,
        now_ms: u64,
        to: &Id,
        in_reply_to: Option<u64>,
        result: OpResult,
        body: serde_json::Value,
    ) -> bool {
        let Some(session) = self.session_of(to) else {
            return false;
        };
        let s = &mut self.sessions[session];
        if s.outstanding.as_ref().map(|o| o.msg_id) != in_reply_to {
            self.late(now_ms, session, in_reply_to, &result, body);
            return false;
        }
        let request = s.outstanding.take().expect("checked");
        self.complete(now_ms, session, request, result, body);
        true
    }

    /// The session that client id `to` names, if any.
    pub fn session_of(&self, to: &Id) -> Option<usize> {
        let Id::Client(k) = to else { return None };
        let session = (*k as usize).checked_sub(1)?;
        (session < self.sessions.len()).then_some(session)
    }

    /// A reply to a request the session gave up on: only the history
    /// records it (as `late`).
    fn late(
        &mut self,
        now_ms: u64,
        session: usize,
        in_reply_to: Option<u64>,
        result: &OpResult,
        body: serde_json::Value,
    ) {
        let Some(history) = &mut self.history else {
            return;
        };
        let given_up = &self.given_up[session];
        let Some(request) = given_up.iter().find(|r| Some(r.msg_id) == in_reply_to) else {
            return;
        };
        let (client, node) = (
            self.sessions[session].client.to_string(),
            node_name(request.node),
        );
        let who = addressed(&client, &node, request.msg_id);
        history.complete(now_ms, &who, &request.op, result, EventType::Late, body);
    }

    /// A reply reached its session: check it, then let the session learn
    /// from it. `body` is the reply as sent, for the history.
    fn complete(
        &mut self,
        now_ms: u64,
        session: usize,
        request: Outstanding,
        result: OpResult,
        body: serde_json::Value,
    ) {
        if !matches!(result, OpResult::Error { .. }) {
            let latency_ms = now_ms.saturating_sub(request.sent_at.as_ms());
            self.latencies_ms
                .entry(op_kind(&request.op))
                .or_default()
                .push(latency_ms);
        }
        if self.oracle_from_acks {
            if let (
                ClientOp::Write { key, value } | ClientOp::Cas { key, to: value, .. },
                OpResult::WriteOk { commit_index } | OpResult::CasOk { commit_index },
            ) = (&request.op, &result)
            {
                self.oracle.learn_acknowledged(*commit_index, key, value);
            }
        }
        let returned = self.history_clock;
        self.history_clock += 1;
        self.ended(now_ms, session, &request, Some(&result), Some(returned));
        let outcome = self.learn(now_ms, session, &request, &result);
        if let Some(history) = &mut self.history {
            let client = self.sessions[session].client.to_string();
            let node = node_name(request.node);
            let who = addressed(&client, &node, request.msg_id);
            let event = match outcome {
                Some(Outcome::Ok) => EventType::Ok,
                Some(Outcome::Fail) => EventType::Fail,
                // A reply of the wrong kind (the protocol checker reports it) is unknown too.
                Some(Outcome::Info) | None => EventType::Info,
            };
            history.complete(now_ms, &who, &request.op, &result, event, body);
        }
        if let Some(outcome) = outcome {
            self.count(&request.op, outcome);
        }
    }

    /// What the session learns from a reply, and how its request ended
    /// (`None`: a reply of the wrong kind).
    fn learn(
        &mut self,
        now_ms: u64,
        session: usize,
        request: &Outstanding,
        result: &OpResult,
    ) -> Option<Outcome> {
        let monotonic = self.workload.monotonic;
        let key = request.op.key();
        let s = &mut self.sessions[session];
        let outcome = match (&request.op, result) {
            (ClientOp::Write { value, .. }, OpResult::WriteOk { commit_index })
            | (ClientOp::Cas { to: value, .. }, OpResult::CasOk { commit_index }) => {
                s.token = s.token.max(*commit_index);
                if s.acked.get(key).is_none_or(|a| a.index < *commit_index) {
                    let acked = Acked {
                        index: *commit_index,
                        value: value.clone(),
                        at_ms: now_ms,
                    };
                    s.acked.insert(key.clone(), acked);
                }
                s.learn_value(key, value);
                Outcome::Ok
            }
            (ClientOp::Read { .. }, OpResult::ReadOk { value }) => {
                let read_index = self.oracle.read_from(key, value).index();
                learn_read(s, key, value, read_index, None, monotonic);
                Outcome::Ok
            }
            (
                ClientOp::RywRead { .. },
                OpResult::RywReadOk {
                    value,
                    applied_index,
                    how,
                    ..
                },
            ) => {
                let served = &mut self.reads_served;
                match how {
                    Served::Locally { waited_ms: 0 } => served.local += 1,
                    Served::Locally { .. } => served.after_wait += 1,
                    Served::Redirected { .. } => served.redirected += 1,
                }
                let read_index = self.oracle.read_from(key, value).index();
                learn_read(s, key, value, read_index, Some(*applied_index), monotonic);
                Outcome::Ok
            }
            (ClientOp::Read { .. }, OpResult::Error { code, .. })
                if *code == ErrorCode::KEY_DOES_NOT_EXIST =>
            {
                learn_read(s, key, &Value::NULL, 0, None, monotonic);
                Outcome::Ok
            }
            (_, OpResult::Error { code, .. }) if code.is_definite() => Outcome::Fail,
            (_, OpResult::Error { .. }) => Outcome::Info,
            _ => return None,
        };
        Some(outcome)
    }
}

/// `n1` for node 0.
fn node_name(node: usize) -> String {
    format!("n{}", node + 1)
}

fn addressed<'a>(client: &'a str, node: &'a str, msg_id: u64) -> Addressed<'a> {
    Addressed {
        client,
        node,
        msg_id,
    }
}

/// What a session learns from a successful read.
fn learn_read(
    s: &mut Session,
    key: &Key,
    value: &Value,
    read_index: u64,
    applied_index: Option<u64>,
    monotonic: bool,
) {
    let seen = s.seen.entry(key.clone()).or_insert(0);
    *seen = (*seen).max(read_index);
    s.learn_value(key, value);
    if monotonic {
        s.token = s.token.max(applied_index.unwrap_or(read_index));
    }
}

/// How summaries name an operation kind.
pub fn op_kind(op: &ClientOp) -> &'static str {
    match op {
        ClientOp::RywRead {
            prefer_follower: false,
            ..
        } => "ryw_read(leader)",
        other => other.type_name(),
    }
}
