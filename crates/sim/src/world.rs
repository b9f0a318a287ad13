//! The simulated world: one virtual clock, one master seed, an event queue
//! ordered by (time, sequence number), N nodes, the network, the sessions
//! and the checkers. Everything runs on one thread; nothing reads a real
//! clock except the wall-time figure of the summary.

use std::collections::{BTreeMap, BinaryHeap};
use std::io::Write;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ryw_core::*;

use crate::checkers::linearizability::{self, HistoryOp, LinOp};
use crate::checkers::liveness::Liveness;
use crate::checkers::raft::LogSafety;
use crate::checkers::{efficiency, ryw, Violation};
use crate::diagram::{self, Arrow, Mark, Recording, Span};
use crate::network::{Fate, Network};
use crate::report::Summary;
use crate::scenario::{FaultKind, Scenario, Trigger};
use crate::workload::Session;

/// The simulator's view of a node: the real core, or a wrapper around it
/// (planted bugs, adversaries) that keeps the same face.
pub trait SimNode {
    fn handle_message(&mut self, now: Millis, envelope: Envelope);
    fn handle_timeout(&mut self, now: Millis);
    fn poll_transmit(&mut self) -> Option<Envelope>;
    fn poll_timeout(&self) -> Option<Millis>;
    /// Read-only view for checkers.
    fn core(&self) -> &Node;
}

impl SimNode for Node {
    fn handle_message(&mut self, now: Millis, envelope: Envelope) {
        Node::handle_message(self, now, envelope)
    }
    fn handle_timeout(&mut self, now: Millis) {
        Node::handle_timeout(self, now)
    }
    fn poll_transmit(&mut self) -> Option<Envelope> {
        Node::poll_transmit(self)
    }
    fn poll_timeout(&self) -> Option<Millis> {
        Node::poll_timeout(self)
    }
    fn core(&self) -> &Node {
        self
    }
}

/// Builds a node from its config and, after a crash, its durable state.
pub type NodeFactory = dyn Fn(Config, Option<Durable>, Millis) -> Box<dyn SimNode> + Send + Sync;

pub fn real_node(config: Config, durable: Option<Durable>, now: Millis) -> Box<dyn SimNode> {
    match durable {
        None => Box::new(Node::new(config, now)),
        Some(durable) => Box::new(Node::restart(config, durable, now)),
    }
}

pub struct RunOptions<'a> {
    pub seed: u64,
    pub trace: Option<Box<dyn Write + Send>>,
    /// Hash the trace even when it is not written (determinism checks).
    pub hash_trace: bool,
    pub factory: &'a NodeFactory,
    /// Record every message, fault and leader change for a diagram.
    pub record: bool,
}

impl<'a> RunOptions<'a> {
    /// A plain run: no trace, no recording.
    pub fn new(seed: u64, factory: &'a NodeFactory) -> RunOptions<'a> {
        RunOptions {
            seed,
            trace: None,
            hash_trace: false,
            factory,
            record: false,
        }
    }
}

/// Arrow id of a message that is not being recorded.
const NO_ARROW: u32 = u32::MAX;

enum EventKind {
    ToNode {
        node: usize,
        envelope: Envelope,
        incarnation: u32,
        arrow: u32,
    },
    ToClient {
        envelope: Envelope,
    },
    Timer {
        node: usize,
        generation: u64,
    },
    SessionNext {
        session: usize,
    },
    SessionTimeout {
        session: usize,
        msg_id: u64,
    },
    FaultStart(usize),
    /// A triggered fault's delayed start, aimed at the leader that fired it.
    FaultTriggered {
        index: usize,
        leader: usize,
    },
    FaultEnd(usize),
}

struct Event {
    at: Millis,
    seq: u64,
    kind: EventKind,
}

impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Event) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    /// Reversed: the heap pops the earliest time, then the earliest scheduled.
    fn cmp(&self, other: &Event) -> std::cmp::Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

struct Slot {
    node: Option<Box<dyn SimNode>>,
    config: Config,
    /// Durable state kept across a crash.
    crashed: Option<Durable>,
    /// Bumped by every crash: messages sent to an earlier life are lost.
    incarnation: u32,
    paused: bool,
    backlog: Vec<(Envelope, u32)>,
    timer_generation: u64,
    timer_at: Option<Millis>,
}

/// A fault's shading while it lasts.
struct OpenSpan {
    lanes: Vec<usize>,
    from_ms: u64,
    kind: String,
    title: String,
}

/// What a started fault did, so its end can undo exactly that.
enum Applied {
    Cuts(Vec<(usize, usize)>),
    Lag(usize, u64),
    Pause(usize),
    Crash(usize),
}

