//! The store as one harness of the engine: it boots the store's nodes,
//! drives the client sessions (Maelstrom style, one request outstanding
//! each), keeps the committed-log oracle, feeds every step and reply to the
//! checkers, and turns the run into a [`Summary`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use ryw_core::{
    Body, ClientOp, Config, ErrorCode, Event, Id, Millis, OpResult, Payload, PeerMsg, Served,
};
use sim_engine::disk::SimDisk;
use sim_engine::{Condition, Ctx, End, Harness};

use crate::abstract_state::AbstractStates;
use crate::checkers::oracle::CommittedLog;
use crate::checkers::{self, Checker, Finish, Property, Reply, Step, Verdict, Violation};
use crate::history::{EventType, History};
use crate::node::{NodeFactory, OnDisk, Wire};
use crate::report::Summary;
use crate::scenario::Scenario;
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

/// The harness's timed events.
pub enum ClientEvent {
    /// A session sends its next request.
    Next { session: usize },
    /// A session gives up on request `msg_id` if it is still waiting.
    Timeout { session: usize, msg_id: u64 },
}

pub struct Store<'a> {
    scenario: Scenario,
    configs: Vec<Config>,
    factory: &'a NodeFactory,
    sessions: Vec<Session>,
    workload_rng: ChaCha8Rng,
    next_value: u64,
    /// Orders invocations and completions (several can share a millisecond).
    history_clock: u64,
    oracle: CommittedLog,
    checkers: Vec<Box<dyn Checker>>,
    /// (operation kind, outcome) -> count; copied into the summary at the end.
    op_counts: BTreeMap<(&'static str, Outcome), u64>,
    latencies_ms: BTreeMap<&'static str, Vec<u64>>,
    summary: Summary,
    /// The client history, if the run keeps one.
    history: Option<History>,
    /// Where the history goes if the run panics, so that what happened up
    /// to the panic is not lost with the harness (see the `Drop` below).
    history_on_panic: Option<Arc<Mutex<Option<History>>>>,
    /// Per node, how often it has booted: each boot is a new incarnation.
    boots: Vec<u64>,
    /// Per node, the event counts its core showed at its last step (a
    /// restarted core counts from zero again).
    reached_seen: Vec<[u64; Event::COUNT]>,
    /// Boots that found synced data gone with no fault to explain it.
    broken_promises: Vec<Violation>,
    /// The abstract states the run reached (see [`AbstractStates`]).
    abstract_states: AbstractStates,
    /// Per node: whether it was recovering from lost state at its last step.
    recovering: Vec<bool>,
    /// When, and how, the run first went beyond the store's fault model:
    /// a node lost durable state while another was still recovering from
    /// its own loss (the store assumes one loss at a time).
    beyond_fault_model: Option<(u64, String)>,
}

/// A node's incarnation for its `boot`-th start, drawn from the run's seed
/// (never from the disk, which a wipe resets): SplitMix64 of the three.
fn incarnation(rng_seed: u64, node: usize, boot: u64) -> u32 {
    let mut z = rng_seed ^ ((node as u64) << 40) ^ boot.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as u32
}

