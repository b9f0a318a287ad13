//! The state of a run that the harness and the engine share: the clock,
//! the event queue, the nodes' slots, the network, the disks, the faults
//! in force, and the counts a run reports. The engine ([`super::Engine`])
//! drives it; a harness sees it through [`crate::harness::Ctx`].

use rand_chacha::ChaCha8Rng;

use crate::clock::Clock;
use crate::diagram::{self, Arrow, Recording};
use crate::disk::{DiskLatency, Unsynced};
use crate::faults::{self, Applied, DiskLoss, Fault};
use crate::network::{Fate, Network};
use crate::process::{Address, Message, Process};
use crate::queue::EventQueue;
use crate::slab::Slab;
use crate::trace::Trace;

/// The run's faults and what each is doing: one place for everything
/// the fault language needs while a run goes on.
pub(crate) struct FaultState {
    /// The scenario's faults, in order; an index names a fault everywhere.
    pub(crate) list: Vec<Fault>,
    /// Per fault: what it did while it is active.
    pub(crate) applied: Vec<Option<Applied>>,
    /// Faults armed and waiting for their trigger, by index.
    pub(crate) armed: Vec<(usize, faults::Trigger)>,
    /// The node `"leader"` names while a triggered fault starts.
    pub(crate) leader_override: Option<usize>,
    /// Who led when `"leader"` was last resolved, and at what time: faults
    /// starting in the same millisecond agree on the leader.
    pub(crate) leader_seen: Option<(u64, Option<usize>)>,
    /// Draws the targets of faults that name a role (`"follower"`).
    pub(crate) rng: ChaCha8Rng,
    /// Per fault: the shading it has open.
    pub(crate) open_spans: Vec<Option<OpenSpan>>,
    /// Per fault: how traces name it (`faults[2]`, or `faults[2]#5` for
    /// the fifth time a repeated fault happens).
    pub(crate) labels: Vec<String>,
}