struct World<'a> {
    scenario: Scenario,
    seed: u64,
    now: Millis,
    end: Millis,
    queue: BinaryHeap<Event>,
    seq: u64,
    slots: Vec<Slot>,
    network: Network,
    sessions: Vec<Session>,
    workload_rng: ChaCha8Rng,
    next_value: u64,
    applied_faults: Vec<Option<Applied>>,
    log: LogSafety,
    read_violations: Vec<Violation>,
    liveness: Liveness,
    acknowledged: Vec<(String, u64, u64, Key, Value)>,
    /// lin-kv operations for the linearizability checker.
    history: Vec<HistoryOp>,
    /// Orders invocations and completions (several can share a millisecond).
    history_clock: u64,
    /// (operation kind, outcome) -> count; copied into the summary at the end.
    op_counts: BTreeMap<(&'static str, &'static str), u64>,
    latencies_ms: BTreeMap<&'static str, Vec<u64>>,
    trace: crate::trace::Trace,
    summary: Summary,
    factory: &'a NodeFactory,
    recording: Option<Recording>,
    /// Per node: the term of its last leadership mark.
    leader_terms: Vec<u64>,
    /// Faults armed and waiting for their trigger, by index.
    armed_faults: Vec<usize>,
    /// The newest term any node has led (to notice a new leader).
    led_term_max: u64,
    /// The node `"leader"` names while a triggered fault starts.
    leader_override: Option<usize>,
    /// Per fault: the shading it has open.
    open_spans: Vec<Option<OpenSpan>>,
}

thread_local! {
    /// Simulated time of the run going on on this thread, if any: a panic
    /// inside a run is reported with it instead of being printed.
    static RUN_NOW_MS: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
    /// Where the last panic inside a run was raised.
    static PANIC_LOCATION: std::cell::RefCell<Option<String>> =
        const { std::cell::RefCell::new(None) };
}

/// Panics inside a run become violations, so the default hook's message and
/// backtrace would only be noise; panics anywhere else print as usual.
fn quiet_panics_inside_runs() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if RUN_NOW_MS.with(|now| now.get()).is_some() {
                let location = info.location().map(|l| l.to_string());
                PANIC_LOCATION.with(|l| *l.borrow_mut() = location);
            } else {
                default(info);
            }
        }));
    });
}

/// Runs one scenario with one seed. A panic inside the run (a node's own
/// invariant assertion, or the simulator's) becomes a violation named
/// "panic", at the simulated time it happened, rather than taking the
/// caller down: it is a finding like any other.
pub fn run(scenario: &Scenario, options: RunOptions<'_>) -> Summary {
    let seed = options.seed;
    let name = scenario.name.clone();
    // Wall time feeds only the summary's wall_ms, never the simulation.
    let wall_start = Instant::now();
    quiet_panics_inside_runs();
    RUN_NOW_MS.with(|now| now.set(Some(0)));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_unguarded(scenario, options)
    }));
    let panic_at_ms = RUN_NOW_MS.with(|now| now.replace(None)).unwrap_or(0);
    match outcome {
        Ok(summary) => summary,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic without a message".to_owned());
            let text = match PANIC_LOCATION.with(|l| l.borrow_mut().take()) {
                Some(location) => format!("{message} (at {location})"),
                None => message,
            };
            Summary {
                scenario: name,
                seed,
                violations: vec![Violation::new("panic", panic_at_ms, None, text)],
                wall_ms: wall_start.elapsed().as_millis() as u64,
                ..Summary::default()
            }
        }
    }
}

fn run_unguarded(scenario: &Scenario, options: RunOptions<'_>) -> Summary {
    // Wall time feeds only wall_ms and delivered_per_s, never the simulation.
    let wall_start = Instant::now();
    let mut master = ChaCha8Rng::seed_from_u64(options.seed);
    let mut scenario = scenario.clone();
    let mut drawn = None;
    if scenario.swarm {
        let mut swarm_rng = ChaCha8Rng::seed_from_u64(master.random());
        scenario.draw_swarm(&mut swarm_rng);
        let mut parameters = serde_json::json!({
            "network": scenario.network,
            "sticky": scenario.workload.sticky,
            "faults": scenario.faults,
        });
        if scenario.swarm_ranges == crate::scenario::SwarmRanges::Wide {
            // Everything else the wide ranges draw, so a person can see it.
            parameters["nodes"] = serde_json::json!(scenario.nodes);
            parameters["node"] = serde_json::json!(scenario.node);
            parameters["workload"] = serde_json::json!(scenario.workload);
        }
        drawn = Some(parameters);
    }
    let network = Network::new(
        scenario.network.clone(),
        scenario.nodes,
        ChaCha8Rng::seed_from_u64(master.random()),
    );
    let mut workload_rng = ChaCha8Rng::seed_from_u64(master.random());
    let slots = (0..scenario.nodes)
        .map(|i| Slot {
            node: None,
            config: scenario.node_config(i, master.random()),
            crashed: None,
            incarnation: 0,
            paused: false,
            backlog: Vec::new(),
            timer_generation: 0,
            timer_at: None,
        })
        .collect();
    let sessions = (0..scenario.workload.sessions)
        .map(|i| Session::new(i, scenario.nodes, &mut workload_rng))
        .collect();
    let healed_at_ms = scenario.last_heal_ms();
    let end = Millis(
        scenario
            .duration_ms
            .max(healed_at_ms + scenario.expect.liveness_ms),
    );
    let mut world = World {
        seed: options.seed,
        now: Millis::ZERO,
        end,
        queue: BinaryHeap::new(),
        seq: 0,
        slots,
        network,
        sessions,
        workload_rng,
        next_value: 0,
        applied_faults: scenario.faults.iter().map(|_| None).collect(),
        log: LogSafety::new(scenario.nodes),
        read_violations: Vec::new(),
        liveness: Liveness::new(
            healed_at_ms,
            scenario.expect.liveness_ms,
            scenario.workload.mix.write + scenario.workload.mix.cas > 0,
            scenario.workload.mix.ryw_read + scenario.workload.mix.ryw_read_leader > 0,
        ),
        acknowledged: Vec::new(),
        history: Vec::new(),
        history_clock: 0,
        op_counts: BTreeMap::new(),
        latencies_ms: BTreeMap::new(),
        trace: crate::trace::Trace::new(options.trace, options.hash_trace),
        summary: Summary {
            scenario: scenario.name.clone(),
            seed: options.seed,
            drawn,
            ..Summary::default()
        },
        factory: options.factory,
        recording: options.record.then(|| Recording {
            lanes: (1..=scenario.nodes)
                .map(|k| format!("n{k}"))
                .chain((1..=scenario.workload.sessions).map(|k| format!("c{k}")))
                .collect(),
            ..Recording::default()
        }),
        leader_terms: vec![0; scenario.nodes],
        armed_faults: Vec::new(),
        led_term_max: 0,
        leader_override: None,
        open_spans: scenario.faults.iter().map(|_| None).collect(),
        scenario,
    };
    world.start();
    world.run_events();
    let mut summary = world.finish();
    summary.wall_ms = wall_start.elapsed().as_millis() as u64;
    let wall_s = wall_start.elapsed().as_secs_f64().max(1e-9);
    summary.delivered_per_s = (summary.delivered as f64 / wall_s) as u64;
    summary
}