impl<'a> Store<'a> {
    /// `scenario` as drawn for this seed; `summary` carries what the run
    /// already knows (name, seed, swarm draws).
    pub fn new(
        scenario: Scenario,
        configs: Vec<Config>,
        factory: &'a NodeFactory,
        sessions: Vec<Session>,
        workload_rng: ChaCha8Rng,
        summary: Summary,
    ) -> Store<'a> {
        let configs_len = configs.len();
        Store {
            checkers: checkers::standard(&scenario),
            scenario,
            configs,
            factory,
            sessions,
            workload_rng,
            next_value: 0,
            history_clock: 0,
            oracle: CommittedLog::default(),
            op_counts: BTreeMap::new(),
            latencies_ms: BTreeMap::new(),
            boots: vec![0; configs_len],
            reached_seen: vec![[0; Event::COUNT]; configs_len],
            broken_promises: Vec::new(),
            abstract_states: AbstractStates::new(configs_len),
            recovering: vec![false; configs_len],
            beyond_fault_model: None,
            summary: Summary {
                reached: vec![0; Event::COUNT],
                ..summary
            },
            history: None,
            history_on_panic: None,
        }
    }

    /// Keeps the run's client history (see [`History`]); if the run
    /// panics, the history up to the panic is left in `on_panic`.
    pub fn keeping_history(mut self, on_panic: Arc<Mutex<Option<History>>>) -> Store<'a> {
        self.history = Some(History::default());
        self.history_on_panic = Some(on_panic);
        self
    }

    fn think(&mut self, ctx: &mut Ctx<'_, Self>, session: usize) {
        let think_ms = self
            .workload_rng
            .random_range(0..=self.scenario.workload.think_ms_max);
        let at_ms = ctx.now_ms().saturating_add(think_ms);
        ctx.schedule(at_ms, ClientEvent::Next { session });
    }

    fn session_next(&mut self, ctx: &mut Ctx<'_, Self>, session: usize) {
        let now_ms = ctx.now_ms();
        // The workload stops at the scenario's end, unless liveness still needs it.
        if now_ms >= self.scenario.end_ms() {
            return;
        }
        let request = self.sessions[session].next_request(
            &self.scenario.workload,
            self.scenario.nodes,
            &mut self.next_value,
            &mut self.workload_rng,
            Millis(now_ms),
            self.history_clock,
        );
        self.history_clock += 1;
        if let Some(history) = &mut self.history {
            let client = self.sessions[session].client.to_string();
            history.invoke(now_ms, client, &request.op);
        }
        let envelope = ryw_core::Envelope {
            src: self.sessions[session].client.clone(),
            dest: Id::Node(request.node as u32 + 1),
            body: Body {
                msg_id: Some(request.msg_id),
                in_reply_to: None,
                payload: Payload::Request(request.op),
            },
        };
        ctx.send_to_node(request.node, Wire(envelope));
        let timeout_ms = now_ms.saturating_add(self.scenario.workload.client_timeout_ms);
        let msg_id = request.msg_id;
        ctx.schedule(timeout_ms, ClientEvent::Timeout { session, msg_id });
    }

    fn session_timeout(&mut self, ctx: &mut Ctx<'_, Self>, session: usize, msg_id: u64) {
        let s = &mut self.sessions[session];
        if s.outstanding.as_ref().is_some_and(|o| o.msg_id == msg_id) {
            let request = s.outstanding.take().expect("checked");
            if let Some(history) = &mut self.history {
                let why = "the client gave up (client_timeout_ms)";
                history.unknown(ctx.now_ms(), s.client.to_string(), &request.op, why);
            }
            self.count(&request.op, Outcome::Info);
            self.ended(ctx.now_ms(), session, &request, None, None);
            self.think(ctx, session);
        }
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

    /// A reply reached its session: check it, then let the session learn
    /// from it. `body` is the reply as sent, for the history.
    // Longer than 70 lines on purpose: one reply's whole path: history, every checker, the session's learning, in the order they must see it.
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
        let returned = self.history_clock;
        self.history_clock += 1;
        self.ended(now_ms, session, &request, Some(&result), Some(returned));
        let monotonic = self.scenario.workload.monotonic;
        let key = request.op.key();
        let s = &mut self.sessions[session];
        let outcome = match (&request.op, &result) {
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
            (ClientOp::Read { .. }, OpResult::ReadOk { .. })
            | (ClientOp::RywRead { .. }, OpResult::RywReadOk { .. }) => {
                let applied_index = match &result {
                    OpResult::RywReadOk {
                        applied_index, how, ..
                    } => {
                        match how {
                            Served::Locally { waited_ms: 0 } => self.summary.reads_local += 1,
                            Served::Locally { .. } => self.summary.reads_after_wait += 1,
                            Served::Redirected { .. } => self.summary.reads_redirected += 1,
                        }
                        Some(*applied_index)
                    }
                    _ => None,
                };
                let value = match &result {
                    OpResult::ReadOk { value } | OpResult::RywReadOk { value, .. } => value,
                    _ => unreachable!("matched above"),
                };
                let read_index = self.oracle.read_from(key, value).index();
                learn_read(s, key, value, read_index, applied_index, monotonic);
                Outcome::Ok
            }
            (ClientOp::Read { .. }, OpResult::Error { code, .. })
                if *code == ErrorCode::KEY_DOES_NOT_EXIST =>
            {
                learn_read(s, key, &ryw_core::Value::NULL, 0, None, monotonic);
                Outcome::Ok
            }
            (_, OpResult::Error { code, .. }) if code.is_definite() => Outcome::Fail,
            (_, OpResult::Error { .. }) => Outcome::Info,
            // A reply of the wrong kind: the protocol checker reports it.
            _ => {
                if let Some(history) = &mut self.history {
                    let client = s.client.to_string();
                    history.complete(now_ms, client, &request.op, &result, EventType::Info, body);
                }
                return;
            }
        };
        if let Some(history) = &mut self.history {
            let client = self.sessions[session].client.to_string();
            let event = match outcome {
                Outcome::Ok => EventType::Ok,
                Outcome::Fail => EventType::Fail,
                Outcome::Info => EventType::Info,
            };
            history.complete(now_ms, client, &request.op, &result, event, body);
        }
        self.count(&request.op, outcome);
    }
}

