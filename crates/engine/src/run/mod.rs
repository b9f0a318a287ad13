//! The run loop: one virtual clock, one event queue, the nodes' slots and
//! the routing of what they send. Everything runs on one thread; nothing
//! reads a real clock.
//!
//! Fault injection lives in `run/inject.rs`; the protocol's side of the run in
//! the [`Harness`].

mod inject;

use std::io::Write;

use rand_chacha::ChaCha8Rng;

use crate::clock::Clock;
use crate::diagram::{self, Arrow, Mark, Recording};
use crate::disk::{DiskLatency, Unsynced};
use crate::faults::{self, Applied, DiskLoss, Fault};
use crate::guard;
use crate::harness::{Ctx, End, Harness};
use crate::network::{Fate, Network};
use crate::process::{Address, Message, Process};
use crate::queue::EventQueue;
use crate::trace::Trace;

/// Everything a run needs besides the harness.
pub struct Setup {
    pub nodes: usize,
    /// The network, seeded from the run's streams.
    pub network: Network,
    pub faults: Vec<Fault>,
    /// Draws the nodes that role targets such as `follower` and `majority`
    /// pick (a stream of its own, so other draws do not shift).
    pub fault_rng: ChaCha8Rng,
    /// Events after this time are not run.
    pub end_ms: u64,
    /// Most events to run; the run stops early past it (fuzzing, bounded
    /// runs). `u64::MAX`: no bound but the end time.
    pub events_max: u64,
    /// Each node's clock (offset and drift); missing ones read run time.
    pub clocks: Vec<Clock>,
    /// Each node's disk latency; missing ones complete fsyncs at once.
    pub disks: Vec<DiskLatency>,
    /// Draws disk latencies, what a crash keeps of unsynced writes, and
    /// where corruption hits (a stream of its own).
    pub disk_rng: ChaCha8Rng,
    /// Told the simulated time now and then (every [`PROGRESS_EVERY`]
    /// events), for a progress bar. It must not touch the run.
    pub progress: Option<Box<dyn FnMut(u64) + Send>>,
    /// Where to write the trace, if anywhere.
    pub trace: Option<Box<dyn Write + Send>>,
    /// Hash the trace even when it is not written (determinism checks).
    pub hash_trace: bool,
    /// Record messages, faults and leaders for a diagram, with this many
    /// client timelines after the nodes' (it costs memory).
    pub record_clients: Option<usize>,
}

/// What the engine counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages handed to a node or a client.
    pub delivered: u64,
    /// Messages lost, cut by a partition, sent to a crashed node or to nobody.
    pub dropped: u64,
    /// Messages the network delivered twice.
    pub duplicated: u64,
    /// Messages nodes sent to nodes, lost ones included.
    pub peer_msgs: u64,
    /// Messages sent or received by a node that believed it led.
    pub leader_msgs: u64,
    /// The same messages by kind (`Message::label`), in order of first
    /// appearance.
    pub leader_msgs_by_kind: Vec<(&'static str, u64)>,
}

impl Stats {
    /// Counts one message sent or received by a leader.
    fn leader_msg(&mut self, kind: &'static str) {
        self.leader_msgs += 1;
        match self
            .leader_msgs_by_kind
            .iter_mut()
            .find(|(k, _)| *k == kind)
        {
            Some((_, n)) => *n += 1,
            None => self.leader_msgs_by_kind.push((kind, 1)),
        }
    }
}

/// A finished run.
pub struct Finished<O> {
    pub outcome: O,
    pub stats: Stats,
    /// Simulated time of the last event run.
    pub sim_ms: u64,
    /// FNV-1a of the trace, when it was written or hashed.
    pub trace_hash: Option<u64>,
    /// Why writing the trace failed, if it did (the trace is then incomplete).
    pub trace_error: Option<String>,
    pub recording: Option<Recording>,
    /// Events run.
    pub events: u64,
    /// Whether the run stopped at `events_max`, before its end time.
    pub cut_short: bool,
}

