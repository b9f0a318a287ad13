//! A second protocol under the engine: a primary-backup register, small
//! enough to read in one sitting. It shows what testing your own protocol
//! takes: messages that implement [`Message`], a node that implements
//! [`Process`], and a [`Harness`] that drives a client and checks a property.
//!
//! The protocol: node n1 is the primary. A client sends `put` to it; the
//! primary numbers the value, sends `replicate` to every backup (again every
//! `RESEND_MS` until acknowledged) and answers `put_ok` once every backup
//! has acknowledged. Backups apply values in sequence order, holding early
//! ones back, and acknowledge what they applied. A crash keeps the applied
//! log (the durable state); the primary's table of unacknowledged puts is
//! lost with it, and the client times out.
//!
//! The property (checked the moment each `put_ok` reaches the client): an
//! acknowledged value is held, at its sequence number, by every backup.
//!
//! The planted bug, [`Flavour::AckOnSend`]: the primary answers `put_ok` as
//! soon as it has sent `replicate`, without waiting for the backups.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sim_engine::faults::{Fault, FaultKind};
use sim_engine::network::{Network, NetworkParams};
use sim_engine::seeds::SeedStreams;
use sim_engine::{Address, Condition, Ctx, End, Engine, Harness, Message, Process, Setup};

/// The primary resends `replicate` this often until every backup acknowledged.
const RESEND_MS: u64 = 30;
/// The client gives up on a `put` after this long and sends the next one.
const CLIENT_TIMEOUT_MS: u64 = 200;
/// The client waits up to this long between puts.
const THINK_MS_MAX: u64 = 10;

#[derive(Clone, Debug)]
pub enum Body {
    Put { id: u64, value: u64 },
    PutOk { id: u64, seq: u64 },
    Replicate { seq: u64, value: u64 },
    Ack { seq: u64 },
}

#[derive(Clone, Debug)]
pub struct Msg {
    pub src: Address,
    pub dest: Address,
    pub body: Body,
}

fn name(address: Address) -> String {
    match address {
        Address::Node(i) => format!("n{}", i + 1),
        Address::Client(i) => format!("c{}", i + 1),
        Address::Elsewhere => "?".to_owned(),
    }
}

impl Message for Msg {
    fn src(&self) -> Address {
        self.src
    }

    fn dest(&self) -> Address {
        self.dest
    }

