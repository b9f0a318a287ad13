//! The store's nodes as the engine runs them: the real core, or a wrapper
//! around it (planted bugs) behind the same face.

use std::collections::VecDeque;
use std::io;

use ryw_core::durable::PersistBatch;
use ryw_core::{codec, Config, Durable, Envelope, Id, Millis, Node, RoleKind};
use ryw_storage::{Disk, LogStore, Loss, Recovered, RecoveryError, Unwritten, LOG_FILE};
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
    fn handle_persist_failed(&mut self, why: &str);
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
    fn handle_persist_failed(&mut self, why: &str) {
        Node::handle_persist_failed(self, why)
    }
    fn core(&self) -> &Node {
        self
    }
}

/// How the simulator makes store nodes: any closure or function from a
/// config and, after a crash, the durable state recovery rebuilt.
pub trait MakeNode: Send + Sync {
    fn make(&self, config: Config, durable: Option<Durable>, now: Millis) -> Box<dyn SimNode>;

    /// Reads a node's disk at a restart: the real log store's recovery,
    /// unless a planted bug reads it its own way.
    fn recover(&self, disk: StoreDisk) -> Result<(LogStore<StoreDisk>, Recovered), RecoveryError> {
        LogStore::open(disk)
    }

    /// Whether a failed fsync is asked for again and trusted once it
    /// passes (planted bug `trust-retried-fsync`), instead of stopping.
    fn retries_failed_fsync(&self) -> bool {
        false
    }
}

impl<F> MakeNode for F
where
    F: Fn(Config, Option<Durable>, Millis) -> Box<dyn SimNode> + Send + Sync,
{
    fn make(&self, config: Config, durable: Option<Durable>, now: Millis) -> Box<dyn SimNode> {
        self(config, durable, now)
    }
}

/// Builds a node from its config and, after a crash, its durable state.
pub type NodeFactory = dyn MakeNode;

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
        self.0
            .append(file, bytes)
            .map_err(|full| io::Error::new(io::ErrorKind::StorageFull, full))
    }
    fn truncate(&mut self, file: &str, length: u64) -> io::Result<()> {
        self.0.truncate(file, length as usize);
        Ok(())
    }
    fn sync(&mut self, file: &str) -> io::Result<()> {
        self.0.sync(file);
        Ok(())
    }
    fn overwrite(&mut self, file: &str, bytes: &[u8]) -> io::Result<()> {
        self.0.overwrite(file, bytes);
        Ok(())
    }
    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        if self.0.rename(from, to) {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "simulated crash before renaming {from} to {to}"
            )))
        }
    }
}

/// A store node and its disk. Every step's persist batches go through the
/// real log store ([`ryw_storage::LogStore`]) onto the simulated disk, and
/// an fsync is asked for; the engine completes it after the disk's latency
/// and only then is the node told its batches are durable. A crash keeps
/// only the disk, and a restart recovers from it with the code
/// `ryw-node --data-dir` runs.
pub struct OnDisk {
    node: Box<dyn SimNode>,
    store: LogStore<StoreDisk>,
    unwritten: Unwritten,
    /// fsyncs asked for: (fsync id, newest batch it makes durable, the log
    /// file's generation and how many of its bytes it covers).
    syncing: VecDeque<(u64, u64, (u64, u64))>,
    /// Planted bug `trust-retried-fsync`: a failed fsync is asked for again
    /// and trusted once it passes.
    retries_failed_fsync: bool,
    /// Why the node stopped itself (a failed fsync).
    stopped: Option<String>,
    /// What recovery found lost at this boot.
    pub lost_at_boot: Option<Loss>,
    /// Synced data this boot found gone that no fault in the run took: the
    /// store acknowledged as durable what was not.
    pub broken_promise: Option<String>,
    /// The disk's count of lies when this life booted: accounted for once
    /// a sync has recorded the state recovery rebuilt.
    lies_at_boot: u64,
}