/// Arrow id of a message that is not being recorded.
const NO_ARROW: u32 = u32::MAX;

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
    pub(crate) fn leader_msg(&mut self, kind: &'static str) {
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

/// What happens at a moment of the run. A message stays in
/// [`State::in_flight`] and the event holds its slot there, which keeps
/// every event small for the queue to move.
pub(crate) enum Event<E> {
    ToNode {
        node: usize,
        message: u32,
        incarnation: u32,
        arrow: u32,
    },
    ToClient(u32),
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
    pub(crate) crashed: Option<N::Durable>,
    /// Bumped by every crash: messages sent to an earlier life are lost.
    pub(crate) incarnation: u32,
    /// Active pause faults holding the node: it runs again at zero.
    pub(crate) paused: u32,
    /// Active crash faults holding the node down: it restarts at zero.
    pub(crate) crashes: u32,
    pub(crate) backlog: Vec<(N::Message, u32)>,
    pub(crate) timer_generation: u64,
    pub(crate) timer_at_ms: Option<u64>,
    /// When the last fsync started on its disk completes: fsyncs on one
    /// disk complete in order.
    pub(crate) sync_done_ms: u64,
    /// fsyncs that ended while the node was paused, to tell it when it
    /// resumes: (fsync, whether it succeeded).
    pub(crate) synced_backlog: Vec<(u64, bool)>,
    /// Extra fsync time from active `slow_fsync` faults.
    pub(crate) fsync_extra_ms: u64,
    /// Why the node refused to start from its disk: it stays down.
    pub(crate) refused: Option<String>,
    /// The node stopped itself on a failed fsync: it starts again when the
    /// fault ends.
    pub(crate) stopped: bool,
}

/// A fault's shading while it lasts.
pub(crate) struct OpenSpan {
    pub(crate) lanes: Vec<usize>,
    pub(crate) from_ms: u64,
    pub(crate) kind: faults::Shading,
    pub(crate) title: String,
}

/// The engine's state: everything but the harness, so that a harness can be
/// handed a [`Ctx`] on it while the engine holds the harness.
pub(crate) struct State<N: Process, E> {
    pub(crate) now_ms: u64,
    pub(crate) end_ms: u64,
    pub(crate) events_max: u64,
    pub(crate) events: u64,
    pub(crate) cut_short: bool,
    pub(crate) progress: Option<Box<dyn FnMut(u64) + Send>>,
    pub(crate) queue: EventQueue<Event<E>>,
    /// The messages the queue's events name.
    pub(crate) in_flight: Slab<N::Message>,
    pub(crate) slots: Vec<Slot<N>>,
    /// Per node: its clock.
    pub(crate) clocks: Vec<Clock>,
    /// Per node: its disk's latency.
    pub(crate) disks: Vec<DiskLatency>,
    pub(crate) disk_rng: ChaCha8Rng,
    pub(crate) network: Network,
    pub(crate) faults: FaultState,
    /// Per node: what it led and how long its log was after its last step
    /// (to see a leader append).
    pub(crate) last_seen: Vec<(Option<u64>, u64)>,
    /// The newest term any node has led (to notice a new leader).
    pub(crate) led_term_max: u64,
    /// Every node that became leader of a newer term, in order.
    pub(crate) leader_history: Vec<usize>,
    pub(crate) trace: Trace,
    pub(crate) stats: Stats,
    pub(crate) recording: Option<Recording>,
    /// Per node: the term of its last leadership mark.
    pub(crate) leader_terms: Vec<u64>,
    /// Per node: what the faults make of it, refreshed before each
    /// [`crate::Harness::observe`] (kept to reuse its memory).
    pub(crate) conditions: Vec<crate::condition::Condition>,
}

impl<N: Process, E> State<N, E> {
    /// Refreshes `conditions` from the slots and the network.
    pub(crate) fn refresh_conditions(&mut self) {
        use crate::condition::Condition;
        self.conditions.clear();
        for (i, slot) in self.slots.iter().enumerate() {
            let condition = if slot.node.is_none() {
                Condition::Down
            } else if slot.paused > 0 {
                Condition::Paused
            } else if self.network.cut_off(i) {
                Condition::CutOff
            } else if self.network.slowed(i) {
                Condition::Slowed
            } else {
                Condition::Up
            };
            self.conditions.push(condition);
        }
    }

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
            message: self.in_flight.put(message),
            incarnation,
            arrow,
        };
        self.queue.push(arrive_ms, event);
    }

    /// Records a message for the diagram; returns its arrow id.
    pub(crate) fn record_arrow(
        &mut self,
        message: &N::Message,
        arrive_ms: u64,
        dropped: bool,
    ) -> u32 {
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

    pub(crate) fn arrow_arrived(&mut self, arrow: u32, dropped: bool) {
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
    pub(crate) fn lose_on_client_link(&mut self, message: &N::Message) {
        self.drop_message(message);
        let shown_ms = self.network.params().delay_ms_max.max(2);
        self.record_arrow(message, self.now_ms.saturating_add(shown_ms), true);
    }

    pub(crate) fn drop_message(&mut self, message: &N::Message) {
        self.stats.dropped += 1;
        self.trace.message(self.now_ms, "drop", message);
    }

    /// Sends what node `from` sent to node `to` through the network.
    pub(crate) fn route_to_node(&mut self, from: usize, to: usize, message: N::Message) {
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
                        message: self.in_flight.put(copy),
                        incarnation,
                        arrow,
                    };
                    self.queue.push(arrive_ms, event);
                }
                let arrive_ms = now_ms.saturating_add(delays_ms[0]);
                let arrow = self.record_arrow(&message, arrive_ms, false);
                let event = Event::ToNode {
                    node: to,
                    message: self.in_flight.put(message),
                    incarnation,
                    arrow,
                };
                self.queue.push(arrive_ms, event);
            }
        }
    }

    /// The live node that leads the highest term, if any.
    pub(crate) fn current_leader(&self) -> Option<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i, s.node.as_ref()?.leading()?)))
            .max_by_key(|&(i, term)| (term, std::cmp::Reverse(i)))
            .map(|(i, _)| i)
    }
}

impl<N: Process, E> State<N, E> {
    /// Starts the fsyncs node `i`'s last step asked for. One with no
    /// latency completes now, within the step, as long as no earlier fsync
    /// of that disk is still running; the others complete later, in order.
    pub(super) fn start_syncs(&mut self, i: usize) {
        let state = self;
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

    /// Ends fsync `sync` of node `i`: it completes, or fails while an
    /// `fsync_error` fault holds the disk, and the node is told. Returns
    /// whether the node is still up (it may stop itself on a failure).
    pub(crate) fn finish_sync(&mut self, i: usize, sync: u64, clock_ms: u64) -> bool {
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
