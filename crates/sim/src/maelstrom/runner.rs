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
use ryw_core::{ClientOp, Id, OpResult, Served};
use sim_engine::faults::{self, Applied, DiskLoss, Fault};
use sim_engine::network::{Fate, Network};
use sim_engine::seeds::SeedStreams;

use super::nemesis::LeaderGuess;
use super::process::{Incoming, Launch, NodeProcess};
use super::reply;
use super::report::{FollowerReadStats, Report};
use crate::checkers::{self, Finish, Property, Verdict, Violation};
use crate::clients::Clients;
use crate::history::History;
use crate::report::Summary;
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
enum Due {
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

struct Node {
    process: Option<NodeProcess>,
    life: u64,
    /// Pauses in force on it (overlapping faults compose).
    pauses: u32,
    /// Why it is down for good, if it died by itself.
    died: bool,
}

pub struct Runner {
    scenario: Scenario,
    setup: Setup,
    nodes: Vec<Node>,
    network: Network,
    fault_rng: ChaCha8Rng,
    clients: Clients,
    queue: BTreeMap<(Instant, u64), Due>,
    queue_seq: u64,
    incoming: Receiver<Incoming>,
    incoming_tx: Sender<Incoming>,
    /// When the workload's clock started (every node answered `init`).
    t0: Instant,
    faults: Vec<(String, Fault)>,
    applied: Vec<Option<Applied>>,
    leader: LeaderGuess,
    report: Report,
    /// Per session, the highest `msg_id` it has sent.
    sent_max: Vec<u64>,
    /// Per protocol or follower-read complaint: how often, and the first.
    complaints: BTreeMap<String, (u64, Violation)>,
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
            report: Report::new(&scenario, &setup),
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
            t0: Instant::now(),
            leader: LeaderGuess::default(),
            sent_max: vec![0; session_count],
            complaints: BTreeMap::new(),
            history_on_panic: Arc::new(Mutex::new(None)),
            scenario,
            setup,
        }
    }

    /// Milliseconds since the workload's clock started.
    fn now_ms(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }

    fn at(&self, run_ms: u64) -> Instant {
        self.t0 + Duration::from_millis(run_ms)
    }

    fn schedule(&mut self, at: Instant, due: Due) {
        self.queue_seq += 1;
        self.queue.insert((at, self.queue_seq), due);
    }

    /// Runs to the scenario's end and reports.
    pub fn run(mut self) -> Report {
        let started = Instant::now();
        if let Err(why) = self.boot_all() {
            self.shut_down();
            self.report.violations.push(why);
            self.report_complaints();
            return std::mem::take(&mut self.report);
        }
        self.t0 = Instant::now();
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
        let deadline = Instant::now() + Duration::from_millis(INIT_WAIT_MS_MAX);
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
    fn start(&mut self, node: usize) -> Result<(), String> {
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

    fn node_dir(&self, node: usize) -> Option<PathBuf> {
        let dir = self.setup.data_dir.as_ref()?;
        Some(dir.join(format!("n{}", node + 1)))
    }

    /// Until every node answered `init`, one died, or `deadline`.
    fn run_until_initialised(&mut self, deadline: Instant) {
        let waiting = |r: &Runner| {
            !r.report.initialised.iter().all(|&i| i) && !r.nodes.iter().any(|n| n.died)
        };
        while waiting(self) && Instant::now() < deadline {
            self.step(deadline);
        }
    }

    fn run_until(&mut self, end: Instant) {
        while Instant::now() < end {
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
        let wait = next.saturating_duration_since(Instant::now());
        match self.incoming.recv_timeout(wait) {
            Ok(incoming) => self.on_incoming(incoming),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => unreachable!("the runner holds a sender"),
        }
        let now = Instant::now();
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

    /// A node's stdout closed. Expected after a crash the run caused;
    /// otherwise the process died by itself, and that is a finding.
    fn closed(&mut self, node: usize, life: u64) {
        let slot = &mut self.nodes[node];
        if slot.life != life || slot.process.is_none() {
            return;
        }
        let mut process = slot.process.take().expect("checked");
        std::thread::sleep(Duration::from_millis(20)); // let it finish exiting
        let status = process.exited().unwrap_or_else(|| "still running".into());
        let tail = process.stderr_tail(5);
        process.kill();
        slot.died = true;
        let at_ms = self.now_ms();
        let detail = format!(
            "n{} closed its stdout by itself ({status}); it stays down. Its stderr ends:\n{tail}",
            node + 1
        );
        self.report
            .violations
            .push(Violation::new(Property::Protocol, at_ms, None, detail));
    }

    /// One line node `node` wrote: where it goes, through the network.
    fn route(&mut self, node: usize, line: &str, at: Instant) {
        let name = format!("n{}", node + 1);
        let envelope = match reply::envelope(line) {
            Ok(envelope) => envelope,
            Err(why) => {
                return self.complain(Property::Protocol, None, format!("{name} wrote {why}"))
            }
        };
        if envelope.src != name {
            let why = format!("{name} wrote a message with src {:?}", envelope.src);
            return self.complain(Property::Protocol, None, why);
        }
        match Id::parse(&envelope.dest) {
            Id::Node(k) if (1..=self.nodes.len() as u32).contains(&k) => {
                let to = k as usize - 1;
                self.report.peer_msgs += 1;
                match self.network.node_to_node(node, to) {
                    Fate::Blocked | Fate::Lost => self.report.dropped += 1,
                    Fate::Delivered { delays_ms, copies } => {
                        self.report.duplicated += (copies - 1) as u64;
                        for delay_ms in &delays_ms[..copies] {
                            let due = Due::ToNode {
                                node: to,
                                line: line.to_owned(),
                            };
                            self.schedule(at + Duration::from_millis(*delay_ms), due);
                        }
                    }
                }
            }
            Id::Client(0) => self.init_reply(node, &envelope),
            Id::Client(_)
                if self
                    .clients
                    .session_of(&Id::parse(&envelope.dest))
                    .is_some() =>
            {
                match self.network.client_link(node) {
                    None => self.report.dropped += 1,
                    Some(delay_ms) => {
                        let due = Due::ToClient {
                            from: node,
                            envelope,
                        };
                        self.schedule(at + Duration::from_millis(delay_ms), due);
                    }
                }
            }
            _ => {
                let why = format!(
                    "{name} sent a {} to {:?}, which is neither a node nor a client of this run (a reply to nobody)",
                    envelope.kind(),
                    envelope.dest
                );
                self.complain(Property::Protocol, None, why);
            }
        }
    }

    fn init_reply(&mut self, node: usize, envelope: &reply::Envelope) {
        let life = self.nodes[node].life;
        if envelope.kind() == "init_ok" && envelope.in_reply_to() == Some(life) {
            self.report.initialised[node] = true;
        } else {
            let why = format!(
                "n{} answered init (msg_id {life}) with a {} in reply to {:?}",
                node + 1,
                envelope.kind(),
                envelope.in_reply_to()
            );
            self.complain(Property::Protocol, None, why);
        }
    }

    /// Moves the complaints into the report, each with its count.
    fn report_complaints(&mut self) {
        for (_, (count, mut violation)) in std::mem::take(&mut self.complaints) {
            if count > 1 {
                violation.detail.push_str(&format!(" ({count} times)"));
            }
            self.report.violations.push(violation);
        }
    }

    /// Records a complaint once per distinct text, counting repeats.
    fn complain(&mut self, property: Property, session: Option<String>, detail: String) {
        let at_ms = self.now_ms();
        self.complaints
            .entry(format!("{property}: {detail}"))
            .or_insert_with(|| (0, Violation::new(property, at_ms, session, detail)))
            .0 += 1;
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

    fn think(&mut self, session: usize) {
        let at = Instant::now() + Duration::from_millis(self.clients.think_ms());
        self.schedule(at, Due::ClientNext { session });
    }

    fn client_next(&mut self, session: usize) {
        let now_ms = self.now_ms();
        let Some((node, envelope)) = self.clients.next(now_ms, session) else {
            return;
        };
        let msg_id = envelope.body.msg_id.unwrap_or_default();
        self.sent_max[session] = msg_id;
        let line = ryw_core::codec::encode(&envelope);
        let timeout = Instant::now() + Duration::from_millis(self.clients.timeout_ms());
        self.schedule(timeout, Due::ClientTimeout { session, msg_id });
        match self.network.client_link(node) {
            Some(delay_ms) => {
                let at = Instant::now() + Duration::from_millis(delay_ms);
                self.schedule(at, Due::ToNode { node, line });
            }
            None => self.report.dropped += 1,
        }
    }

    /// A reply reaches its client: the protocol and follower-read checks
    /// here, then the checkers and the session (see [`Clients`]).
    fn reaches_client(&mut self, from: usize, envelope: reply::Envelope) {
        let now_ms = self.now_ms();
        let to = Id::parse(&envelope.dest);
        let session = self.clients.session_of(&to).expect("routed to a session");
        let client = Some(envelope.dest.clone());
        let Some(in_reply_to) = envelope.in_reply_to() else {
            let why = format!(
                "n{} sent {} a {} without in_reply_to",
                from + 1,
                envelope.dest,
                envelope.kind()
            );
            return self.complain(Property::Protocol, client, why);
        };
        if in_reply_to == 0 || in_reply_to > self.sent_max[session] {
            let why = format!(
                "n{} sent {} a {} in reply to msg_id {in_reply_to}, which that client never sent (a wrong in_reply_to)",
                from + 1,
                envelope.dest,
                envelope.kind()
            );
            return self.complain(Property::Protocol, client, why);
        }
        let (result, missing) = match reply::result(&envelope.body) {
            Ok(read) => read,
            Err(why) => {
                let why = format!("n{} answered {}: {why}", from + 1, envelope.dest);
                self.complain(Property::Protocol, client, why);
                // The client cannot tell what happened: it gives up on it.
                if self.clients.give_up(now_ms, session, in_reply_to) {
                    self.think(session);
                }
                return;
            }
        };
        let outstanding = self.clients.sessions[session].outstanding.clone();
        if let Some(request) = outstanding.filter(|o| o.msg_id == in_reply_to) {
            for note in missing {
                self.complain(Property::FollowerReads, client.clone(), note);
            }
            self.check_follower_read(&envelope, &request.op, request.node, &result);
        }
        let body = serde_json::Value::Object(without_ids(&envelope.body));
        if self
            .clients
            .on_reply(now_ms, &to, Some(in_reply_to), result, body)
        {
            self.think(session);
        }
    }

    /// The task's own rules for a `ryw_read` reply, and the tally of where
    /// reads that asked for a follower were served.
    fn check_follower_read(
        &mut self,
        envelope: &reply::Envelope,
        op: &ClientOp,
        asked: usize,
        result: &OpResult,
    ) {
        let (
            ClientOp::RywRead {
                last_write_index,
                prefer_follower,
                ..
            },
            OpResult::RywReadOk { served_by, how, .. },
        ) = (op, result)
        else {
            return;
        };
        let client = Some(envelope.dest.clone());
        let asked_name = format!("n{}", asked + 1);
        let served_here = served_by.to_string() == asked_name;
        if let (Served::Redirected { .. }, Id::Node(k)) = (how, served_by) {
            if (1..=self.nodes.len() as u32).contains(k) {
                self.leader.served_by_leader(*k as usize - 1);
            }
        }
        if *prefer_follower {
            let stats: &mut FollowerReadStats = &mut self.report.follower_reads;
            stats.asked += 1;
            if served_here {
                stats.served_where_asked += 1;
                stats.served_by.insert(asked);
            }
        }
        match how {
            Served::Locally { .. } if !served_here => {
                let why = format!(
                    "a ryw_read sent to {asked_name} was served by {served_by} with no 'reason' saying why"
                );
                self.complain(Property::FollowerReads, client, why);
            }
            Served::Locally { .. } => {
                match envelope
                    .body
                    .get("follower_applied_index")
                    .and_then(|v| v.as_u64())
                {
                    None => {
                        let why = format!(
                            "{asked_name} served a ryw_read itself without 'follower_applied_index'"
                        );
                        self.complain(Property::FollowerReads, client, why);
                    }
                    Some(applied) if applied < *last_write_index => {
                        let at_ms = self.now_ms();
                        let why = format!(
                            "{asked_name} served a ryw_read with last_write_index {last_write_index} at follower_applied_index {applied}: it had not applied the session's write"
                        );
                        self.report.violations.push(Violation::new(
                            Property::FollowerReads,
                            at_ms,
                            client,
                            why,
                        ));
                    }
                    Some(_) => {}
                }
            }
            Served::Redirected { .. } => {}
        }
    }

    fn up(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&n| self.nodes[n].process.is_some())
            .collect()
    }

    fn fault_start(&mut self, fault: usize) {
        let (label, kind) = (
            self.faults[fault].0.clone(),
            self.faults[fault].1.kind.clone(),
        );
        let (nodes, up) = (self.nodes.len(), self.up());
        let mut notes = Vec::new();
        let (leader, rng) = (&self.leader, &mut self.fault_rng);
        let applied = faults::plan(&kind, nodes, |name| {
            let (resolved, note) = leader.resolve(name, nodes, &up, rng);
            notes.extend(note);
            resolved
        });
        faults::switch_network(&applied, &mut self.network, true);
        match &applied {
            Applied::Pause(paused) => {
                for &node in paused {
                    self.nodes[node].pauses += 1;
                    if let Some(process) = &self.nodes[node].process {
                        if let Err(why) = process.pause() {
                            notes.push(format!("n{}: {why}", node + 1));
                        }
                    }
                }
            }
            Applied::Crash(crashed, _, loss) => {
                for &node in crashed {
                    if let Some(process) = self.nodes[node].process.take() {
                        process.kill();
                    }
                    if *loss == DiskLoss::Wipe {
                        if let Some(dir) = self.node_dir(node) {
                            let _ = std::fs::remove_dir_all(dir);
                        }
                    }
                }
            }
            _ => {}
        }
        let what = faults::describe(&kind, &applied);
        let mut line = format!("{} ms: {label} starts: {what}", self.now_ms());
        if !notes.is_empty() {
            line.push_str(&format!(" ({})", notes.join("; ")));
        }
        self.report.faults.push(line);
        self.applied[fault] = Some(applied);
    }

    fn fault_heal(&mut self, fault: usize) {
        let Some(applied) = self.applied[fault].take() else {
            return;
        };
        faults::switch_network(&applied, &mut self.network, false);
        let mut notes = Vec::new();
        match &applied {
            Applied::Pause(paused) => {
                for &node in paused {
                    let slot = &mut self.nodes[node];
                    slot.pauses = slot.pauses.saturating_sub(1);
                    if let (0, Some(process)) = (slot.pauses, &slot.process) {
                        if let Err(why) = process.resume() {
                            notes.push(format!("n{}: {why}", node + 1));
                        }
                    }
                }
            }
            Applied::Crash(crashed, _, _) => {
                for &node in crashed {
                    if self.nodes[node].process.is_none() && !self.nodes[node].died {
                        if let Err(why) = self.start(node) {
                            notes.push(format!("n{} did not restart: {why}", node + 1));
                        }
                    }
                }
            }
            _ => {}
        }
        let mut line = format!("{} ms: {} heals", self.now_ms(), self.faults[fault].0);
        if !notes.is_empty() {
            line.push_str(&format!(" ({})", notes.join("; ")));
        }
        self.report.faults.push(line);
    }

    /// Every process is killed (Maelstrom's way to end a test).
    fn shut_down(&mut self) {
        for node in &mut self.nodes {
            if let Some(process) = node.process.take() {
                process.kill();
            }
        }
    }

    fn finish(&mut self, end_ms: u64, started: Instant) -> Report {
        let summary = Summary {
            scenario: self.scenario.name.clone(),
            seed: self.setup.seed,
            ops: self.clients.ops(),
            ..Summary::default()
        };
        let finish = Finish {
            end_ms,
            summary: &summary,
            oracle: &self.clients.oracle,
        };
        let mut verdict = Verdict::default();
        for checker in &mut self.clients.checkers {
            checker.finish(&finish, &mut verdict);
        }
        let report = &mut self.report;
        report.violations.extend(verdict.violations);
        self.report_complaints();
        let report = &mut self.report;
        if let Some(violation) = report.follower_reads.verdict(self.nodes.len(), end_ms) {
            report.violations.push(violation);
        }
        report.violations.sort_by_key(|v| v.at_ms);
        report.undecided_keys = verdict.undecided_keys;
        report.ops = summary.ops;
        report.reads_served = self.clients.reads_served;
        report.run_ms = end_ms;
        report.wall_ms = started.elapsed().as_millis() as u64;
        report.history = self.clients.history.take();
        std::mem::take(&mut self.report)
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

/// A reply's body without its message ids, for the history.
fn without_ids(
    body: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut body = body.clone();
    body.remove("msg_id");
    body.remove("in_reply_to");
    body
}
