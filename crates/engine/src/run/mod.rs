//! The run loop: one virtual clock, one event queue, the nodes' slots and
//! the routing of what they send. Everything runs on one thread; nothing
//! reads a real clock.
//!
//! Fault injection lives in `run/inject.rs` (whom a fault hits: `run/targets.rs`); the protocol's side of the run in
//! the [`Harness`].

mod inject;
pub(crate) mod state;
mod targets;

use std::io::Write;

use rand_chacha::ChaCha8Rng;

use crate::clock::Clock;
use crate::diagram::{Mark, Recording};
use crate::disk::DiskLatency;
use crate::faults::{self, Fault};
use crate::guard;
use crate::harness::{Ctx, End, Harness};
use crate::network::Network;
use crate::process::{Address, Message, Process};
use crate::queue::EventQueue;
use crate::trace::Trace;
pub use state::Stats;
use state::{Event, FaultState, Slot, State};

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

/// One run of a harness's nodes.
pub struct Engine<H: Harness> {
    state: State<H::Node, H::Event>,
    harness: H,
}

impl<H: Harness> Engine<H> {
    /// Prepares a run; fails if a fault names a node the run lacks.
    // Longer than 70 lines on purpose: every part of a run's state set up in one place, each from its setting.
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
            in_flight: Default::default(),
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
            faults: FaultState {
                applied: faults.iter().map(|_| None).collect(),
                open_spans: faults.iter().map(|_| None).collect(),
                list: faults,
                labels,
                armed: Vec::new(),
                leader_override: None,
                leader_seen: None,
                rng: setup.fault_rng,
            },
            last_seen: vec![(None, 0); nodes],
            led_term_max: 0,
            leader_history: Vec::new(),
            trace: Trace::new(setup.trace, setup.hash_trace),
            stats: Stats::default(),
            recording,
            leader_terms: vec![0; nodes],
            conditions: Vec::with_capacity(nodes),
        };
        Ok(Engine { state, harness })
    }

    /// Runs every event up to the end time, then lets the harness judge.
    ///
    /// Panics if simulated time stops advancing (more than
    /// [`EVENTS_PER_MS_MAX`] events in one millisecond): a scenario whose
    /// messages and clients all take zero time would otherwise run forever.
    // Longer than 70 lines on purpose: the event loop: one match over event kinds, with the stuck-run guards around it.
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
                } => {
                    let message = self.state.in_flight.take(message);
                    self.deliver_to_node(node, message, incarnation, arrow);
                }
                Event::ToClient(message) => {
                    let message = self.state.in_flight.take(message);
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
                    let fault = &self.state.faults.list[index];
                    if at_ms < fault.until_ms && self.state.faults.applied[index].is_none() {
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
        for (i, fault) in self.state.faults.list.iter().enumerate() {
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

impl<H: Harness> Engine<H> {
    /// Routes what node `i` sent, lets the harness observe it, re-arms its timer.
    fn after_step(&mut self, i: usize) {
        // A process that crashed in its step (a fault at a rename) is taken
        // down before anything it sent leaves.
        if self.state.stop_if_asked(i) {
            return;
        }
        self.state.start_syncs(i);
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
                    let message = state.in_flight.put(message);
                    state.queue.push(arrive_ms, Event::ToClient(message));
                }
                _ => state.drop_message(&message),
            }
        }
        let now_ms = state.now_ms;
        if state.slots[i].node.is_none() {
            return;
        }
        state.refresh_conditions();
        let Some(node) = state.slots[i].node.as_ref() else {
            return;
        };
        self.harness.observe(now_ms, i, node, &state.conditions);
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
        for index in 0..self.state.faults.open_spans.len() {
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
