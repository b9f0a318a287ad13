//! The store's nodes as the engine runs them: the real core, or a wrapper
//! around it (planted bugs) behind the same face.

use ryw_core::{codec, Config, Durable, Envelope, Id, Millis, Node, RoleKind};
use sim_engine::{Address, Message, Process};

/// The simulator's view of a store node: the real core, or a wrapper around
/// it (planted bugs, adversaries) that keeps the same face.
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

/// The core itself, or the core restarted from what its crash kept.
pub fn core_node(config: Config, durable: Option<Durable>, now: Millis) -> Node {
    match durable {
        None => Node::new(config, now),
        Some(durable) => Node::restart(config, durable, now),
    }
}

pub fn real_node(config: Config, durable: Option<Durable>, now: Millis) -> Box<dyn SimNode> {
    Box::new(core_node(config, durable, now))
}

/// A Maelstrom envelope on the simulated wire.
#[derive(Clone, Debug)]
pub struct Wire(pub Envelope);

fn address(id: &Id) -> Address {
    match *id {
        Id::Node(k) if k >= 1 => Address::Node(k as usize - 1),
        Id::Client(k) if k >= 1 => Address::Client(k as usize - 1),
        _ => Address::Elsewhere,
    }
}

impl Message for Wire {
    fn src(&self) -> Address {
        address(&self.0.src)
    }

    fn dest(&self) -> Address {
        address(&self.0.dest)
    }

    fn label(&self) -> &'static str {
        self.0.body.payload.kind()
    }

    fn write_json(&self, out: &mut String) {
        codec::encode_into(&self.0, out);
    }
}

impl Process for Box<dyn SimNode> {
    type Message = Wire;
    type Durable = Durable;

    fn handle_message(&mut self, now_ms: u64, message: Wire) {
        SimNode::handle_message(&mut **self, Millis(now_ms), message.0)
    }

    fn handle_timeout(&mut self, now_ms: u64) {
        SimNode::handle_timeout(&mut **self, Millis(now_ms))
    }

    fn poll_transmit(&mut self) -> Option<Wire> {
        SimNode::poll_transmit(&mut **self).map(Wire)
    }

    fn poll_timeout(&self) -> Option<u64> {
        SimNode::poll_timeout(&**self).map(Millis::as_ms)
    }

    fn durable(&self) -> Durable {
        self.core().durable().clone()
    }

    fn leading(&self) -> Option<u64> {
        let core = self.core();
        (core.role() == RoleKind::Leader).then(|| core.term())
    }

    fn log_length(&self) -> u64 {
        self.core().log().last_index()
    }
}