/// A reply's body as the node sent it, without its message ids.
impl Store<'_> {
    /// What every checker sees after node `node`'s step, and the events it
    /// reached.
    fn check_step(&mut self, now_ms: u64, node: usize, process: &OnDisk) {
        let core = process.core();
        self.recovering[node] = core.is_recovering();
        let counts = core.reached().counts();
        let seen = &mut self.reached_seen[node];
        for ((total, now), before) in self.summary.reached.iter_mut().zip(counts).zip(seen.iter()) {
            *total += now - before;
        }
        *seen = *counts;
        self.oracle.observe(core);
        let step = Step {
            now_ms,
            node,
            core,
            oracle: &self.oracle,
        };
        for checker in &mut self.checkers {
            checker.on_step(&step);
        }
    }
}

/// A run that panics (a node's assertion, the engine's guard) unwinds
/// through the harness: its history, with the requests still in flight
/// marked unknown, goes where the run can report it.
impl Drop for Store<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let (Some(slot), Some(mut history)) = (self.history_on_panic.take(), self.history.take())
        else {
            return;
        };
        let at_ms = history.events.last().map_or(0, |e| e.time_ms);
        for session in &self.sessions {
            if let Some(request) = &session.outstanding {
                history.unknown(
                    at_ms,
                    session.client.to_string(),
                    &request.op,
                    "the run ended in a panic",
                );
            }
        }
        *slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(history);
    }
}

fn reply_body(envelope: &ryw_core::Envelope) -> serde_json::Value {
    let text = ryw_core::codec::encode(envelope);
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let mut body = json["body"].take();
    if let Some(fields) = body.as_object_mut() {
        fields.remove("msg_id");
        fields.remove("in_reply_to");
    }
    body
}

/// What a session learns from a successful read.
fn learn_read(
    s: &mut Session,
    key: &ryw_core::Key,
    value: &ryw_core::Value,
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
fn op_kind(op: &ClientOp) -> &'static str {
    match op {
        ClientOp::RywRead {
            prefer_follower: false,
            ..
        } => "ryw_read(leader)",
        other => other.type_name(),
    }
}

