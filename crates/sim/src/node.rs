//! The store's nodes as the engine runs them: the real core, or a wrapper
//! around it (planted bugs) behind the same face.

use std::io;

use ryw_core::durable::PersistBatch;
use ryw_core::{codec, Config, Durable, Envelope, Id, Millis, Node, RoleKind};
use ryw_storage::{Disk, LogStore, RecoveryError};
use sim_engine::disk::SimDisk;
use sim_engine::{Address, Message, Process};

/// The simulator's view of a store node: the real core, or a wrapper around
/// it (planted bugs, adversaries) that keeps the same face.
pub trait SimNode {
    fn handle_message(&mut self, now: Millis, envelope: Envelope);
    fn handle_timeout(&mut self, now: Millis);
    fn poll_transmit(&mut self) -> Option<Envelope>;
    fn poll_timeout(&self) -> Option<Millis>;
    /// The persistence contract (see `ryw_core::durable`).
    fn poll_persist(&mut self) -> Option<PersistBatch>;
    fn handle_persisted(&mut self, now: Millis, number: u64);
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
    fn poll_persist(&mut self) -> Option<PersistBatch> {
        Node::poll_persist(self)
    }
    fn handle_persisted(&mut self, now: Millis, number: u64) {
        Node::handle_persisted(self, now, number)
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

/// The simulated disk as the log store sees it.
pub struct StoreDisk(pub SimDisk);

impl Disk for StoreDisk {
    fn read_all(&mut self, file: &str) -> io::Result<Vec<u8>> {
        Ok(self.0.read(file).to_vec())
    }
    fn append(&mut self, file: &str, bytes: &[u8]) -> io::Result<()> {
        self.0.append(file, bytes);
        Ok(())
    }
    fn truncate(&mut self, file: &str, length: u64) -> io::Result<()> {
        self.0.truncate(file, length as usize);
        Ok(())
    }
    fn sync(&mut self, file: &str) -> io::Result<()> {
        self.0.sync(file);
        Ok(())
    }
}

/// A store node and its disk. Every step's persist batches go through the
/// real log store ([`ryw_storage::LogStore`]) onto the simulated disk and
/// are synced before any message leaves; a crash keeps only the disk, and
/// a restart recovers from it with the code `ryw-node --data-dir` runs.
pub struct OnDisk {
    node: Box<dyn SimNode>,
    store: LogStore<StoreDisk>,
}

impl OnDisk {
    /// Boots a node on `disk` (fresh when `None`): recovery first, then
    /// `factory` with what it rebuilt.
    pub fn boot(
        factory: &NodeFactory,
        config: Config,
        disk: Option<SimDisk>,
        now: Millis,
    ) -> Result<OnDisk, RecoveryError> {
        let restarting = disk.is_some();
        let (store, recovered) = LogStore::open(StoreDisk(disk.unwrap_or_default()))?;
        let config = Config {
            wait_for_disk: true,
            ..config
        };
        let durable = restarting.then_some(recovered.durable);
        let mut on_disk = OnDisk {
            node: factory(config, durable, now),
            store,
        };
        on_disk.persist(now);
        Ok(on_disk)
    }

    /// Writes and syncs whatever the node asks to persist, and tells it.
    fn persist(&mut self, now: Millis) {
        loop {
            let mut newest = None;
            while let Some(batch) = self.node.poll_persist() {
                self.store
                    .write(&batch, self.node.core().log())
                    .expect("the simulated disk never fails a write");
                newest = Some(batch.number);
            }
            let Some(number) = newest else { return };
            self.store
                .sync()
                .expect("the simulated disk never fails a sync");
            self.node.handle_persisted(now, number);
        }
    }

    pub fn disk(&self) -> &SimDisk {
        &self.store.disk().0
    }
}

impl std::ops::Deref for OnDisk {
    type Target = dyn SimNode;

    fn deref(&self) -> &(dyn SimNode + 'static) {
        &*self.node
    }
}

impl Process for OnDisk {
    type Message = Wire;
    type Durable = SimDisk;

    fn handle_message(&mut self, now_ms: u64, message: Wire) {
        self.node.handle_message(Millis(now_ms), message.0);
        self.persist(Millis(now_ms));
    }

    fn handle_timeout(&mut self, now_ms: u64) {
        self.node.handle_timeout(Millis(now_ms));
        self.persist(Millis(now_ms));
    }

    fn poll_transmit(&mut self) -> Option<Wire> {
        self.node.poll_transmit().map(Wire)
    }

    fn poll_timeout(&self) -> Option<u64> {
        self.node.poll_timeout().map(Millis::as_ms)
    }

    /// The disk, and nothing else: a restart recovers from it.
    fn durable(&self) -> SimDisk {
        self.disk().clone()
    }

    fn leading(&self) -> Option<u64> {
        let core = self.node.core();
        (core.role() == RoleKind::Leader).then(|| core.term())
    }

    fn log_length(&self) -> u64 {
        self.node.core().log().last_index()
    }
}
