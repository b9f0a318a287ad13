//! Client sessions, Maelstrom style: one request outstanding each, a timeout
//! after which a session moves on, and a token that follows its writes.

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use ryw_core::{ClientOp, Id, Key, Millis, Value};

use crate::scenario::Workload;

/// An acknowledged write: its log index, value, and when the ack arrived.
#[derive(Clone, Debug)]
pub struct Acked {
    pub index: u64,
    pub value: Value,
    pub at_ms: u64,
}

/// A request in flight.
#[derive(Clone, Debug)]
pub struct Outstanding {
    pub msg_id: u64,
    pub op: ClientOp,
    pub node: usize,
    pub sent_at: Millis,
    /// Position in the world's order of invocations and completions.
    pub invoked: u64,
}

pub struct Session {
    pub client: Id,
    home: usize,
    pub outstanding: Option<Outstanding>,
    next_msg_id: u64,
    /// Highest `commit_index` acknowledged (and, in monotonic mode, applied index read at).
    pub token: u64,
    /// Per key: the newest write this session saw acknowledged.
    pub acked: BTreeMap<Key, Acked>,
    /// Per key: log index of the newest value this session has read (monotonic reads).
    pub seen: BTreeMap<Key, u64>,
    /// Last value this session knows per key, for cas `from`.
    last_value: BTreeMap<Key, Value>,
}

impl Session {
    pub fn new(index: usize, nodes: usize, rng: &mut ChaCha8Rng) -> Session {
        Session {
            client: Id::Client(index as u32 + 1),
            home: rng.random_range(0..nodes),
            outstanding: None,
            next_msg_id: 1,
            token: 0,
            acked: BTreeMap::new(),
            seen: BTreeMap::new(),
            last_value: BTreeMap::new(),
        }
    }

    /// Draws the next request: kind by the mix, a key, a fresh unique value.
    pub fn next_request(
        &mut self,
        workload: &Workload,
        nodes: usize,
        next_value: &mut u64,
        rng: &mut ChaCha8Rng,
        now: Millis,
        invoked: u64,
    ) -> Outstanding {
        let key = Key::Int(rng.random_range(0..workload.keys) as i64);
        let m = workload.mix_at(now.as_ms());
        let total = m.write + m.ryw_read + m.ryw_read_leader + m.read + m.cas;
        let mut pick = rng.random_range(0..total);
        let mut take = |weight: u32| {
            let hit = pick < weight;
            pick = pick.saturating_sub(weight);
            hit
        };
        *next_value += 1;
        let fresh = Value::from(*next_value);
        let op = if take(m.write) {
            ClientOp::Write { key, value: fresh }
        } else if take(m.ryw_read) {
            ClientOp::RywRead {
                key,
                last_write_index: self.token,
                prefer_follower: true,
            }
        } else if take(m.ryw_read_leader) {
            ClientOp::RywRead {
                key,
                last_write_index: self.token,
                prefer_follower: false,
            }
        } else if take(m.read) {
            ClientOp::Read { key }
        } else {
            let from = self.last_value.get(&key).cloned().unwrap_or(Value::NULL);
            ClientOp::Cas {
                key,
                from,
                to: fresh,
                create_if_not_exists: rng.random_bool(0.5),
            }
        };
        let node = if workload.sticky {
            self.home
        } else {
            rng.random_range(0..nodes)
        };
        let msg_id = self.next_msg_id;
        self.next_msg_id += 1;
        let outstanding = Outstanding {
            msg_id,
            op,
            node,
            sent_at: now,
            invoked,
        };
        self.outstanding = Some(outstanding.clone());
        outstanding
    }

    pub fn learn_value(&mut self, key: &Key, value: &Value) {
        self.last_value.insert(key.clone(), value.clone());
    }
}
