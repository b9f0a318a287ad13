//! The run against real processes, in real time: one thread routes every
//! line the nodes write through the simulator's network model (the same
//! delays, loss, duplication and cuts, drawn from the seed), drives the
//! client sessions, starts and heals the faults on schedule, and shows
//! every reply to the checkers as it arrives. Reader and writer threads
//! per process (see `process.rs`) only move lines.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use sim_engine::faults::{Applied, Fault};
use sim_engine::network::Network;
use sim_engine::seeds::SeedStreams;

use super::clock;
use super::leader_guess::LeaderGuess;
use super::process::{Incoming, Launch, NodeProcess};
use super::reply;
use super::report::Report;
use crate::checkers::{self, Property, Violation};
use crate::clients::Clients;
use crate::history::History;
use crate::scenario::Scenario;
use crate::workload::Session;

/// How long a node has to answer `init` before the run gives up on it.
const INIT_WAIT_MS_MAX: u64 = 10_000;

/// What the run needs besides the scenario.
pub struct Setup {
    /// The command line that starts one node.
    pub bin: String,
    pub seed: u64,
    /// Per-node data directories live under it (`DIR/n1`, ...).
    pub data_dir: Option<PathBuf>,
    /// Where the nodes' stderr logs go.
    pub log_dir: PathBuf,
    pub history: bool,
}

/// A timed event of the run.
pub(super) enum Due {
    /// A line reaches a node's stdin.
    ToNode {
        node: usize,
        line: String,
    },
    /// A node's reply reaches its client.
    ToClient {
        from: usize,
        envelope: reply::Envelope,
    },
    ClientNext {
        session: usize,
    },
    ClientTimeout {
        session: usize,
        msg_id: u64,
    },
    FaultStart {
        fault: usize,
    },
    FaultHeal {
        fault: usize,
    },
}

pub(super) struct Node {
    pub(super) process: Option<NodeProcess>,
    pub(super) life: u64,
    /// Pauses in force on it (overlapping faults compose).
    pub(super) pauses: u32,
    /// Why it is down for good, if it died by itself.
    pub(super) died: bool,
}

pub struct Runner {
    pub(super) scenario: Scenario,
    pub(super) setup: Setup,
    pub(super) nodes: Vec<Node>,
    pub(super) network: Network,
    pub(super) fault_rng: ChaCha8Rng,
    pub(super) clients: Clients,
    pub(super) queue: BTreeMap<(Instant, u64), Due>,
    pub(super) queue_seq: u64,
    pub(super) incoming: Receiver<Incoming>,
    pub(super) incoming_tx: Sender<Incoming>,
    /// When the workload's clock started (every node answered `init`).
    t0: Instant,
    pub(super) faults: Vec<(String, Fault)>,
    pub(super) applied: Vec<Option<Applied>>,
    pub(super) leader: LeaderGuess,
    pub(super) report: Report,
    /// Per session, the highest `msg_id` it has sent.
    pub(super) sent_max: Vec<u64>,
    /// Per protocol or follower-read complaint: how often, and the first.
    pub(super) complaints: BTreeMap<String, (u64, Violation)>,
    /// Where the history goes if the runner panics (see the `Drop` below).
    pub history_on_panic: Arc<Mutex<Option<History>>>,
}