/// Most events one simulated millisecond may hold before the run is
/// declared stuck.
pub const EVENTS_PER_MS_MAX: u64 = 1_000_000;

/// Most events the queue may hold. Messages that multiply faster than they
/// are delivered (a retry loop on a duplicating network) would otherwise
/// fill the machine's memory; the run ends with a clear error instead.
pub const QUEUE_EVENTS_MAX: usize = 2_000_000;

/// How many events pass between two calls of `Setup::progress`.
pub const PROGRESS_EVERY: u64 = 1 << 14;

/// Arrow id of a message that is not being recorded.
const NO_ARROW: u32 = u32::MAX;

pub(crate) enum Event<M, E> {
    ToNode {
        node: usize,
        message: M,
        incarnation: u32,
        arrow: u32,
    },
    ToClient(M),
    Timer {
        node: usize,
        generation: u64,
    },
    Harness(E),
    FaultStart(usize),
    /// A triggered fault's delayed start, aimed at the leader that fired it.
    FaultTriggered {
        index: usize,
        leader: usize,
    },
    FaultEnd(usize),
    /// An fsync of node `node`'s disk completes.
    Synced {
        node: usize,
        incarnation: u32,
        sync: u64,
    },
}

pub(crate) struct Slot<N: Process> {
    pub(crate) node: Option<N>,
    /// Durable state kept across a crash.
    crashed: Option<N::Durable>,
    /// Bumped by every crash: messages sent to an earlier life are lost.
    incarnation: u32,
    /// Active pause faults holding the node: it runs again at zero.
    paused: u32,
    /// Active crash faults holding the node down: it restarts at zero.
    crashes: u32,
    backlog: Vec<(N::Message, u32)>,
    timer_generation: u64,
    timer_at_ms: Option<u64>,
    /// When the last fsync started on its disk completes: fsyncs on one
    /// disk complete in order.
    sync_done_ms: u64,
    /// fsyncs that ended while the node was paused, to tell it when it
    /// resumes: (fsync, whether it succeeded).
    synced_backlog: Vec<(u64, bool)>,
    /// Extra fsync time from active `slow_fsync` faults.
    fsync_extra_ms: u64,
    /// Why the node refused to start from its disk: it stays down.
    refused: Option<String>,
    /// The node stopped itself on a failed fsync: it starts again when the
    /// fault ends.
    stopped: bool,
}

/// A fault's shading while it lasts.
struct OpenSpan {
    lanes: Vec<usize>,
    from_ms: u64,
    kind: faults::Shading,
    title: String,
}

/// The engine's state: everything but the harness, so that a harness can be
/// handed a [`Ctx`] on it while the engine holds the harness.
pub(crate) struct State<N: Process, E> {
    pub(crate) now_ms: u64,
    pub(crate) end_ms: u64,
    events_max: u64,
    events: u64,
    cut_short: bool,
    progress: Option<Box<dyn FnMut(u64) + Send>>,
    queue: EventQueue<Event<N::Message, E>>,
    pub(crate) slots: Vec<Slot<N>>,
    /// Per node: its clock.
    clocks: Vec<Clock>,
    /// Per node: its disk's latency.
    disks: Vec<DiskLatency>,
    disk_rng: ChaCha8Rng,
    network: Network,
    faults: Vec<Fault>,
    /// Per fault: what it did while it is active.
    applied: Vec<Option<Applied>>,
    /// Faults armed and waiting for their trigger, by index.
    armed: Vec<(usize, faults::Trigger)>,
    /// Per node: what it led and how long its log was after its last step
    /// (to see a leader append).
    last_seen: Vec<(Option<u64>, u64)>,
    /// The newest term any node has led (to notice a new leader).
    led_term_max: u64,
    /// The node `"leader"` names while a triggered fault starts.
    leader_override: Option<usize>,
    /// Who led when `"leader"` was last resolved, and at what time: faults
    /// starting in the same millisecond agree on the leader.
    leader_seen: Option<(u64, Option<usize>)>,
    /// Every node that became leader of a newer term, in order.
    leader_history: Vec<usize>,
    fault_rng: ChaCha8Rng,
    /// Per fault: the shading it has open.
    open_spans: Vec<Option<OpenSpan>>,
    /// Per fault: how traces name it (`faults[2]`, or `faults[2]#5` for
    /// the fifth time a repeated fault happens).
    labels: Vec<String>,
    trace: Trace,
    stats: Stats,
    recording: Option<Recording>,
    /// Per node: the term of its last leadership mark.
    leader_terms: Vec<u64>,
}

