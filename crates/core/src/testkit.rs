//! In-process cluster for unit tests: nodes joined by a network with a fixed
//! delay, directed links that can be cut, and a clock that jumps to the next
//! delivery or wake-up (quinn-proto's `Pair`, for N nodes).

use std::collections::{BTreeMap, BTreeSet};

use crate::config::Cluster;
use crate::data::{Key, Value};

// What every test of the node names, in one import.
pub use crate::config::Config;
pub use crate::durable::Durable;
pub use crate::events::Event;
pub use crate::id::Id;
pub use crate::log::Log;
pub use crate::message::*;
pub use crate::node::{Node, RoleKind};
pub use crate::time::Millis;

pub struct TestCluster {
    pub nodes: Vec<Option<Node>>,
    pub now: Millis,
    pub delay_ms: u64,
    configs: Vec<Config>,
    /// (deliver_at, seq) -> message; seq breaks ties in send order.
    in_flight: BTreeMap<(Millis, u64), Envelope>,
    seq: u64,
    /// Directed links (from, to) whose messages are dropped.
    pub cut: BTreeSet<(usize, usize)>,
    /// Extra delay on directed links (from, to).
    pub lag_ms: BTreeMap<(usize, usize), u64>,
    /// Everything nodes sent to clients, with the time it was sent.
    pub client_inbox: Vec<(Millis, Envelope)>,
    /// Every message sent, when tracing is on (for debugging a test).
    pub trace: Vec<(Millis, Envelope)>,
    pub tracing: bool,
    next_client_msg_id: u64,
}

pub fn node_id(i: usize) -> Id {
    Id::Node(i as u32 + 1)
}

pub fn index_of(id: &Id) -> usize {
    match id {
        Id::Node(k) => *k as usize - 1,
        other => panic!("{other} is not a node"),
    }
}

impl TestCluster {
    pub fn new(size: usize, seed: u64) -> TestCluster {
        Self::with_config(size, seed, |_| {})
    }

    pub fn with_config(size: usize, seed: u64, tweak: impl Fn(&mut Config)) -> TestCluster {
        let members: Vec<Id> = (0..size).map(node_id).collect();
        let configs: Vec<Config> = (0..size)
            .map(|i| {
                let mut config = Config {
                    rng_seed: seed,
                    cluster: Some(Cluster {
                        me: node_id(i),
                        members: members.clone(),
                    }),
                    ..Config::default()
                };
                tweak(&mut config);
                config
            })
            .collect();
        let nodes = configs
            .iter()
            .map(|c| Some(Node::new(c.clone(), Millis::ZERO)))
            .collect();
        TestCluster {
            nodes,
            now: Millis::ZERO,
            delay_ms: 2,
            configs,
            in_flight: BTreeMap::new(),
            seq: 0,
            cut: BTreeSet::new(),
            lag_ms: BTreeMap::new(),
            client_inbox: Vec::new(),
            trace: Vec::new(),
            tracing: false,
            next_client_msg_id: 1,
        }
    }

    /// A cluster every node of which starts on an empty disk it cannot tell
    /// from a wiped one: a brand-new cluster as `ryw-node` sees it.
    pub fn new_on_empty_disks(size: usize, seed: u64) -> TestCluster {
        let mut cluster = TestCluster::new(size, seed);
        for i in 0..size {
            let durable = Durable {
                recovering: true,
                ..Durable::default()
            };
            let node = Node::restart(cluster.configs[i].clone(), durable, Millis::ZERO);
            cluster.nodes[i] = Some(node);
        }
        cluster
    }

    pub fn node(&self, i: usize) -> &Node {
        self.nodes[i].as_ref().expect("node is up")
    }

    /// Crashes node `i`: volatile state and messages in flight to it are lost.
    pub fn crash(&mut self, i: usize) -> Durable {
        let node = self.nodes[i].take().expect("node is up");
        let dest = node_id(i);
        self.in_flight.retain(|_, e| e.dest != dest);
        node.durable().clone()
    }

    /// Restarts node `i` from `durable`, as a new life: a runtime draws a
    /// fresh incarnation at every start.
    pub fn restart(&mut self, i: usize, durable: Durable) {
        let config = &mut self.configs[i];
        config.incarnation = config.incarnation.wrapping_add(1);
        self.nodes[i] = Some(Node::restart(config.clone(), durable, self.now));
        self.collect();
    }