impl Runner {
    pub fn new(scenario: Scenario, setup: Setup) -> Runner {
        let mut seeds = SeedStreams::new(setup.seed);
        let network = Network::new(
            scenario.network.clone(),
            scenario.nodes,
            seeds.stream("network"),
        );
        let mut workload_rng = seeds.stream("clients");
        let sessions: Vec<Session> = (0..scenario.workload.sessions)
            .map(|i| Session::new(i, scenario.nodes, &mut workload_rng))
            .collect();
        let checkers: Vec<Box<dyn checkers::Checker>> = vec![
            Box::new(checkers::ryw::SessionGuarantees::new(
                scenario.workload.monotonic,
            )),
            Box::new(checkers::protocol::ReplyKinds::default()),
            Box::new(checkers::liveness::Liveness::for_scenario(&scenario)),
            Box::new(checkers::linearizability::History::default()),
        ];
        let session_count = sessions.len();
        let mut clients = Clients::new(
            scenario.workload.clone(),
            scenario.nodes,
            scenario.end_ms(),
            sessions,
            workload_rng,
            checkers,
        )
        .judging_a_black_box();
        if setup.history {
            clients.history = Some(History::default());
        }
        let faults: Vec<(String, Fault)> = scenario
            .faults
            .iter()
            .enumerate()
            .flat_map(|(i, f)| f.occurrences(i))
            .collect();
        let (incoming_tx, incoming) = mpsc::channel();
        let nodes = (0..scenario.nodes)
            .map(|_| Node {
                process: None,
                life: 0,
                pauses: 0,
                died: false,
            })
            .collect();
        Runner {
            report: Report::new(&scenario, setup.seed, &setup.bin),
            applied: vec![None; faults.len()],
            faults,
            fault_rng: seeds.stream("fault targets"),
            network,
            clients,
            nodes,
            queue: BTreeMap::new(),
            queue_seq: 0,
            incoming,
            incoming_tx,
            t0: clock::now(),
            leader: LeaderGuess::default(),
            sent_max: vec![0; session_count],
            complaints: BTreeMap::new(),
            history_on_panic: Arc::new(Mutex::new(None)),
            scenario,
            setup,
        }
    }

    /// Milliseconds since the workload's clock started.
    pub(super) fn now_ms(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }

    pub(super) fn at(&self, run_ms: u64) -> Instant {
        self.t0 + Duration::from_millis(run_ms)
    }

    pub(super) fn schedule(&mut self, at: Instant, due: Due) {
        self.queue_seq += 1;
        self.queue.insert((at, self.queue_seq), due);
    }

    /// Runs to the scenario's end and reports.
    pub fn run(mut self) -> Report {
        let started = clock::now();
        if let Err(why) = self.boot_all() {
            self.shut_down();
            self.report.violations.push(why);
            self.report_complaints();
            return std::mem::take(&mut self.report);
        }
        self.t0 = clock::now();
        for session in 0..self.clients.sessions.len() {
            let think_ms = self.clients.think_ms();
            let at = self.at(think_ms);
            self.schedule(at, Due::ClientNext { session });
        }
        for fault in 0..self.faults.len() {
            let (at_ms, until_ms) = (self.faults[fault].1.at_ms, self.faults[fault].1.until_ms);
            self.schedule(self.at(at_ms), Due::FaultStart { fault });
            if until_ms != sim_engine::faults::NEVER {
                self.schedule(self.at(until_ms), Due::FaultHeal { fault });
            }
        }
        let end = self.at(self.scenario.end_ms());
        self.run_until(end);
        let end_ms = self.now_ms();
        self.clients
            .end_in_flight(end_ms, "still in flight when the run ended");
        self.shut_down();
        self.finish(end_ms, started)
    }

    /// Starts every node and sends each its `init`; waits until all
    /// answer, routing whatever they say meanwhile.
    fn boot_all(&mut self) -> Result<(), Violation> {
        for node in 0..self.nodes.len() {
            self.start(node).map_err(|why| {
                Violation::new(Property::Protocol, 0, None, format!("n{}: {why}", node + 1))
            })?;
        }
        let deadline = clock::now() + Duration::from_millis(INIT_WAIT_MS_MAX);
        self.run_until_initialised(deadline);
        let silent: Vec<String> = (0..self.nodes.len())
            .filter(|&n| !self.report.initialised[n])
            .map(|n| format!("n{}", n + 1))
            .collect();
        if silent.is_empty() {
            return Ok(());
        }
        if self.nodes.iter().any(|n| n.died) {
            return Err(self
                .report
                .violations
                .pop()
                .expect("the death was reported"));
        }
        let first_silent = (0..self.nodes.len()).find(|&n| !self.report.initialised[n]);
        let tail = first_silent
            .and_then(|n| self.nodes[n].process.as_ref())
            .map(|p| p.stderr_tail(5))
            .unwrap_or_default();
        Err(Violation::new(
            Property::Protocol,
            0,
            None,
            format!(
                "{} did not answer init with init_ok within {} ms; the first one's stderr ends:\n{tail}",
                silent.join(", "),
                INIT_WAIT_MS_MAX
            ),
        ))
    }