impl<N: Process, E> State<N, E> {
    /// What node `i`'s clock reads now.
    pub(crate) fn node_ms(&self, i: usize) -> u64 {
        self.clocks[i].node_ms(self.now_ms)
    }

    pub(crate) fn schedule_harness(&mut self, at_ms: u64, event: E) {
        self.queue.push(at_ms, Event::Harness(event));
    }

    pub(crate) fn send_from_client(&mut self, node: usize, message: N::Message) {
        // A client's send is traced when it happens: outside checkers need
        // the exact invocation time (the trace has every delivery anyway).
        self.trace.message(self.now_ms, "send", &message);
        let Some(delay_ms) = self.network.client_link(node) else {
            return self.lose_on_client_link(&message);
        };
        let arrive_ms = self.now_ms.saturating_add(delay_ms);
        let incarnation = self.slots[node].incarnation;
        let arrow = self.record_arrow(&message, arrive_ms, false);
        let event = Event::ToNode {
            node,
            message,
            incarnation,
            arrow,
        };
        self.queue.push(arrive_ms, event);
    }

    /// Records a message for the diagram; returns its arrow id.
    fn record_arrow(&mut self, message: &N::Message, arrive_ms: u64, dropped: bool) -> u32 {
        let Some(rec) = self.recording.as_mut() else {
            return NO_ARROW;
        };
        let nodes = self.slots.len();
        let lane = |address: Address| match address {
            Address::Node(k) if k < nodes => Some(k),
            Address::Client(k) => Some(nodes + k),
            _ => None,
        };
        let (Some(from), Some(to)) = (lane(message.src()), lane(message.dest())) else {
            return NO_ARROW;
        };
        let mut json = String::new();
        message.write_json(&mut json);
        rec.arrows.push(Arrow {
            from,
            to,
            sent_ms: self.now_ms,
            arrived_ms: arrive_ms,
            dropped,
            kind: message.label(),
            title: diagram::truncate_title(&json),
        });
        (rec.arrows.len() - 1) as u32
    }

    fn arrow_arrived(&mut self, arrow: u32, dropped: bool) {
        let now_ms = self.now_ms;
        if let Some(a) = self
            .recording
            .as_mut()
            .and_then(|r| r.arrows.get_mut(arrow as usize))
        {
            a.arrived_ms = now_ms;
            a.dropped |= dropped;
        }
    }

    /// A client-link fault lost `message`.
    fn lose_on_client_link(&mut self, message: &N::Message) {
        self.drop_message(message);
        let shown_ms = self.network.params().delay_ms_max.max(2);
        self.record_arrow(message, self.now_ms.saturating_add(shown_ms), true);
    }

    fn drop_message(&mut self, message: &N::Message) {
        self.stats.dropped += 1;
        self.trace.message(self.now_ms, "drop", message);
    }