impl Harness for Store<'_> {
    type Node = OnDisk;
    type Event = ClientEvent;
    type Outcome = Summary;

    fn boot(&mut self, node: usize, disk: Option<SimDisk>, now_ms: u64) -> Result<OnDisk, String> {
        let mut config = self.configs[node].clone();
        self.boots[node] += 1;
        config.incarnation = incarnation(config.rng_seed, node, self.boots[node]);
        let booted = OnDisk::boot(self.factory, config, disk, Millis(now_ms)).map_err(|why| {
            let why = why.to_string();
            self.summary
                .refused_starts
                .push(format!("n{}: {why}", node + 1));
            why
        })?;
        let first_boot_on_empty_disk =
            self.boots[node] == 1 && booted.lost_at_boot == Some(ryw_storage::Loss::Empty);
        if let (Some(loss), false) = (&booted.lost_at_boot, first_boot_on_empty_disk) {
            let what = format!("n{} at {now_ms} ms: {loss}", node + 1);
            self.summary.lost_at_boot.push(what);
            let others: Vec<String> = (0..self.recovering.len())
                .filter(|&k| k != node && self.recovering[k])
                .map(|k| format!("n{}", k + 1))
                .collect();
            if !others.is_empty() && self.beyond_fault_model.is_none() {
                let why = format!(
                    "n{} lost durable state at {now_ms} ms while {} had not yet recovered from an earlier loss, beyond the store's fault model of one loss at a time",
                    node + 1,
                    others.join(", ")
                );
                self.beyond_fault_model = Some((now_ms, why));
            }
        }
        if let Some(why) = &booted.broken_promise {
            let detail = format!("n{} restarted: {why}", node + 1);
            let violation = Violation::new(Property::Durability, now_ms, None, detail);
            self.broken_promises.push(violation);
        }
        Ok(booted)
    }

    fn start(&mut self, ctx: &mut Ctx<'_, Self>) {
        for session in 0..self.sessions.len() {
            self.think(ctx, session);
        }
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_, Self>, event: ClientEvent) {
        match event {
            ClientEvent::Next { session } => self.session_next(ctx, session),
            ClientEvent::Timeout { session, msg_id } => self.session_timeout(ctx, session, msg_id),
        }
    }

    fn on_client_message(&mut self, ctx: &mut Ctx<'_, Self>, message: Wire) {
        let body = match &self.history {
            Some(_) => reply_body(&message.0),
            None => serde_json::Value::Null,
        };
        let envelope = message.0;
        let Id::Client(k) = envelope.dest else { return };
        let Some(session) = (k as usize).checked_sub(1) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(session) else {
            return;
        };
        let matches = s.outstanding.as_ref().map(|o| o.msg_id) == envelope.body.in_reply_to;
        if !matches {
            return; // a reply after the session gave up
        }
        let request = s.outstanding.take().expect("checked");
        if let Payload::Reply(result) = envelope.body.payload {
            self.complete(ctx.now_ms(), session, request, result, body);
        }
        self.think(ctx, session);
    }

    fn on_send(&mut self, now_ms: u64, from: usize, message: &Wire) {
        if let Payload::Peer(PeerMsg::AppendEntries(append)) = &message.0.body.payload {
            self.summary.entries_sent += append.entries.len() as u64;
        }
        for checker in &mut self.checkers {
            checker.on_send(now_ms, from, &message.0);
        }
    }

    fn observe(&mut self, now_ms: u64, node: usize, process: &OnDisk, conditions: &[Condition]) {
        self.abstract_states
            .observe(node, process.core(), conditions);
        self.check_step(now_ms, node, process);
    }

    fn on_restart(&mut self, node: usize) {
        self.reached_seen[node] = [0; Event::COUNT];
        for checker in &mut self.checkers {
            checker.on_restart(node);
        }
    }

    fn finish(mut self, end: End<'_, OnDisk>) -> Summary {
        let end_ms = end.end_ms;
        // Make sure the oracle has everything any node committed.
        for (i, node) in end.nodes.iter().enumerate() {
            if let Some(node) = node {
                self.check_step(end_ms, i, node);
            }
        }
        // Requests still in flight at the end may yet take effect.
        for session in 0..self.sessions.len() {
            if let Some(request) = self.sessions[session].outstanding.take() {
                if let Some(history) = &mut self.history {
                    let client = self.sessions[session].client.to_string();
                    history.unknown(
                        end_ms,
                        client,
                        &request.op,
                        "still in flight when the run ended",
                    );
                }
                self.ended(end_ms, session, &request, None, None);
            }
        }
        let mut summary = std::mem::take(&mut self.summary);
        summary.abstract_states = self.abstract_states.hashes();
        summary.delivered = end.stats.delivered;
        summary.dropped = end.stats.dropped;
        summary.duplicated = end.stats.duplicated;
        summary.peer_msgs = end.stats.peer_msgs;
        summary.leader_msgs = end.stats.leader_msgs;
        summary.leader_msgs_by_kind = end
            .stats
            .leader_msgs_by_kind
            .iter()
            .map(|&(kind, n)| (kind.to_owned(), n))
            .collect();
        summary.ops = self
            .op_counts
            .iter()
            .map(|(&(kind, outcome), &n)| (format!("{kind} {}", outcome.name()), n))
            .collect();
        let finish = Finish {
            end_ms,
            summary: &summary,
            oracle: &self.oracle,
        };
        let mut verdict = Verdict::default();
        verdict.violations.append(&mut self.broken_promises);
        for checker in &mut self.checkers {
            checker.finish(&finish, &mut verdict);
        }
        verdict.violations.sort_by_key(|v| v.at_ms);
        if let Some((from_ms, why)) = &self.beyond_fault_model {
            // What broke after the run left the fault model is reported,
            // but not as a failure of the store.
            let (kept, beyond): (Vec<_>, Vec<_>) = verdict
                .violations
                .into_iter()
                .partition(|v| v.at_ms < *from_ms);
            verdict.violations = kept;
            if !beyond.is_empty() {
                let shown: Vec<String> = beyond.iter().map(ToString::to_string).collect();
                verdict
                    .not_judged
                    .push(format!("{why}; after it: {}", shown.join("; ")));
            }
        }
        summary.violations = verdict.violations;
        summary.linearizability_undecided_keys = verdict.undecided_keys;
        summary.not_judged = verdict.not_judged;
        summary.history = self.history.take();
        summary.latencies_ms = std::mem::take(&mut self.latencies_ms)
            .into_iter()
            .map(|(kind, v)| (kind.to_owned(), v))
            .collect();
        summary
    }
}
