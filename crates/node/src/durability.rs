//! The node's data directory, with its fsyncs on a thread of their own.
//!
//! An fsync takes milliseconds; the node's work per request takes
//! microseconds. Run in line, every fsync would stop the node: no input
//! read, no read served, no reply written. So the node's thread only
//! writes (appends land in the page cache at once) and a second thread
//! fsyncs: one fsync at a time, covering everything written before it
//! started (group commit: whatever arrives meanwhile waits for the next
//! one). Nothing a batch covers is acknowledged, and no vote it holds is
//! sent, before the fsync covering it and the superblock write after it
//! have completed ([`Node::handle_persisted`] is called only then).
//!
//! While an fsync is in flight the node appends but writes no snapshot
//! (a snapshot rewrites the superblock, which the fsync's thread is about
//! to write): a snapshot batch, and every batch after it, waits for the
//! fsync to end.

use std::io;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::thread;

use ryw_core::{Millis, Node};
use ryw_storage::{FsDisk, LogStore, SyncDone, SyncJob, Unwritten};

use crate::input::Input;

/// A failed fsync: the node must stop. The kernel may already have dropped
/// the pages it failed to write, so a second fsync that passes proves
/// nothing (PostgreSQL's "fsyncgate").
#[derive(Debug)]
pub struct FsyncFailed(pub String);

/// Bursts of input the node reads while an fsync is in flight, before it
/// waits for the fsync.
const BURSTS_AHEAD_MAX: u32 = 1;

pub struct Durability {
    store: LogStore<FsDisk>,
    /// Batches the disk has not taken yet: a full disk refused them, or
    /// they wait for the fsync in flight (a snapshot and what follows it).
    pending: Unwritten,
    /// The newest batch written and not covered by any fsync started yet.
    unsynced: Option<u64>,
    /// The newest batch the fsync in flight covers.
    in_flight: Option<u64>,
    /// Bursts of input the node took since the fsync in flight started.
    bursts_during_sync: u32,
    jobs: Sender<SyncJob>,
    results: Receiver<io::Result<SyncDone>>,
}

impl Durability {
    /// The store, with a thread that runs its fsyncs and reports each end
    /// on `inputs`.
    pub fn new(store: LogStore<FsDisk>, inputs: SyncSender<Input>) -> Durability {
        let (jobs, queued) = mpsc::channel::<SyncJob>();
        let (done, results) = mpsc::channel();
        thread::spawn(move || {
            for job in queued {
                if done.send(job.run()).is_err() {
                    return;
                }
                // A full queue of input means the node is busy and polls
                // for this result before it waits again: no word needed.
                if let Err(TrySendError::Disconnected(_)) = inputs.try_send(Input::Synced) {
                    return;
                }
            }
        });
        Durability {
            store,
            pending: Unwritten::default(),
            unsynced: None,
            in_flight: None,
            bursts_during_sync: 0,
            jobs,
            results,
        }
    }

    pub fn store(&mut self) -> &mut LogStore<FsDisk> {
        &mut self.store
    }

    /// Whether anything written is not yet known durable.
    pub fn busy(&self) -> bool {
        self.in_flight.is_some() || self.unsynced.is_some()
    }

    /// Takes the node's new persist batches, writes what may be written
    /// now, and starts an fsync of it unless one is in flight. Batches a
    /// full disk refused wait for the next pass; the node is told, and
    /// holds back what depends on them.
    pub fn persist(&mut self, node: &mut Node) -> Result<(), FsyncFailed> {
        while let Some(batch) = node.poll_persist() {
            self.pending.push(batch);
        }
        let snapshots = self.in_flight.is_none();
        let written = self
            .pending
            .write_some_to(&mut self.store, node.durable(), snapshots);
        if written.newest.is_some() {
            self.unsynced = written.newest;
        }
        if let Some(e) = written.error {
            let why = format!("{}: {e}", self.store.log_file());
            eprintln!(
                "ryw-node: cannot persist to {why}; votes and acknowledgements wait until it can"
            );
            node.handle_persist_failed(&why);
        }
        if self.in_flight.is_none() {
            if let Some(newest) = self.unsynced.take() {
                let job = self.store.start_sync(newest).map_err(|e| self.failed(&e))?;
                self.in_flight = Some(newest);
                self.bursts_during_sync = 0;
                self.jobs
                    .send(job)
                    .map_err(|_| FsyncFailed("the fsync thread is gone".into()))?;
            }
        }
        Ok(())
    }

    /// The node took a burst of input.
    pub fn note_burst(&mut self) {
        self.bursts_during_sync += u32::from(self.in_flight.is_some());
    }

    /// Whether the node should wait for the fsync in flight before it
    /// reads more: it has read one burst ahead of the disk already. One
    /// burst's work overlaps each fsync; more would only pile writes up
    /// past the leader's backlog bound, where they wait, held, and time
    /// out (input the node has not read waits in the pipe instead, as
    /// back-pressure on whoever sends it).
    pub fn ahead_of_disk(&self) -> bool {
        self.in_flight.is_some() && self.bursts_during_sync >= BURSTS_AHEAD_MAX
    }

    /// Waits for the fsync in flight to end, then takes its result.
    pub fn wait_synced(
        &mut self,
        node: &mut Node,
        now: impl Fn() -> Millis,
    ) -> Result<(), FsyncFailed> {
        let result = self
            .results
            .recv()
            .map_err(|_| FsyncFailed("the fsync thread is gone".into()))?;
        self.synced(node, now(), result)
    }

    /// Takes the result of the fsync in flight if it ended (see
    /// [`Durability::synced`]).
    pub fn poll_synced(&mut self, node: &mut Node, now: Millis) -> Result<(), FsyncFailed> {
        match self.results.try_recv() {
            Ok(result) => self.synced(node, now, result),
            Err(_) => Ok(()),
        }
    }

    /// An fsync ended: on success what it covered is durable, so the node
    /// may acknowledge it, and the next fsync starts.
    fn synced(
        &mut self,
        node: &mut Node,
        now: Millis,
        result: io::Result<SyncDone>,
    ) -> Result<(), FsyncFailed> {
        let done = result.map_err(|e| self.failed(&e))?;
        debug_assert_eq!(self.in_flight, Some(done.covers), "one fsync at a time");
        self.in_flight = None;
        let covers = done.covers;
        self.store.finish_sync(done);
        node.handle_persisted(now, covers);
        self.persist(node)
    }

    fn failed(&self, e: &io::Error) -> FsyncFailed {
        FsyncFailed(format!(
            "fsync of {} failed: {e}; stopping: what it covered may be lost, and a retried \
             fsync cannot be trusted. Restart the node: recovery reads what the disk kept",
            self.store.disk().path(self.store.log_file()).display()
        ))
    }
}