    /// Sends what node `from` sent to node `to` through the network.
    fn route_to_node(&mut self, from: usize, to: usize, message: N::Message) {
        let now_ms = self.now_ms;
        match self.network.node_to_node(from, to) {
            Fate::Blocked | Fate::Lost => {
                self.drop_message(&message);
                let shown_ms = self.network.params().delay_ms_max.max(2);
                self.record_arrow(&message, now_ms.saturating_add(shown_ms), true);
            }
            Fate::Delivered { delays_ms, copies } => {
                let incarnation = self.slots[to].incarnation;
                if copies == 2 {
                    self.stats.duplicated += 1;
                    self.trace.message(now_ms, "duplicate", &message);
                    let copy = message.clone();
                    let arrive_ms = now_ms.saturating_add(delays_ms[1]);
                    let arrow = self.record_arrow(&copy, arrive_ms, false);
                    let event = Event::ToNode {
                        node: to,
                        message: copy,
                        incarnation,
                        arrow,
                    };
                    self.queue.push(arrive_ms, event);
                }
                let arrive_ms = now_ms.saturating_add(delays_ms[0]);
                let arrow = self.record_arrow(&message, arrive_ms, false);
                let event = Event::ToNode {
                    node: to,
                    message,
                    incarnation,
                    arrow,
                };
                self.queue.push(arrive_ms, event);
            }
        }
    }

    /// The live node that leads the highest term, if any.
    fn current_leader(&self) -> Option<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i, s.node.as_ref()?.leading()?)))
            .max_by_key(|&(i, term)| (term, std::cmp::Reverse(i)))
            .map(|(i, _)| i)
    }
}

/// One run of a harness's nodes.
pub struct Engine<H: Harness> {
    state: State<H::Node, H::Event>,
    harness: H,
}

impl<H: Harness> Engine<H> {
    /// Prepares a run; fails if a fault names a node the run lacks.
    pub fn new(setup: Setup, harness: H) -> Result<Engine<H>, String> {
        faults::check_names(&setup.faults, setup.nodes)?;
        let (labels, faults): (Vec<String>, Vec<Fault>) = setup
            .faults
            .iter()
            .enumerate()
            .flat_map(|(i, fault)| fault.occurrences(i))
            .unzip();
        let nodes = setup.nodes;
        let slots = (0..nodes)
            .map(|_| Slot {
                node: None,
                crashed: None,
                incarnation: 0,
                paused: 0,
                crashes: 0,
                backlog: Vec::new(),
                timer_generation: 0,
                timer_at_ms: None,
                sync_done_ms: 0,
                synced_backlog: Vec::new(),
                fsync_extra_ms: 0,
                refused: None,
                stopped: false,
            })
            .collect();
        let recording = setup.record_clients.map(|clients| Recording {
            lanes: (1..=nodes)
                .map(|k| format!("n{k}"))
                .chain((1..=clients).map(|k| format!("c{k}")))
                .collect(),
            ..Recording::default()
        });
        let state = State {
            now_ms: 0,
            end_ms: setup.end_ms,
            events_max: setup.events_max,
            events: 0,
            cut_short: false,
            progress: setup.progress,
            queue: EventQueue::default(),
            slots,
            clocks: {
                let mut clocks = setup.clocks;
                clocks.resize(nodes, Clock::default());
                clocks
            },
            disks: {
                let mut disks = setup.disks;
                disks.resize(nodes, DiskLatency::default());
                disks
            },
            disk_rng: setup.disk_rng,
            network: setup.network,
            applied: faults.iter().map(|_| None).collect(),
            open_spans: faults.iter().map(|_| None).collect(),
            faults,
            labels,
            armed: Vec::new(),
            last_seen: vec![(None, 0); nodes],
            led_term_max: 0,
            leader_override: None,
            leader_seen: None,
            leader_history: Vec::new(),
            fault_rng: setup.fault_rng,
            trace: Trace::new(setup.trace, setup.hash_trace),
            stats: Stats::default(),
            recording,
            leader_terms: vec![0; nodes],
        };
        Ok(Engine { state, harness })
    }