    /// Starts node `node` (again) and sends it `init`.
    pub(super) fn start(&mut self, node: usize) -> Result<(), String> {
        let data_dir = self.node_dir(node);
        let ids: Vec<String> = (1..=self.nodes.len())
            .map(|k| format!("\"n{k}\""))
            .collect();
        let slot = &mut self.nodes[node];
        slot.life += 1;
        let log = self.setup.log_dir.join(format!("n{}.stderr.log", node + 1));
        let launch = Launch {
            command: &self.setup.bin,
            node,
            life: slot.life,
            stderr_log: &log,
            data_dir: data_dir.as_deref(),
        };
        let process = NodeProcess::start(&launch, &self.incoming_tx)?;
        process.send(format!(
            r#"{{"src": "c0", "dest": "n{}", "body": {{"type": "init", "msg_id": {}, "node_id": "n{}", "node_ids": [{}]}}}}"#,
            node + 1,
            slot.life,
            node + 1,
            ids.join(", ")
        ));
        slot.process = Some(process);
        self.report.stderr_logs.insert(node, log);
        Ok(())
    }

    pub(super) fn node_dir(&self, node: usize) -> Option<PathBuf> {
        let dir = self.setup.data_dir.as_ref()?;
        Some(dir.join(format!("n{}", node + 1)))
    }

    /// Until every node answered `init`, one died, or `deadline`.
    fn run_until_initialised(&mut self, deadline: Instant) {
        let waiting = |r: &Runner| {
            !r.report.initialised.iter().all(|&i| i) && !r.nodes.iter().any(|n| n.died)
        };
        while waiting(self) && clock::now() < deadline {
            self.step(deadline);
        }
    }

    fn run_until(&mut self, end: Instant) {
        while clock::now() < end {
            self.step(end);
        }
    }

    /// Waits for the next line from a node or the next timed event
    /// (whichever comes first, but not past `limit`), and handles it.
    fn step(&mut self, limit: Instant) {
        let next = self
            .queue
            .keys()
            .next()
            .map_or(limit, |&(at, _)| at.min(limit));
        let wait = next.saturating_duration_since(clock::now());
        match self.incoming.recv_timeout(wait) {
            Ok(incoming) => self.on_incoming(incoming),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => unreachable!("the runner holds a sender"),
        }
        let now = clock::now();
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let due = entry.remove();
            self.on_due(due);
        }
    }

    fn on_incoming(&mut self, incoming: Incoming) {
        match incoming {
            Incoming::Line { node, line, at, .. } => self.route(node, &line, at),
            Incoming::Closed { node, life, .. } => self.closed(node, life),
        }
    }

    fn on_due(&mut self, due: Due) {
        match due {
            Due::ToNode { node, line } => match &self.nodes[node].process {
                Some(process) => {
                    process.send(line);
                    self.report.delivered += 1;
                }
                None => self.report.dropped += 1, // down: lost, as in a crash
            },
            Due::ToClient { from, envelope } => self.reaches_client(from, envelope),
            Due::ClientNext { session } => self.client_next(session),
            Due::ClientTimeout { session, msg_id } => {
                if self.clients.give_up(self.now_ms(), session, msg_id) {
                    self.think(session);
                }
            }
            Due::FaultStart { fault } => self.fault_start(fault),
            Due::FaultHeal { fault } => self.fault_heal(fault),
        }
    }

    /// Every process is killed (Maelstrom's way to end a test).
    fn shut_down(&mut self) {
        for node in &mut self.nodes {
            if let Some(process) = node.process.take() {
                process.kill();
            }
        }
    }
}

/// A runner that panics (its own bug) still kills every process it
/// started, and leaves the history up to the panic where the caller can
/// write it.
impl Drop for Runner {
    fn drop(&mut self) {
        self.shut_down();
        if !std::thread::panicking() {
            return;
        }
        if let Some(history) = self.clients.history_so_far("the runner panicked") {
            let mut slot = self
                .history_on_panic
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            *slot = Some(history);
        }
    }
}