    /// Restarts node `i` with its disk lost: nothing but an empty state
    /// that it knows it cannot trust.
    pub fn restart_wiped(&mut self, i: usize) {
        let durable = Durable {
            recovering: true,
            ..Durable::default()
        };
        self.restart(i, durable);
    }

    /// Acts on node `i` directly (as a test's own input), then sends what it queued.
    pub fn with_node(&mut self, i: usize, act: impl FnOnce(&mut Node, Millis)) {
        let now = self.now;
        act(self.nodes[i].as_mut().expect("node is up"), now);
        self.collect();
    }

    pub fn isolate(&mut self, i: usize) {
        for j in 0..self.nodes.len() {
            if j != i {
                self.cut.insert((i, j));
                self.cut.insert((j, i));
            }
        }
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }

    fn collect(&mut self) {
        for i in 0..self.nodes.len() {
            let Some(node) = self.nodes[i].as_mut() else {
                continue;
            };
            while let Some(envelope) = node.poll_transmit() {
                if self.tracing {
                    self.trace.push((self.now, envelope.clone()));
                }
                match envelope.dest {
                    Id::Node(_) => {
                        let to = index_of(&envelope.dest);
                        if !self.cut.contains(&(i, to)) {
                            self.seq += 1;
                            let lag_ms = self.lag_ms.get(&(i, to)).copied().unwrap_or(0);
                            let at = self.now.plus(self.delay_ms + lag_ms);
                            self.in_flight.insert((at, self.seq), envelope);
                        }
                    }
                    _ => self.client_inbox.push((self.now, envelope)),
                }
            }
        }
    }

    /// Runs one event (a delivery or a timeout) no later than `until`.
    fn step(&mut self, until: Millis) -> bool {
        let delivery = self.in_flight.keys().next().map(|&(at, _)| at);
        let timer = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some((n.as_ref()?.poll_timeout()?, i)))
            .min();
        let next = match (delivery, timer) {
            (Some(d), Some((t, _))) => d.min(t),
            (Some(d), None) => d,
            (None, Some((t, _))) => t,
            (None, None) => return false,
        };
        if next > until {
            return false;
        }
        self.now = self.now.max(next);
        if delivery == Some(next) {
            let (_, envelope) = self.in_flight.pop_first().expect("a delivery is due");
            let to = index_of(&envelope.dest);
            if let Some(node) = self.nodes[to].as_mut() {
                node.handle_message(self.now, envelope);
            }
        } else if let Some((_, i)) = timer {
            self.nodes[i]
                .as_mut()
                .expect("only live nodes have timers")
                .handle_timeout(self.now);
        }
        self.collect();
        true
    }

    pub fn run_for(&mut self, ms: u64) {
        let until = self.now.plus(ms);
        while self.step(until) {}
        self.now = until;
    }

    /// Runs until `done` holds, for at most `ms`; returns whether it held.
    pub fn run_until(&mut self, ms: u64, mut done: impl FnMut(&TestCluster) -> bool) -> bool {
        let until = self.now.plus(ms);
        while !done(self) {
            if !self.step(until) {
                self.now = until;
                return done(self);
            }
        }
        true
    }

    pub fn leaders(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| {
                self.nodes[i]
                    .as_ref()
                    .is_some_and(|n| n.role() == RoleKind::Leader)
            })
            .collect()
    }

    /// Runs until exactly one live node leads and every live node knows it.
    pub fn stable_leader(&mut self) -> usize {
        let agreed = |c: &TestCluster| {
            let leaders = c.leaders();
            leaders.len() == 1
                && c.nodes
                    .iter()
                    .flatten()
                    .all(|n| n.leader() == Some(&node_id(leaders[0])))
        };
        assert!(self.run_until(5_000, agreed), "no stable leader within 5 s");
        self.leaders()[0]
    }

    /// Sends a client request to node `to`; returns the request's msg_id.
    pub fn request(&mut self, to: usize, client: u32, op: ClientOp) -> u64 {
        let msg_id = self.next_client_msg_id;
        self.next_client_msg_id += 1;
        let envelope = Envelope {
            src: Id::Client(client),
            dest: node_id(to),
            body: Body {
                msg_id: Some(msg_id),
                in_reply_to: None,
                payload: Payload::Request(op),
            },
        };
        self.nodes[to]
            .as_mut()
            .expect("node is up")
            .handle_message(self.now, envelope);
        self.collect();
        msg_id
    }

    pub fn reply(&self, msg_id: u64) -> Option<&OpResult> {
        self.client_inbox
            .iter()
            .find_map(|(_, e)| match &e.body.payload {
                Payload::Reply(result) if e.body.in_reply_to == Some(msg_id) => Some(result),
                _ => None,
            })
    }

    /// Sends a request and runs until its reply arrives (at most 3 s).
    pub fn call(&mut self, to: usize, client: u32, op: ClientOp) -> OpResult {
        let msg_id = self.request(to, client, op);
        assert!(
            self.run_until(3_000, |c| c.reply(msg_id).is_some()),
            "no reply to msg {msg_id} within 3 s"
        );
        self.reply(msg_id).cloned().expect("reply arrived")
    }

    /// When the first reply to `msg_id` was sent, if it was.
    pub fn replied_at(&self, msg_id: u64) -> Option<Millis> {
        self.client_inbox
            .iter()
            .find(|(_, e)| e.body.in_reply_to == Some(msg_id))
            .map(|(at, _)| *at)
    }

    pub fn replies_to(&self, msg_id: u64) -> usize {
        self.client_inbox
            .iter()
            .filter(|(_, e)| e.body.in_reply_to == Some(msg_id))
            .count()
    }
}