impl World<'_> {
    fn schedule(&mut self, at: Millis, kind: EventKind) {
        self.seq += 1;
        self.queue.push(Event {
            at,
            seq: self.seq,
            kind,
        });
    }

    fn start(&mut self) {
        for i in 0..self.slots.len() {
            let config = self.slots[i].config.clone();
            self.slots[i].node = Some((self.factory)(config, None, self.now));
            self.after_step(i);
        }
        for session in 0..self.sessions.len() {
            let think_ms = self
                .workload_rng
                .random_range(0..=self.scenario.workload.think_ms_max);
            self.schedule(self.now.plus(think_ms), EventKind::SessionNext { session });
        }
        for (i, fault) in self.scenario.faults.clone().iter().enumerate() {
            self.schedule(Millis(fault.at_ms), EventKind::FaultStart(i));
            self.schedule(Millis(fault.until_ms), EventKind::FaultEnd(i));
        }
    }

    fn run_events(&mut self) {
        while let Some(event) = self.queue.pop() {
            if event.at > self.end {
                break;
            }
            self.now = event.at;
            RUN_NOW_MS.with(|now| now.set(Some(self.now.as_ms())));
            match event.kind {
                EventKind::ToNode {
                    node,
                    envelope,
                    incarnation,
                    arrow,
                } => self.deliver_to_node(node, envelope, incarnation, arrow),
                EventKind::ToClient { envelope } => self.deliver_to_client(envelope),
                EventKind::Timer { node, generation } => {
                    let slot = &self.slots[node];
                    if slot.timer_generation == generation && !slot.paused && slot.node.is_some() {
                        self.slots[node].timer_at = None;
                        let now = self.now;
                        if let Some(n) = self.slots[node].node.as_mut() {
                            n.handle_timeout(now);
                        }
                        self.after_step(node);
                    }
                }
                EventKind::SessionNext { session } => self.session_next(session),
                EventKind::SessionTimeout { session, msg_id } => {
                    self.session_timeout(session, msg_id)
                }
                EventKind::FaultStart(i) => self.fault_start(i),
                EventKind::FaultTriggered { index, leader } => {
                    let fault = &self.scenario.faults[index];
                    if self.now.as_ms() < fault.until_ms && self.applied_faults[index].is_none() {
                        self.apply_fault(index, Some(leader));
                    }
                }
                EventKind::FaultEnd(i) => self.fault_end(i),
            }
        }
    }

    /// Records a message for the diagram; returns its arrow id.
    fn record_arrow(&mut self, envelope: &Envelope, arrive: Millis, dropped: bool) -> u32 {
        let Some(rec) = self.recording.as_mut() else {
            return NO_ARROW;
        };
        let nodes = self.slots.len();
        let lane = |id: &Id| match *id {
            Id::Node(k) if (1..=nodes as u32).contains(&k) => Some(k as usize - 1),
            Id::Client(k) if k >= 1 => Some(nodes + k as usize - 1),
            _ => None,
        };
        let (Some(from), Some(to)) = (lane(&envelope.src), lane(&envelope.dest)) else {
            return NO_ARROW;
        };
        rec.arrows.push(Arrow {
            from,
            to,
            sent_ms: self.now.as_ms(),
            arrived_ms: arrive.as_ms(),
            dropped,
            kind: envelope.body.payload.type_name().to_owned(),
            title: diagram::truncate_title(&ryw_core::codec::encode(envelope)),
        });
        (rec.arrows.len() - 1) as u32
    }

    fn arrow_arrived(&mut self, arrow: u32, dropped: bool) {
        let now_ms = self.now.as_ms();
        if let Some(a) = self
            .recording
            .as_mut()
            .and_then(|r| r.arrows.get_mut(arrow as usize))
        {
            a.arrived_ms = now_ms;
            a.dropped |= dropped;
        }
    }

    fn deliver_to_node(&mut self, node: usize, envelope: Envelope, incarnation: u32, arrow: u32) {
        let slot = &mut self.slots[node];
        if slot.node.is_none() || slot.incarnation != incarnation {
            self.summary.dropped += 1;
            self.trace.message(self.now, "drop", &envelope);
            self.arrow_arrived(arrow, true);
            return;
        }
        if slot.paused {
            slot.backlog.push((envelope, arrow));
            return;
        }
        self.summary.delivered += 1;
        self.trace.message(self.now, "deliver", &envelope);
        let now = self.now;
        if let Some(n) = self.slots[node].node.as_mut() {
            if n.core().role() == RoleKind::Leader {
                self.summary.leader_msgs += 1;
            }
            n.handle_message(now, envelope);
        }
        self.after_step(node);
    }

    /// Routes what node `i` sent, runs the per-step checkers, re-arms its timer.
    fn after_step(&mut self, i: usize) {
        self.fire_triggers(i);
        let now = self.now;
        let leads = self.slots[i]
            .node
            .as_ref()
            .is_some_and(|n| n.core().role() == RoleKind::Leader);
        while let Some(envelope) = self.slots[i].node.as_mut().and_then(|n| n.poll_transmit()) {
            if leads {
                self.summary.leader_msgs += 1;
            }
            match envelope.dest {
                Id::Node(k) if (k as usize) >= 1 && (k as usize) <= self.slots.len() => {
                    let to = k as usize - 1;
                    self.summary.peer_msgs += 1;
                    if let Payload::AppendEntries(append) = &envelope.body.payload {
                        self.summary.entries_sent += append.entries.len() as u64;
                    }
                    match self.network.node_to_node(i, to) {
                        Fate::Blocked | Fate::Lost => {
                            self.summary.dropped += 1;
                            self.trace.message(now, "drop", &envelope);
                            let shown_ms = self.scenario.network.delay_ms_max.max(2);
                            self.record_arrow(&envelope, now.plus(shown_ms), true);
                        }
                        Fate::Delivered { delays_ms, copies } => {
                            let incarnation = self.slots[to].incarnation;
                            if copies == 2 {
                                self.summary.duplicated += 1;
                                self.trace.message(now, "duplicate", &envelope);
                                let copy = envelope.clone();
                                let arrow = self.record_arrow(&copy, now.plus(delays_ms[1]), false);
                                let event = EventKind::ToNode {
                                    node: to,
                                    envelope: copy,
                                    incarnation,
                                    arrow,
                                };
                                self.schedule(now.plus(delays_ms[1]), event);
                            }
                            let arrow = self.record_arrow(&envelope, now.plus(delays_ms[0]), false);
                            let event = EventKind::ToNode {
                                node: to,
                                envelope,
                                incarnation,
                                arrow,
                            };
                            self.schedule(now.plus(delays_ms[0]), event);
                        }
                    }
                }
                Id::Client(_) => {
                    let delay_ms = self.network.client_link_ms(i);
                    self.record_arrow(&envelope, now.plus(delay_ms), false);
                    self.schedule(now.plus(delay_ms), EventKind::ToClient { envelope });
                }
                _ => {
                    self.summary.dropped += 1;
                    self.trace.message(now, "drop", &envelope);
                }
            }
        }
        let Some(node) = self.slots[i].node.as_ref() else {
            return;
        };
        self.log.observe(now.as_ms(), i, node.core());
        if let Some(rec) = self.recording.as_mut() {
            let core = node.core();
            if core.role() == RoleKind::Leader && self.leader_terms[i] != core.term() {
                self.leader_terms[i] = core.term();
                rec.marks.push(Mark {
                    lane: i,
                    at_ms: now.as_ms(),
                    text: format!("leader t{}", core.term()),
                });
            }
        }
        let wake = node.poll_timeout();
        let slot = &mut self.slots[i];
        if wake != slot.timer_at {
            slot.timer_at = wake;
            slot.timer_generation += 1;
            if let Some(at) = wake {
                let generation = slot.timer_generation;
                self.schedule(
                    at.max(now),
                    EventKind::Timer {
                        node: i,
                        generation,
                    },
                );
            }
        }
    }

    fn session_next(&mut self, session: usize) {
        if self.now >= Millis(self.scenario.duration_ms)
            && self.now >= Millis(self.liveness.healed_at_ms)
        {
            // The workload stops at the scenario's end, unless liveness still needs it.
            if self.now
                >= Millis(
                    self.scenario
                        .duration_ms
                        .max(self.liveness.healed_at_ms + self.liveness.bound_ms),
                )
            {
                return;
            }
        }
        let now = self.now;
        let request = self.sessions[session].next_request(
            &self.scenario.workload,
            self.scenario.nodes,
            &mut self.next_value,
            &mut self.workload_rng,
            now,
            self.history_clock,
        );
        self.history_clock += 1;
        let envelope = Envelope {
            src: self.sessions[session].client.clone(),
            dest: Id::Node(request.node as u32 + 1),
            body: Body {
                msg_id: Some(request.msg_id),
                in_reply_to: None,
                payload: Payload::Request(request.op),
            },
        };
        let delay_ms = self.network.client_link_ms(request.node);
        let incarnation = self.slots[request.node].incarnation;
        let arrow = self.record_arrow(&envelope, now.plus(delay_ms), false);
        let event = EventKind::ToNode {
            node: request.node,
            envelope,
            incarnation,
            arrow,
        };
        self.schedule(now.plus(delay_ms), event);
        let timeout = now.plus(self.scenario.workload.client_timeout_ms);
        self.schedule(
            timeout,
            EventKind::SessionTimeout {
                session,
                msg_id: request.msg_id,
            },
        );
    }

    fn think(&mut self, session: usize) {
        let think_ms = self
            .workload_rng
            .random_range(0..=self.scenario.workload.think_ms_max);
        self.schedule(self.now.plus(think_ms), EventKind::SessionNext { session });
    }

    fn session_timeout(&mut self, session: usize, msg_id: u64) {
        let s = &mut self.sessions[session];
        if s.outstanding.as_ref().is_some_and(|o| o.msg_id == msg_id) {
            let op = s.outstanding.take().expect("checked");
            self.count(&op.op, "info");
            self.record(session, &op, None, None);
            self.think(session);
        }
    }

    /// Tallies an outcome; static keys keep the per-operation path allocation-free.
    fn count(&mut self, op: &ClientOp, outcome: &'static str) {
        *self.op_counts.entry((op_kind(op), outcome)).or_insert(0) += 1;
    }

    fn deliver_to_client(&mut self, envelope: Envelope) {
        self.summary.delivered += 1;
        self.trace.message(self.now, "deliver", &envelope);
        let Id::Client(k) = envelope.dest else { return };
        let session = k as usize - 1;
        let Some(s) = self.sessions.get_mut(session) else {
            return;
        };
        let matches = s.outstanding.as_ref().map(|o| o.msg_id) == envelope.body.in_reply_to;
        if !matches {
            return; // a reply after the session gave up
        }
        let request = s.outstanding.take().expect("checked");
        let Payload::Reply(result) = envelope.body.payload else {
            return self.think(session);
        };
        self.complete(session, request, result);
        self.think(session);
    }

    /// Adds a lin-kv operation to the history; `returned: None` is indeterminate.
    fn record(
        &mut self,
        session: usize,
        request: &crate::workload::Outstanding,
        result: Option<&OpResult>,
        returned: Option<u64>,
    ) {
        let op = match (&request.op, result) {
            (ClientOp::Write { value, .. }, Some(OpResult::WriteOk { .. }) | None) => {
                LinOp::Write(value.clone())
            }
            (
                ClientOp::Cas {
                    from,
                    to,
                    create_if_not_exists,
                    ..
                },
                Some(OpResult::CasOk { .. }) | None,
            ) => LinOp::Cas {
                from: from.clone(),
                to: to.clone(),
                create_if_not_exists: *create_if_not_exists,
            },
            (ClientOp::Cas { .. }, Some(OpResult::Error { code, .. }))
                if *code == ErrorCode::KEY_DOES_NOT_EXIST =>
            {
                LinOp::CasMissing
            }
            (ClientOp::Cas { from, .. }, Some(OpResult::Error { code, .. }))
                if *code == ErrorCode::PRECONDITION_FAILED =>
            {
                LinOp::CasDiffers { from: from.clone() }
            }
            (ClientOp::Read { .. }, Some(OpResult::ReadOk { value })) => {
                LinOp::Read(Some(value.clone()))
            }
            (ClientOp::Read { .. }, Some(OpResult::Error { code, .. }))
                if *code == ErrorCode::KEY_DOES_NOT_EXIST =>
            {
                LinOp::Read(None)
            }
            (ClientOp::Write { .. } | ClientOp::Cas { .. }, Some(OpResult::Error { code, .. }))
                if !code.is_definite() =>
            {
                return self.record(session, request, None, None);
            }
            // Definite failures took no effect; ryw_read is not a lin-kv operation.
            _ => return,
        };
        self.history.push(HistoryOp {
            session: self.sessions[session].client.to_string(),
            key: request.op.key().clone(),
            op,
            invoked: request.invoked,
            returned,
        });
    }

    fn complete(
        &mut self,
        session: usize,
        request: crate::workload::Outstanding,
        result: OpResult,
    ) {
        if !matches!(result, OpResult::Error { .. }) {
            let latency_ms = self.now.since(request.sent_at);
            self.latencies_ms
                .entry(op_kind(&request.op))
                .or_default()
                .push(latency_ms);
        }
        let returned = self.history_clock;
        self.history_clock += 1;
        self.record(session, &request, Some(&result), Some(returned));
        let now_ms = self.now.as_ms();
        let sent_ms = request.sent_at.as_ms();
        let monotonic = self.scenario.workload.monotonic;
        let key = request.op.key().clone();
        match (&request.op, result) {
            (ClientOp::Write { value, .. }, OpResult::WriteOk { commit_index })
            | (ClientOp::Cas { to: value, .. }, OpResult::CasOk { commit_index }) => {
                let s = &mut self.sessions[session];
                s.token = s.token.max(commit_index);
                if s.acked.get(&key).is_none_or(|a| a.index < commit_index) {
                    let acked = crate::workload::Acked {
                        index: commit_index,
                        value: value.clone(),
                        at_ms: now_ms,
                    };
                    s.acked.insert(key.clone(), acked);
                }
                s.learn_value(&key, value);
                self.acknowledged.push((
                    s.client.to_string(),
                    now_ms,
                    commit_index,
                    key,
                    value.clone(),
                ));
                self.liveness.completed(true, sent_ms, now_ms);
                self.count(&request.op, "ok");
            }
            (ClientOp::Read { .. }, OpResult::ReadOk { value }) => {
                self.read_ok(session, &key, &value, None, monotonic);
                self.count(&request.op, "ok");
            }
            (ClientOp::Read { .. }, OpResult::Error { code, .. })
                if code == ErrorCode::KEY_DOES_NOT_EXIST =>
            {
                self.read_ok(session, &key, &Value::Null, None, monotonic);
                self.count(&request.op, "ok");
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
                self.read_ok(session, &key, &value, Some(applied_index), monotonic);
                match how {
                    Served::Locally { waited_ms: 0 } => self.summary.reads_local += 1,
                    Served::Locally { .. } => self.summary.reads_after_wait += 1,
                    Served::Redirected { .. } => self.summary.reads_redirected += 1,
                }
                self.liveness.completed(false, sent_ms, now_ms);
                self.count(&request.op, "ok");
            }
            (_, OpResult::Error { code, .. }) => {
                let outcome = if code.is_definite() { "fail" } else { "info" };
                self.count(&request.op, outcome);
            }
            (op, other) => {
                self.read_violations.push(Violation::new(
                    "protocol",
                    now_ms,
                    Some(self.sessions[session].client.to_string()),
                    format!("{} answered with {}", op.type_name(), other.type_name()),
                ));
            }
        }
    }

    fn read_ok(
        &mut self,
        session: usize,
        key: &Key,
        value: &Value,
        applied_index: Option<u64>,
        monotonic: bool,
    ) {
        let s = &self.sessions[session];
        let read_index = ryw::check_read(
            self.now.as_ms(),
            s,
            monotonic,
            key,
            value,
            &self.log,
            &mut self.read_violations,
        );
        let s = &mut self.sessions[session];
        let seen = s.seen.entry(key.clone()).or_insert(0);
        *seen = (*seen).max(read_index);
        s.learn_value(key, value);
        if monotonic {
            s.token = s.token.max(applied_index.unwrap_or(read_index));
        }
    }

    /// The live node that leads the highest term, else the lowest-numbered live node.
    fn current_leader(&self) -> usize {
        let live = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i, s.node.as_ref()?.core())));
        live.clone()
            .filter(|(_, n)| n.role() == RoleKind::Leader)
            .max_by_key(|(i, n)| (n.term(), std::cmp::Reverse(*i)))
            .or_else(|| live.min_by_key(|(i, _)| *i))
            .map_or(0, |(i, _)| i)
    }

    fn resolve(&self, name: &str) -> usize {
        match self.scenario.resolve_name(name) {
            Ok(Some(i)) => i,
            _ => self
                .leader_override
                .unwrap_or_else(|| self.current_leader()),
        }
    }

    /// Starts the faults waiting for a new leader when node `i` has just
    /// won, before anything it sent as leader is routed.
    fn fire_triggers(&mut self, i: usize) {
        let Some(core) = self.slots[i].node.as_ref().map(|n| n.core()) else {
            return;
        };
        if core.role() != RoleKind::Leader || core.term() <= self.led_term_max {
            return;
        }
        self.led_term_max = core.term();
        for index in std::mem::take(&mut self.armed_faults) {
            let fault = &self.scenario.faults[index];
            let start = self.now.plus(fault.after_ms);
            if start.as_ms() >= fault.until_ms {
                continue;
            }
            if fault.after_ms == 0 {
                self.apply_fault(index, Some(i));
            } else {
                self.schedule(start, EventKind::FaultTriggered { index, leader: i });
            }
        }
    }

    fn fault_start(&mut self, index: usize) {
        match self.scenario.faults[index].when {
            Some(Trigger::LeaderElected) => {
                let detail = format!("arm faults[{index}]: starts when a leader is elected");
                self.trace.note(self.now, "fault", &detail);
                self.armed_faults.push(index);
            }
            None => self.apply_fault(index, None),
        }
    }

    /// Starts fault `index`; `leader`, when given, is the node `"leader"` names.
    fn apply_fault(&mut self, index: usize, leader: Option<usize>) {
        self.leader_override = leader;
        self.apply_fault_now(index);
        self.leader_override = None;
    }

    fn apply_fault_now(&mut self, index: usize) {
        let fault = self.scenario.faults[index].clone();
        let n = self.slots.len();
        let applied = match &fault.kind {
            FaultKind::Isolate { node } => {
                let x = self.resolve(node);
                Applied::Cuts(
                    (0..n)
                        .filter(|&j| j != x)
                        .flat_map(|j| [(x, j), (j, x)])
                        .collect(),
                )
            }
            FaultKind::OneWay { from, to } => {
                let from: Vec<usize> = from.iter().map(|f| self.resolve(f)).collect();
                let to: Vec<usize> = to.iter().map(|t| self.resolve(t)).collect();
                Applied::Cuts(
                    from.iter()
                        .flat_map(|&f| to.iter().filter(move |&&t| t != f).map(move |&t| (f, t)))
                        .collect(),
                )
            }
            FaultKind::Split { minority_with } => {
                let first = minority_with.as_deref().map_or(0, |m| self.resolve(m));
                let minority: Vec<usize> = (0..(n - 1) / 2).map(|k| (first + k) % n).collect();
                let mut cuts = Vec::new();
                for a in 0..n {
                    for b in 0..n {
                        if minority.contains(&a) != minority.contains(&b) {
                            cuts.push((a, b));
                        }
                    }
                }
                Applied::Cuts(cuts)
            }
            FaultKind::Ring => {
                let near = |a: usize, b: usize| (a + 1) % n == b || (b + 1) % n == a;
                Applied::Cuts(
                    (0..n)
                        .flat_map(|a| (0..n).map(move |b| (a, b)))
                        .filter(|&(a, b)| a != b && !near(a, b))
                        .collect(),
                )
            }
            FaultKind::Lag { node, extra_ms } => {
                let x = self.resolve(node);
                self.network.add_lag(x, *extra_ms);
                Applied::Lag(x, *extra_ms)
            }
            FaultKind::Pause { node } => {
                let x = self.resolve(node);
                self.slots[x].paused = true;
                Applied::Pause(x)
            }
            FaultKind::Crash { node } => {
                let x = self.resolve(node);
                if let Some(crashed) = self.slots[x].node.take() {
                    self.slots[x].crashed = Some(crashed.core().durable().clone());
                    self.slots[x].incarnation += 1;
                    self.slots[x].timer_at = None;
                    self.slots[x].backlog.clear();
                }
                Applied::Crash(x)
            }
        };
        if let Applied::Cuts(cuts) = &applied {
            for &(a, b) in cuts {
                self.network.cut(a, b);
            }
        }
        let detail = format!("start faults[{index}] {}", describe(&fault.kind, &applied));
        self.trace.note(self.now, "fault", &detail);
        if self.recording.is_some() {
            let lanes = shaded_lanes(&fault.kind, &applied);
            let kind = span_kind(&fault.kind).to_owned();
            self.open_spans[index] = Some(OpenSpan {
                lanes,
                from_ms: self.now.as_ms(),
                kind,
                title: detail,
            });
        }
        self.applied_faults[index] = Some(applied);
    }

    fn fault_end(&mut self, index: usize) {
        // A triggered fault whose trigger never fired expires unstarted.
        self.armed_faults.retain(|&armed| armed != index);
        let Some(applied) = self.applied_faults[index].take() else {
            return;
        };
        let detail = format!(
            "end faults[{index}] {}",
            describe(&self.scenario.faults[index].kind, &applied)
        );
        self.trace.note(self.now, "heal", &detail);
        self.close_span(index);
        match applied {
            Applied::Cuts(cuts) => {
                for (a, b) in cuts {
                    self.network.uncut(a, b);
                }
            }
            Applied::Lag(x, ms) => self.network.remove_lag(x, ms),
            Applied::Pause(x) => {
                self.slots[x].paused = false;
                let backlog = std::mem::take(&mut self.slots[x].backlog);
                let now = self.now;
                for &(_, arrow) in &backlog {
                    self.arrow_arrived(arrow, false);
                }
                if let Some(node) = self.slots[x].node.as_mut() {
                    for (envelope, _) in backlog {
                        self.summary.delivered += 1;
                        self.trace.message(now, "deliver", &envelope);
                        node.handle_message(now, envelope);
                    }
                    if node.poll_timeout().is_some_and(|t| t <= now) {
                        node.handle_timeout(now);
                    }
                }
                self.slots[x].timer_at = None;
                self.after_step(x);
            }
            Applied::Crash(x) => {
                if let Some(durable) = self.slots[x].crashed.take() {
                    let config = self.slots[x].config.clone();
                    self.slots[x].node = Some((self.factory)(config, Some(durable), self.now));
                    self.log.restarted(x);
                    self.after_step(x);
                }
            }
        }
    }

    /// Turns a fault's open shading into spans on its timelines.
    fn close_span(&mut self, index: usize) {
        let now_ms = self.now.as_ms();
        let open = self.open_spans[index].take();
        if let (Some(open), Some(rec)) = (open, self.recording.as_mut()) {
            for lane in open.lanes {
                rec.spans.push(Span {
                    lane,
                    from_ms: open.from_ms,
                    to_ms: now_ms,
                    kind: open.kind.clone(),
                    title: open.title.clone(),
                });
            }
        }
    }

    fn finish(mut self) -> Summary {
        let end_ms = self.now.as_ms();
        for index in 0..self.open_spans.len() {
            self.close_span(index);
        }
        // Make sure the oracle has everything any node committed.
        for i in 0..self.slots.len() {
            if let Some(node) = self.slots[i].node.as_ref() {
                self.log.observe(end_ms, i, node.core());
            }
        }
        // Requests still in flight at the end may yet take effect.
        for session in 0..self.sessions.len() {
            if let Some(request) = self.sessions[session].outstanding.take() {
                self.record(session, &request, None, None);
            }
        }
        for (session, acked_ms, index, key, value) in std::mem::take(&mut self.acknowledged) {
            self.log
                .check_acknowledged(end_ms, (&session, acked_ms), index, &key, &value);
        }
        let mut violations = std::mem::take(&mut self.log.violations);
        violations.extend(std::mem::take(&mut self.read_violations));
        violations.extend(self.liveness.verdict());
        let (non_linearizable, undecided) = linearizability::check(&self.history);
        for detail in non_linearizable {
            violations.push(Violation::new("linearizability", end_ms, None, detail));
        }
        self.summary.linearizability_undecided_keys = undecided;
        self.summary.ops = self
            .op_counts
            .iter()
            .map(|(&(kind, outcome), &n)| (format!("{kind} {outcome}"), n))
            .collect();
        violations.extend(efficiency::verdict(
            &self.scenario.expect,
            &self.summary,
            end_ms,
        ));
        violations.sort_by_key(|v| v.at_ms);
        let mut summary = std::mem::take(&mut self.summary);
        summary.latencies_ms = std::mem::take(&mut self.latencies_ms)
            .into_iter()
            .map(|(kind, v)| (kind.to_owned(), v))
            .collect();
        summary.violations = violations;
        summary.sim_ms = self.now.as_ms();
        let hash = self.trace.finish();
        summary.trace_error = self.trace.write_error.take();
        if self.trace.enabled() {
            summary.trace_hash = Some(format!("{hash:016x}"));
        }
        let _ = self.seed;
        summary.recording = self.recording.take().map(|mut rec| {
            rec.end_ms = end_ms;
            rec
        });
        summary
    }
}