    fn label(&self) -> &'static str {
        match self.body {
            Body::Put { .. } => "put",
            Body::PutOk { .. } => "put_ok",
            Body::Replicate { .. } => "replicate",
            Body::Ack { .. } => "ack",
        }
    }

    fn write_json(&self, out: &mut String) {
        let (src, dest, label) = (name(self.src), name(self.dest), self.label());
        let _ = write!(
            out,
            r#"{{"src": "{src}", "dest": "{dest}", "type": "{label}""#
        );
        let _ = match self.body {
            Body::Put { id, value } => write!(out, r#", "id": {id}, "value": {value}}}"#),
            Body::PutOk { id, seq } => write!(out, r#", "id": {id}, "seq": {seq}}}"#),
            Body::Replicate { seq, value } => write!(out, r#", "seq": {seq}, "value": {value}}}"#),
            Body::Ack { seq } => write!(out, r#", "seq": {seq}}}"#),
        };
    }
}

/// The correct protocol, or the planted bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    Correct,
    AckOnSend,
}

/// A put the primary has not finished.
struct Pending {
    client: Address,
    id: u64,
    acked_by: BTreeSet<usize>,
    answered: bool,
}

pub struct Replica {
    me: usize,
    nodes: usize,
    flavour: Flavour,
    /// Values by sequence number (entry 0 is sequence 1): the primary's
    /// log, or what a backup applied. This is what a crash keeps.
    log: Vec<u64>,
    /// Primary: puts not yet acknowledged by every backup, by sequence.
    pending: BTreeMap<u64, Pending>,
    /// Backup: values that arrived ahead of a gap.
    early: BTreeMap<u64, u64>,
    outbox: VecDeque<Msg>,
    resend_at_ms: Option<u64>,
}

impl Replica {
    pub fn new(me: usize, nodes: usize, flavour: Flavour, log: Vec<u64>) -> Replica {
        Replica {
            me,
            nodes,
            flavour,
            log,
            pending: BTreeMap::new(),
            early: BTreeMap::new(),
            outbox: VecDeque::new(),
            resend_at_ms: None,
        }
    }

    /// What this node holds, by sequence number.
    pub fn log(&self) -> &[u64] {
        &self.log
    }

    fn send(&mut self, dest: Address, body: Body) {
        self.outbox.push_back(Msg {
            src: Address::Node(self.me),
            dest,
            body,
        });
    }

    fn replicate(&mut self, seq: u64) {
        let value = self.log[seq as usize - 1];
        let waiting: Vec<usize> = (1..self.nodes)
            .filter(|b| !self.pending[&seq].acked_by.contains(b))
            .collect();
        for backup in waiting {
            self.send(Address::Node(backup), Body::Replicate { seq, value });
        }
    }

    fn answer(&mut self, seq: u64) {
        let pending = self.pending.get_mut(&seq).expect("answering a pending put");
        if !pending.answered {
            pending.answered = true;
            let (client, id) = (pending.client, pending.id);
            self.send(client, Body::PutOk { id, seq });
        }
    }
}

impl Process for Replica {
    type Message = Msg;
    type Durable = Vec<u64>;

    fn handle_message(&mut self, now_ms: u64, message: Msg) {
        match (self.me, message.body) {
            (0, Body::Put { id, value }) => {
                self.log.push(value);
                let seq = self.log.len() as u64;
                let pending = Pending {
                    client: message.src,
                    id,
                    acked_by: BTreeSet::new(),
                    answered: false,
                };
                self.pending.insert(seq, pending);
                self.replicate(seq);
                if self.flavour == Flavour::AckOnSend || self.nodes == 1 {
                    self.answer(seq);
                }
                self.resend_at_ms.get_or_insert(now_ms + RESEND_MS);
            }
            (0, Body::Ack { seq }) => {
                let Address::Node(backup) = message.src else {
                    return;
                };
                let Some(pending) = self.pending.get_mut(&seq) else {
                    return;
                };
                pending.acked_by.insert(backup);
                if pending.acked_by.len() == self.nodes - 1 {
                    self.answer(seq);
                    self.pending.remove(&seq);
                }
            }
            (_, Body::Replicate { seq, value }) if self.me != 0 => {
                if seq > self.log.len() as u64 {
                    self.early.insert(seq, value);
                }
                while let Some(value) = self.early.remove(&(self.log.len() as u64 + 1)) {
                    self.log.push(value);
                }
                if seq <= self.log.len() as u64 {
                    self.send(message.src, Body::Ack { seq });
                }
            }
            _ => {} // nothing else is meant for this node
        }
    }

    fn handle_timeout(&mut self, now_ms: u64) {
        let unfinished: Vec<u64> = self.pending.keys().copied().collect();
        for seq in unfinished {
            self.replicate(seq);
        }
        self.resend_at_ms = (!self.pending.is_empty()).then_some(now_ms + RESEND_MS);
    }

    fn poll_transmit(&mut self) -> Option<Msg> {
        self.outbox.pop_front()
    }

    fn poll_timeout(&self) -> Option<u64> {
        self.resend_at_ms
    }

    fn durable(&self) -> Vec<u64> {
        self.log.clone()
    }

    /// The primary leads, always: faults can aim at it as `"leader"`.
    fn leading(&self) -> Option<u64> {
        (self.me == 0).then_some(1)
    }
}

/// The client's events.
pub enum ClientEvent {
    Next,
    GiveUp { id: u64 },
}

/// The property, checked as the run goes: an acknowledged value is held,
/// at its sequence number, by every backup.
#[derive(Default)]
pub struct AckedEverywhere {
    /// Per backup: what it held after its last step.
    held: BTreeMap<usize, Vec<u64>>,
    pub violations: Vec<String>,
}

impl AckedEverywhere {
    fn observe(&mut self, node: usize, replica: &Replica) {
        if node != 0 && self.held.get(&node).map(Vec::len) != Some(replica.log().len()) {
            self.held.insert(node, replica.log().to_vec());
        }
    }

    fn acknowledged(&mut self, now_ms: u64, seq: u64, value: u64, backups: usize) {
        for backup in 1..=backups {
            let held = self
                .held
                .get(&backup)
                .and_then(|log| log.get(seq as usize - 1));
            if held != Some(&value) {
                self.violations.push(format!(
                    "at {now_ms} ms: put of {value} acknowledged at seq {seq}, but n{} holds {}",
                    backup + 1,
                    held.map_or("nothing there".to_owned(), |v| format!("{v}"))
                ));
            }
        }
    }
}

/// One client writing fresh values to the primary, and the checker.
pub struct RegisterHarness {
    nodes: usize,
    flavour: Flavour,
    rng: ChaCha8Rng,
    next_id: u64,
    outstanding: Option<(u64, u64)>,
    pub checker: AckedEverywhere,
    acked: u64,
}

/// What a run of the register found.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdict {
    pub violations: Vec<String>,
    pub puts_acked: u64,
}

impl RegisterHarness {
    fn think(&mut self, ctx: &mut Ctx<'_, Self>) {
        let at_ms = ctx.now_ms() + self.rng.random_range(0..=THINK_MS_MAX);
        ctx.schedule(at_ms, ClientEvent::Next);
    }
}

impl Harness for RegisterHarness {
    type Node = Replica;
    type Event = ClientEvent;
    type Outcome = Verdict;

    fn boot(
        &mut self,
        node: usize,
        durable: Option<Vec<u64>>,
        _now_ms: u64,
    ) -> Result<Replica, String> {
        Ok(Replica::new(
            node,
            self.nodes,
            self.flavour,
            durable.unwrap_or_default(),
        ))
    }

    fn start(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.think(ctx);
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_, Self>, event: ClientEvent) {
        match event {
            ClientEvent::Next => {
                self.next_id += 1;
                let (id, value) = (self.next_id, 1000 + self.next_id);
                self.outstanding = Some((id, value));
                let put = Msg {
                    src: Address::Client(0),
                    dest: Address::Node(0),
                    body: Body::Put { id, value },
                };
                ctx.send_to_node(0, put);
                ctx.schedule(ctx.now_ms() + CLIENT_TIMEOUT_MS, ClientEvent::GiveUp { id });
            }
            ClientEvent::GiveUp { id } => {
                if self.outstanding.is_some_and(|(waiting, _)| waiting == id) {
                    self.outstanding = None;
                    self.think(ctx);
                }
            }
        }
    }

    fn on_client_message(&mut self, ctx: &mut Ctx<'_, Self>, message: Msg) {
        let Body::PutOk { id, seq } = message.body else {
            return;
        };
        let Some((waiting, value)) = self.outstanding else {
            return;
        };
        if waiting != id {
            return; // an answer after the client gave up
        }
        self.outstanding = None;
        self.acked += 1;
        self.checker
            .acknowledged(ctx.now_ms(), seq, value, self.nodes - 1);
        self.think(ctx);
    }

    fn observe(&mut self, _now_ms: u64, node: usize, replica: &Replica, _: &[Condition]) {
        self.checker.observe(node, replica);
    }

    fn finish(self, _end: End<'_, Replica>) -> Verdict {
        Verdict {
            violations: self.checker.violations,
            puts_acked: self.acked,
        }
    }
}

/// A lossy, duplicating network with a paused backup and a crashed one.
pub fn faults() -> Vec<Fault> {
    vec![
        Fault::timed(300, 500, FaultKind::Pause { node: "n2".into() }),
        Fault::timed(
            700,
            900,
            FaultKind::Crash {
                node: "n3".into(),
                unsynced: Default::default(),
            },
        ),
    ]
}

/// One run: three replicas for `duration_ms`, everything drawn from `seed`.
pub fn run(flavour: Flavour, seed: u64, hash_trace: bool) -> (Verdict, Option<u64>) {
    let nodes = 3;
    let mut seeds = SeedStreams::new(seed);
    let params = NetworkParams {
        delay_ms_min: 1,
        delay_ms_max: 10,
        delay_tail_ms_mean: 2.0,
        loss: 0.05,
        duplicate: 0.05,
    };
    let setup = Setup {
        nodes,
        network: Network::new(params, nodes, seeds.stream("network")),
        faults: faults(),
        fault_rng: seeds.stream("fault targets"),
        end_ms: 1_500,
        events_max: u64::MAX,
        clocks: Vec::new(),
        disks: Vec::new(),
        disk_rng: seeds.stream("disk"),
        progress: None,
        trace: None,
        hash_trace,
        record_clients: None,
    };
    let harness = RegisterHarness {
        nodes,
        flavour,
        rng: seeds.stream("client"),
        next_id: 0,
        outstanding: None,
        checker: AckedEverywhere::default(),
        acked: 0,
    };
    let finished = Engine::new(setup, harness)
        .expect("the faults name real nodes")
        .run();
    (finished.outcome, finished.trace_hash)
}