    /// Runs every event up to the end time, then lets the harness judge.
    ///
    /// Panics if simulated time stops advancing (more than
    /// [`EVENTS_PER_MS_MAX`] events in one millisecond): a scenario whose
    /// messages and clients all take zero time would otherwise run forever.
    pub fn run(mut self) -> Finished<H::Outcome> {
        self.start();
        let mut events_this_ms = 0u64;
        let mut this_ms = 0u64;
        while let Some((at_ms, event)) = self.state.queue.pop() {
            if at_ms > self.state.end_ms {
                break;
            }
            if self.state.events >= self.state.events_max {
                self.state.cut_short = true;
                break;
            }
            self.state.events += 1;
            if self.state.events.is_multiple_of(PROGRESS_EVERY) {
                if let Some(progress) = self.state.progress.as_mut() {
                    progress(at_ms);
                }
                let queued = self.state.queue.len();
                assert!(
                    queued <= QUEUE_EVENTS_MAX,
                    "{queued} events queued at {at_ms} ms: messages multiply faster than they are \
                     delivered (a retry loop, made worse by duplication?)"
                );
            }
            if at_ms == this_ms {
                events_this_ms += 1;
                assert!(
                    events_this_ms <= EVENTS_PER_MS_MAX,
                    "simulated time stopped advancing at {at_ms} ms: {EVENTS_PER_MS_MAX} events \
                     without the clock moving (zero delays and zero think time let clients and \
                     nodes answer each other forever)"
                );
            } else {
                (this_ms, events_this_ms) = (at_ms, 1);
            }
            self.state.now_ms = at_ms;
            guard::set_now(at_ms);
            match event {
                Event::ToNode {
                    node,
                    message,
                    incarnation,
                    arrow,
                } => self.deliver_to_node(node, message, incarnation, arrow),
                Event::ToClient(message) => {
                    self.state.stats.delivered += 1;
                    self.state.trace.message(at_ms, "deliver", &message);
                    let mut ctx = Ctx {
                        state: &mut self.state,
                    };
                    self.harness.on_client_message(&mut ctx, message);
                }
                Event::Timer { node, generation } => {
                    let clock_ms = self.state.node_ms(node);
                    let slot = &mut self.state.slots[node];
                    if slot.timer_generation == generation && slot.paused == 0 {
                        if let Some(n) = slot.node.as_mut() {
                            slot.timer_at_ms = None;
                            n.handle_timeout(clock_ms);
                            self.after_step(node);
                        }
                    }
                }
                Event::Harness(event) => {
                    let mut ctx = Ctx {
                        state: &mut self.state,
                    };
                    self.harness.on_event(&mut ctx, event);
                }
                Event::FaultStart(index) => self.fault_start(index),
                Event::FaultTriggered { index, leader } => {
                    let fault = &self.state.faults[index];
                    if at_ms < fault.until_ms && self.state.applied[index].is_none() {
                        self.apply_fault(index, Some(leader));
                    }
                }
                Event::FaultEnd(index) => self.fault_end(index),
                Event::Synced {
                    node,
                    incarnation,
                    sync,
                } => self.sync_done(node, incarnation, sync),
            }
        }
        self.finish()
    }

    fn start(&mut self) {
        for i in 0..self.state.slots.len() {
            self.boot(i, None);
        }
        let mut ctx = Ctx {
            state: &mut self.state,
        };
        self.harness.start(&mut ctx);
        for (i, fault) in self.state.faults.iter().enumerate() {
            self.state.queue.push(fault.at_ms, Event::FaultStart(i));
            if !fault.never_heals() {
                self.state.queue.push(fault.until_ms, Event::FaultEnd(i));
            }
        }
    }

    fn deliver_to_node(
        &mut self,
        node: usize,
        message: crate::harness::MessageOf<H>,
        incarnation: u32,
        arrow: u32,
    ) {
        let state = &mut self.state;
        let slot = &mut state.slots[node];
        if slot.node.is_none() || slot.incarnation != incarnation {
            state.drop_message(&message);
            state.arrow_arrived(arrow, true);
            return;
        }
        if slot.paused > 0 {
            slot.backlog.push((message, arrow));
            return;
        }
        state.stats.delivered += 1;
        state.trace.message(state.now_ms, "deliver", &message);
        let clock_ms = state.node_ms(node);
        if let Some(n) = state.slots[node].node.as_mut() {
            if n.leading().is_some() {
                state.stats.leader_msg(message.label());
            }
            n.handle_message(clock_ms, message);
        }
        self.after_step(node);
    }

