//! The protocol's side of a run.
//!
//! The engine owns time, the network, faults and nodes' lives; a harness
//! owns everything that knows the protocol: how to build a node, what the
//! clients do, and what must hold. Calls come in this order:
//!
//! 1. [`Harness::boot`] for every node, in index order, each followed by
//!    [`Harness::observe`] of that node;
//! 2. [`Harness::start`], once, to schedule the clients' first events;
//! 3. then, event by event in simulated-time order (ties in the order they
//!    were scheduled): [`Harness::on_event`] for the harness's own events,
//!    [`Harness::on_client_message`] when a message reaches a client,
//!    [`Harness::on_send`] for every node-to-node message as it leaves, and
//!    [`Harness::observe`] after every step of every node (a delivery, a
//!    timeout, a boot or a restart);
//! 4. [`Harness::on_restart`] just after a crashed node is booted again
//!    from its durable state;
//! 5. [`Harness::finish`], once, with the live nodes.
//!
//! Time never goes backwards between calls. Nothing the harness does may
//! read a clock or draw randomness other than from the streams the run was
//! given (see [`crate::seeds`]): the run must replay from its seed.

pub use crate::condition::Condition;
use crate::diagram::Recording;
use crate::process::Process;
use crate::run::state::{State, Stats};

pub type MessageOf<H> = <<H as Harness>::Node as Process>::Message;
pub type DurableOf<H> = <<H as Harness>::Node as Process>::Durable;

pub trait Harness: Sized {
    type Node: Process;
    /// The harness's own timed events (a client's next request, a timeout).
    type Event;
    /// What a run produces: the harness's verdict.
    type Outcome;

    /// Builds node `node`: fresh (`durable: None`) or restarting from what
    /// its crash kept. `now_ms` is what the node's own clock reads. An
    /// error is a node that refuses to start from what it found (a damaged
    /// disk): it stays down for the rest of the run, and the trace says why.
    fn boot(
        &mut self,
        node: usize,
        durable: Option<DurableOf<Self>>,
        now_ms: u64,
    ) -> Result<Self::Node, String>;

    /// Schedules the first client events.
    fn start(&mut self, _ctx: &mut Ctx<'_, Self>) {}

    /// One of the harness's own events is due.
    fn on_event(&mut self, _ctx: &mut Ctx<'_, Self>, _event: Self::Event) {}

    /// A node's message reached client `Address::Client(..)`.
    fn on_client_message(&mut self, _ctx: &mut Ctx<'_, Self>, _message: MessageOf<Self>) {}

    /// Node `from` sent a message to another node at `now_ms` (before the
    /// network decides its fate).
    fn on_send(&mut self, _now_ms: u64, _from: usize, _message: &MessageOf<Self>) {}

    /// Node `node` has just taken a step: check what must hold after every
    /// step here, so a violation is caught when it happens. `conditions`
    /// says what the faults make of each node at this moment.
    fn observe(
        &mut self,
        _now_ms: u64,
        _node: usize,
        _process: &Self::Node,
        _conditions: &[Condition],
    ) {
    }

    /// Node `node` has just restarted from its durable state.
    fn on_restart(&mut self, _node: usize) {}

    /// The run is over.
    fn finish(self, end: End<'_, Self::Node>) -> Self::Outcome;
}

/// What a harness may do while the run goes on.
pub struct Ctx<'a, H: Harness> {
    pub(crate) state: &'a mut State<H::Node, H::Event>,
}

impl<H: Harness> Ctx<'_, H> {
    pub fn now_ms(&self) -> u64 {
        self.state.now_ms
    }

    /// The time after which the run stops.
    pub fn end_ms(&self) -> u64 {
        self.state.end_ms
    }

    /// Schedules one of the harness's events.
    pub fn schedule(&mut self, at_ms: u64, event: H::Event) {
        self.state.schedule_harness(at_ms, event);
    }

    /// Sends `message` from a client to node `node` over the client link
    /// (its delay, and the node's lag). A message to a crashed node is
    /// lost; to a paused one, delivered when it resumes.
    pub fn send_to_node(&mut self, node: usize, message: MessageOf<H>) {
        self.state.send_from_client(node, message);
    }

    /// How many nodes the run has.
    pub fn nodes(&self) -> usize {
        self.state.slots.len()
    }

    /// Node `node`, unless it is crashed.
    pub fn node(&self, node: usize) -> Option<&H::Node> {
        self.state.slots.get(node)?.node.as_ref()
    }
}

/// What the harness sees when the run ends.
pub struct End<'a, N> {
    pub end_ms: u64,
    /// Each node, unless it is crashed at the end.
    pub nodes: Vec<Option<&'a N>>,
    pub stats: &'a Stats,
    /// The diagram's recording, if the run keeps one.
    pub recording: Option<&'a Recording>,
}