impl OnDisk {
    /// Boots a node on `disk` (an empty one when `None`: a new node knows no
    /// more than one whose disk was wiped): recovery first, then `factory`
    /// with what it rebuilt.
    pub fn boot(
        factory: &NodeFactory,
        config: Config,
        disk: Option<SimDisk>,
        now: Millis,
    ) -> Result<OnDisk, RecoveryError> {
        let disk = disk.unwrap_or_default();
        // Faults that took synced data since the store last synced after a
        // boot explain a loss (until then it finds the same loss again).
        let explained = disk.lies != disk.lies_seen;
        let lies_at_boot = disk.lies;
        let (store, recovered) = factory.recover(StoreDisk(disk))?;
        let config = Config {
            wait_for_disk: true,
            ..config
        };
        let broken_promise = match &recovered.lost {
            Some(loss @ (Loss::SyncedTail { .. } | Loss::Corrupt { .. })) if !explained => Some(
                format!("{loss}, and no fault took synced data from this disk: the store acknowledged what it had not made durable"),
            ),
            _ => None,
        };
        let mut on_disk = OnDisk {
            node: factory.make(config, Some(recovered.durable), now),
            store,
            unwritten: Unwritten::default(),
            syncing: VecDeque::new(),
            retries_failed_fsync: factory.retries_failed_fsync(),
            stopped: None,
            lost_at_boot: recovered.lost,
            broken_promise,
            lies_at_boot,
        };
        on_disk.persist();
        Ok(on_disk)
    }

    /// Writes whatever the node asks to persist and asks for an fsync; a
    /// write the disk refuses is tried again after the next step, and the
    /// node is told why meanwhile.
    fn persist(&mut self) {
        while let Some(batch) = self.node.poll_persist() {
            self.unwritten.push(batch);
        }
        if self.unwritten.is_empty() {
            return;
        }
        let written = self
            .unwritten
            .write_to(&mut self.store, self.node.core().durable());
        if let Some(newest) = written.newest {
            let position = self.store.position();
            let sync = self.store.disk_mut().0.request_sync();
            self.syncing.push_back((sync, newest, position));
        }
        if let Some(e) = written.error {
            if std::mem::take(&mut self.store.disk_mut().0.crashed_at_rename) {
                // A fault crashed the process in the middle of the write:
                // the engine takes it down, disk as it is, and restarts it.
                self.stopped = Some(e.to_string());
                return;
            }
            self.node.handle_persist_failed(&e.to_string());
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
        self.persist();
    }

    fn handle_timeout(&mut self, now_ms: u64) {
        self.node.handle_timeout(Millis(now_ms));
        self.persist();
    }

    fn handle_synced(&mut self, now_ms: u64, sync: u64) {
        let mut newest = None;
        while self.syncing.front().is_some_and(|&(id, _, _)| id <= sync) {
            newest = self.syncing.pop_front();
        }
        if let Some((_, batch, (generation, length))) = newest {
            // The superblock says how much is durable before anything that
            // depends on it is acknowledged (the simulated write cannot fail).
            let _ = self.store.record_synced(generation, length);
            self.store.disk_mut().0.lies_seen = self.lies_at_boot;
            self.node.handle_persisted(Millis(now_ms), batch);
        }
        self.persist();
    }

    /// An fsync failed: what it covered may never reach the disk, and
    /// asking again proves nothing (fsyncgate). The store stops; the
    /// engine restarts it, and recovery reads what the disk really kept.
    fn handle_sync_failed(&mut self, _now_ms: u64, sync: u64) {
        let mut newest = None;
        while self.syncing.front().is_some_and(|&(id, _, _)| id <= sync) {
            newest = self.syncing.pop_front();
        }
        if self.retries_failed_fsync {
            if let Some((_, batch, length)) = newest {
                let again = self.store.disk_mut().0.request_sync();
                self.syncing.push_front((again, batch, length));
            }
            return;
        }
        self.stopped = Some(format!(
            "fsync of {LOG_FILE} failed; stopping rather than trust a retried fsync"
        ));
    }

    fn stopped(&self) -> Option<String> {
        self.stopped.clone()
    }

    fn disk_mut(&mut self) -> Option<&mut SimDisk> {
        Some(&mut self.store.disk_mut().0)
    }

    fn disk_of(disk: &mut SimDisk) -> Option<&mut SimDisk> {
        Some(disk)
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