    /// Boots node `i` (fresh, or from what its crash kept); a node that
    /// refuses to start stays down.
    pub(crate) fn boot(&mut self, i: usize, durable: Option<crate::harness::DurableOf<H>>) {
        let clock_ms = self.state.node_ms(i);
        let restart = durable.is_some();
        match self.harness.boot(i, durable, clock_ms) {
            Ok(node) => {
                self.state.slots[i].node = Some(node);
                if restart {
                    self.harness.on_restart(i);
                }
                self.after_step(i);
            }
            Err(why) => {
                let detail = format!("n{} refuses to start: {why}", i + 1);
                self.state.trace.note(self.state.now_ms, "refuse", &detail);
                self.state.slots[i].refused = Some(why);
            }
        }
    }

    /// Starts the fsyncs node `i`'s last step asked for. One with no
    /// latency completes now, within the step, as long as no earlier fsync
    /// of that disk is still running; the others complete later, in order.
    fn start_syncs(&mut self, i: usize) {
        let state = &mut self.state;
        let now_ms = state.now_ms;
        loop {
            let slot = &mut state.slots[i];
            let Some(disk) = slot.node.as_mut().and_then(|n| n.disk_mut()) else {
                return;
            };
            let Some(sync) = disk.start_next_sync() else {
                return;
            };
            let took_ms = state.disks[i]
                .draw(&mut state.disk_rng)
                .saturating_add(slot.fsync_extra_ms);
            if took_ms == 0 && slot.sync_done_ms <= now_ms {
                let clock_ms = state.clocks[i].node_ms(now_ms);
                if !state.finish_sync(i, sync, clock_ms) {
                    return;
                }
                continue;
            }
            let done_ms = now_ms.saturating_add(took_ms).max(slot.sync_done_ms);
            slot.sync_done_ms = done_ms;
            let incarnation = slot.incarnation;
            state.queue.push(
                done_ms,
                Event::Synced {
                    node: i,
                    incarnation,
                    sync,
                },
            );
        }
    }

    /// fsync `sync` of node `node`'s disk completes, unless the node
    /// crashed since it started.
    fn sync_done(&mut self, node: usize, incarnation: u32, sync: u64) {
        let clock_ms = self.state.node_ms(node);
        let slot = &mut self.state.slots[node];
        if slot.incarnation != incarnation {
            return;
        }
        let Some(process) = slot.node.as_mut() else {
            return;
        };
        if slot.paused > 0 {
            // Told when it resumes; the disk's outcome is decided now.
            if let Some(disk) = process.disk_mut() {
                let ok = !disk.is_failing();
                if ok {
                    disk.complete_sync(sync);
                } else {
                    disk.fail_sync(sync);
                }
                slot.synced_backlog.push((sync, ok));
            }
            return;
        }
        if self.state.finish_sync(node, sync, clock_ms) {
            self.after_step(node);
        }
    }
}

impl<N: Process, E> State<N, E> {
    /// Ends fsync `sync` of node `i`: it completes, or fails while an
    /// `fsync_error` fault holds the disk, and the node is told. Returns
    /// whether the node is still up (it may stop itself on a failure).
    fn finish_sync(&mut self, i: usize, sync: u64, clock_ms: u64) -> bool {
        let Some(process) = self.slots[i].node.as_mut() else {
            return false;
        };
        let Some(disk) = process.disk_mut() else {
            return true;
        };
        if !disk.is_failing() {
            disk.complete_sync(sync);
            process.handle_synced(clock_ms, sync);
            return true;
        }
        disk.fail_sync(sync);
        process.handle_sync_failed(clock_ms, sync);
        !self.stop_if_asked(i)
    }