pub fn write(key: &str, value: i64) -> ClientOp {
    ClientOp::Write {
        key: crate::Key::Str(key.into()),
        value: value.into(),
    }
}

pub fn ryw(key: &str, token: u64) -> ClientOp {
    ClientOp::RywRead {
        key: crate::Key::Str(key.into()),
        last_write_index: token,
        prefer_follower: true,
    }
}

pub fn read(key: &str) -> ClientOp {
    ClientOp::Read {
        key: crate::Key::Str(key.into()),
    }
}

pub fn commit_index_of(result: &OpResult) -> u64 {
    match result {
        OpResult::WriteOk { commit_index } | OpResult::CasOk { commit_index } => *commit_index,
        other => panic!("expected an acknowledged write, got {other:?}"),
    }
}

// ------------------------------------------------- one node, by hand

/// An entry whose command names its (index, term), so that two logs holding
/// the same (index, term) hold the same entry (Log Matching, §5.3).
pub fn entry_at(index: u64, term: u64) -> Entry {
    Entry {
        term,
        command: Command::Write {
            key: Key::Str("x".into()),
            value: Value::from(index * 1_000 + term),
        },
        request: None,
    }
}

/// Durable state holding a log with the given entry terms.
pub fn durable_with(current_term: u64, terms: &[u64]) -> Durable {
    let mut durable = Durable {
        current_term,
        ..Durable::default()
    };
    for (slot, &term) in terms.iter().enumerate() {
        durable.log.append(entry_at(slot as u64 + 1, term));
    }
    durable
}

/// A message from `from` to `to`, as a peer would send it.
pub fn peer_envelope(from: usize, to: usize, payload: Payload) -> Envelope {
    Envelope {
        src: node_id(from),
        dest: node_id(to),
        body: Body {
            msg_id: Some(1),
            in_reply_to: None,
            payload,
        },
    }
}

/// Delivers one peer message to a node alone and returns everything it sent.
pub fn deliver(node: &mut Node, now: Millis, envelope: Envelope) -> Vec<Payload> {
    node.handle_message(now, envelope);
    std::iter::from_fn(|| node.poll_transmit())
        .map(|e| e.body.payload)
        .collect()
}

/// A lone node (member `me` of `size`) restarted from `durable`.
pub fn lone_node(size: usize, me: usize, durable: Durable) -> Node {
    let members: Vec<Id> = (0..size).map(node_id).collect();
    let config = Config {
        rng_seed: 1,
        cluster: Some(crate::config::Cluster {
            me: node_id(me),
            members,
        }),
        ..Config::default()
    };
    Node::restart(config, durable, Millis::ZERO)
}

// ------------------------------------------------------ reading replies

pub fn value_of(result: &OpResult) -> &Value {
    match result {
        OpResult::ReadOk { value } | OpResult::RywReadOk { value, .. } => value,
        other => panic!("expected a read, got {other:?}"),
    }
}

pub fn served(result: &OpResult) -> (&Id, u64, &Served) {
    match result {
        OpResult::RywReadOk {
            served_by,
            applied_index,
            how,
            ..
        } => (served_by, *applied_index, how),
        other => panic!("expected ryw_read_ok, got {other:?}"),
    }
}

/// Picks a follower other than `not`.
pub fn follower(cluster: &TestCluster, leader: usize, not: &[usize]) -> usize {
    (0..cluster.nodes.len())
        .find(|i| *i != leader && !not.contains(i))
        .expect("cluster has enough followers")
}
