//! The store as one harness of the engine: it boots the store's nodes,
//! drives the client sessions (Maelstrom style, one request outstanding
//! each), keeps the committed-log oracle, feeds every step and reply to the
//! checkers, and turns the run into a [`Summary`].

use std::sync::{Arc, Mutex};

use rand_chacha::ChaCha8Rng;
use ryw_core::{Config, Event, Millis, Payload, PeerMsg, Reached};
use sim_engine::disk::SimDisk;
use sim_engine::{Condition, Ctx, End, Harness};

use crate::abstract_state::AbstractStates;
use crate::checkers::{self, Finish, Property, Step, Verdict, Violation};
use crate::clients::Clients;
use crate::history::History;
use crate::node::{NodeFactory, OnDisk, Wire};
use crate::report::Summary;
use crate::scenario::Scenario;
use crate::workload::Session;

/// The harness's timed events.
pub enum ClientEvent {
    /// A session sends its next request.
    Next { session: usize },
    /// A session gives up on request `msg_id` if it is still waiting.
    Timeout { session: usize, msg_id: u64 },
}

pub struct Store<'a> {
    configs: Vec<Config>,
    factory: &'a NodeFactory,
    /// The sessions, their checkers, the oracle and the history.
    clients: Clients,
    summary: Summary,
    /// Where the history goes if the run panics, so that what happened up
    /// to the panic is not lost with the harness (see the `Drop` below).
    history_on_panic: Option<Arc<Mutex<Option<History>>>>,
    /// Per node, how often it has booted: each boot is a new incarnation.
    boots: Vec<u64>,
    /// Per node, the event counts its core showed at its last step (a
    /// restarted core counts from zero again).
    reached_seen: Vec<Reached>,
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
        let clients = Clients::new(
            scenario.workload.clone(),
            scenario.nodes,
            scenario.end_ms(),
            sessions,
            workload_rng,
            checkers::standard(&scenario),
        );
        Store {
            clients,
            configs,
            factory,
            boots: vec![0; configs_len],
            reached_seen: vec![Reached::default(); configs_len],
            broken_promises: Vec::new(),
            abstract_states: AbstractStates::new(configs_len),
            recovering: vec![false; configs_len],
            beyond_fault_model: None,
            summary: Summary {
                reached: vec![0; Event::COUNT],
                ..summary
            },
            history_on_panic: None,
        }
    }

    /// Keeps the run's client history (see [`History`]); if the run
    /// panics, the history up to the panic is left in `on_panic`.
    pub fn keeping_history(mut self, on_panic: Arc<Mutex<Option<History>>>) -> Store<'a> {
        self.clients.history = Some(History::default());
        self.history_on_panic = Some(on_panic);
        self
    }

    fn think(&mut self, ctx: &mut Ctx<'_, Self>, session: usize) {
        let at_ms = ctx.now_ms().saturating_add(self.clients.think_ms());
        ctx.schedule(at_ms, ClientEvent::Next { session });
    }

    fn session_next(&mut self, ctx: &mut Ctx<'_, Self>, session: usize) {
        let now_ms = ctx.now_ms();
        // The workload stops at the scenario's end, unless liveness still needs it.
        let Some((node, envelope)) = self.clients.next(now_ms, session) else {
            return;
        };
        let msg_id = envelope.body.msg_id.unwrap_or_default();
        ctx.send_to_node(node, Wire(envelope));
        let timeout_ms = now_ms.saturating_add(self.clients.timeout_ms());
        ctx.schedule(timeout_ms, ClientEvent::Timeout { session, msg_id });
    }

    fn session_timeout(&mut self, ctx: &mut Ctx<'_, Self>, session: usize, msg_id: u64) {
        if self.clients.give_up(ctx.now_ms(), session, msg_id) {
            self.think(ctx, session);
        }
    }
}