    /// Takes node `i` down if it stopped itself (see [`Process::stopped`]);
    /// returns whether it did.
    pub(super) fn stop_if_asked(&mut self, i: usize) -> bool {
        let Some(why) = self.slots[i].node.as_ref().and_then(Process::stopped) else {
            return false;
        };
        let detail = format!("n{} stops: {why}", i + 1);
        self.trace.note(self.now_ms, "stop", &detail);
        self.take_down(i, Unsynced::Prefix, DiskLoss::Nothing);
        self.slots[i].stopped = true;
        true
    }
}

impl<H: Harness> Engine<H> {
    /// Routes what node `i` sent, lets the harness observe it, re-arms its timer.
    fn after_step(&mut self, i: usize) {
        self.start_syncs(i);
        self.fire_triggers(i);
        let state = &mut self.state;
        let nodes = state.slots.len();
        let leads = state.slots[i]
            .node
            .as_ref()
            .is_some_and(|n| n.leading().is_some());
        while let Some(message) = state.slots[i].node.as_mut().and_then(|n| n.poll_transmit()) {
            if leads {
                state.stats.leader_msg(message.label());
            }
            match message.dest() {
                Address::Node(to) if to < nodes => {
                    state.stats.peer_msgs += 1;
                    self.harness.on_send(state.now_ms, i, &message);
                    state.route_to_node(i, to, message);
                }
                Address::Client(_) => {
                    let Some(delay_ms) = state.network.client_link(i) else {
                        state.lose_on_client_link(&message);
                        continue;
                    };
                    let arrive_ms = state.now_ms.saturating_add(delay_ms);
                    state.record_arrow(&message, arrive_ms, false);
                    state.queue.push(arrive_ms, Event::ToClient(message));
                }
                _ => state.drop_message(&message),
            }
        }
        let now_ms = state.now_ms;
        let Some(node) = state.slots[i].node.as_ref() else {
            return;
        };
        self.harness.observe(now_ms, i, node);
        if let (Some(rec), Some(term)) = (state.recording.as_mut(), node.leading()) {
            if state.leader_terms[i] != term {
                state.leader_terms[i] = term;
                rec.marks.push(Mark {
                    lane: i,
                    at_ms: now_ms,
                    text: format!("leader t{term}"),
                });
            }
        }
        let wake_ms = node.poll_timeout().map(|t| state.clocks[i].run_ms(t));
        let slot = &mut state.slots[i];
        if wake_ms != slot.timer_at_ms {
            slot.timer_at_ms = wake_ms;
            slot.timer_generation += 1;
            if let Some(at_ms) = wake_ms {
                let generation = slot.timer_generation;
                state.queue.push(
                    at_ms.max(now_ms),
                    Event::Timer {
                        node: i,
                        generation,
                    },
                );
            }
        }
    }

    fn finish(mut self) -> Finished<H::Outcome> {
        let end_ms = self.state.now_ms;
        for index in 0..self.state.open_spans.len() {
            self.close_span(index);
        }
        let mut recording = self.state.recording.take();
        if let Some(rec) = recording.as_mut() {
            rec.end_ms = end_ms;
        }
        let state = &mut self.state;
        let end = End {
            end_ms,
            nodes: state.slots.iter().map(|s| s.node.as_ref()).collect(),
            stats: &state.stats,
            recording: recording.as_ref(),
        };
        let outcome = self.harness.finish(end);
        let hash = state.trace.finish();
        Finished {
            outcome,
            stats: std::mem::take(&mut state.stats),
            sim_ms: end_ms,
            trace_hash: state.trace.enabled().then_some(hash),
            trace_error: state.trace.write_error.take(),
            recording,
            events: state.events,
            cut_short: state.cut_short,
        }
    }
}