fn describe(kind: &FaultKind, applied: &Applied) -> String {
    let name = |i: &usize| format!("n{}", i + 1);
    match applied {
        Applied::Cuts(cuts) => {
            let links: Vec<String> = cuts
                .iter()
                .map(|(a, b)| format!("{}->{}", name(a), name(b)))
                .collect();
            let what = match kind {
                FaultKind::Isolate { .. } => "isolate",
                FaultKind::OneWay { .. } => "one-way partition",
                FaultKind::Split { .. } => "split",
                _ => "ring",
            };
            format!("{what}: cut {}", links.join(" "))
        }
        Applied::Lag(x, ms) => format!("lag {} by {ms} ms", name(x)),
        Applied::Pause(x) => format!("pause {}", name(x)),
        Applied::Crash(x) => format!("crash {}", name(x)),
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

fn span_kind(kind: &FaultKind) -> &'static str {
    match kind {
        FaultKind::Lag { .. } => "lag",
        FaultKind::Pause { .. } => "pause",
        FaultKind::Crash { .. } => "crash",
        _ => "partition",
    }
}

/// The timelines a fault shades: the nodes it cuts off, slows, pauses or crashes.
fn shaded_lanes(kind: &FaultKind, applied: &Applied) -> Vec<usize> {
    let mut lanes: Vec<usize> = match (kind, applied) {
        (_, Applied::Lag(x, _) | Applied::Pause(x) | Applied::Crash(x)) => vec![*x],
        // Isolate cuts one node from all others: shade the node common to every cut.
        (FaultKind::Isolate { .. }, Applied::Cuts(cuts)) => {
            let first = cuts.first().map_or(0, |&(a, _)| a);
            let common = if cuts.iter().all(|&(a, b)| a == first || b == first) {
                first
            } else {
                cuts.first().map_or(0, |&(_, b)| b)
            };
            vec![common]
        }
        // A split cuts both ways; its minority is the side with more cuts per node.
        (FaultKind::Split { .. }, Applied::Cuts(cuts)) => {
            let outgoing = |n: usize| cuts.iter().filter(|&&(a, _)| a == n).count();
            let most = cuts.iter().map(|&(a, _)| outgoing(a)).max().unwrap_or(0);
            cuts.iter()
                .map(|&(a, _)| a)
                .filter(|&a| outgoing(a) == most)
                .collect()
        }
        (FaultKind::OneWay { .. }, Applied::Cuts(cuts)) => cuts.iter().map(|&(a, _)| a).collect(),
        (_, Applied::Cuts(cuts)) => cuts.iter().flat_map(|&(a, b)| [a, b]).collect(),
    };
    lanes.sort_unstable();
    lanes.dedup();
    lanes
}