impl Store<'_> {
    /// What every checker sees after node `node`'s step, and the events it
    /// reached.
    fn check_step(&mut self, now_ms: u64, node: usize, process: &OnDisk) {
        let core = process.core();
        self.recovering[node] = core.is_recovering();
        let reached = core.reached();
        let seen = &mut self.reached_seen[node];
        // Most steps reach no event: the total says so without the counts.
        if reached.total() != seen.total() {
            let counts = reached.counts().iter().zip(seen.counts());
            for (total, (now, before)) in self.summary.reached.iter_mut().zip(counts) {
                *total += now - before;
            }
            seen.clone_from(reached);
        }
        self.clients.oracle.observe(core);
        let step = Step {
            now_ms,
            node,
            core,
            oracle: &self.clients.oracle,
        };
        for checker in &mut self.clients.checkers {
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
        let Some(slot) = self.history_on_panic.take() else {
            return;
        };
        if let Some(history) = self.clients.history_so_far("the run ended in a panic") {
            *slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(history);
        }
    }
}

/// A reply's body as the node sent it, without its message ids.
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
        for session in 0..self.clients.sessions.len() {
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
        let body = match &self.clients.history {
            Some(_) => reply_body(&message.0),
            None => serde_json::Value::Null,
        };
        let envelope = message.0;
        let Payload::Reply(result) = envelope.body.payload else {
            return;
        };
        let now_ms = ctx.now_ms();
        let in_reply_to = envelope.body.in_reply_to;
        if self
            .clients
            .on_reply(now_ms, &envelope.dest, in_reply_to, result, body)
        {
            let session = self.clients.session_of(&envelope.dest).expect("answered");
            self.think(ctx, session);
        }
    }

    fn on_send(&mut self, now_ms: u64, from: usize, message: &Wire) {
        if let Payload::Peer(PeerMsg::AppendEntries(append)) = &message.0.body.payload {
            self.summary.entries_sent += append.entries.len() as u64;
        }
        for checker in &mut self.clients.checkers {
            checker.on_send(now_ms, from, &message.0);
        }
    }

    fn observe(&mut self, now_ms: u64, node: usize, process: &OnDisk, conditions: &[Condition]) {
        self.abstract_states
            .observe(node, process.core(), conditions);
        self.check_step(now_ms, node, process);
    }

    fn on_restart(&mut self, node: usize) {
        self.reached_seen[node] = Reached::default();
        for checker in &mut self.clients.checkers {
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
        self.clients
            .end_in_flight(end_ms, "still in flight when the run ended");
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
        summary.ops = self.clients.ops();
        let served = self.clients.reads_served;
        summary.reads_local = served.local;
        summary.reads_after_wait = served.after_wait;
        summary.reads_redirected = served.redirected;
        let finish = Finish {
            end_ms,
            summary: &summary,
            oracle: &self.clients.oracle,
        };
        let mut verdict = Verdict::default();
        verdict.violations.append(&mut self.broken_promises);
        for checker in &mut self.clients.checkers {
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
        summary.linearizability_searched_keys = verdict.searched_keys;
        summary.not_judged = verdict.not_judged;
        summary.history = self.clients.history.take();
        summary.latencies_ms = std::mem::take(&mut self.clients.latencies_ms)
            .into_iter()
            .map(|(kind, v)| (kind.to_owned(), v))
            .collect();
        summary
    }
}

#[cfg(test)]
mod tests {
    use crate::node::real_node;
    use crate::{run, RunOptions, Scenario};
    use ryw_core::Event;

    #[test]
    fn a_run_counts_each_event_as_often_as_the_nodes_reached_it() {
        // No fault: three new nodes each start recovery and finish it once,
        // one wins the only election, and the counts are read after every
        // step (most of which reach nothing new).
        let scenario = Scenario::parse(
            r#"{"name": "calm", "nodes": 3, "duration_ms": 1500, "workload": {"sessions": 4}}"#,
        )
        .expect("valid");
        let summary = run(&scenario, RunOptions::new(1, &real_node));
        assert!(summary.violations.is_empty(), "{:?}", summary.violations);
        let count = |event: Event| summary.reached[event as usize];
        assert_eq!(count(Event::RecoveryStarted), 3);
        assert_eq!(count(Event::RecoveryFinished), 3);
        assert_eq!(count(Event::LeaderElected), 1);
        // Events went on happening after those: the counts were read again.
        assert!(count(Event::FollowerReadServedAtOnce) > 10);
    }
}
