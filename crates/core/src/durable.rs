//! State that survives a crash (Raft Figure 2, "persistent state on all
//! servers"), and what the runtime must make durable, and when.
//!
//! # The persistence contract
//!
//! The node keeps its durable state in memory ([`Durable`]) and says what
//! changed through [`crate::Node::poll_persist`]: a [`PersistBatch`] with the
//! new hard state (term, vote) if it changed, and the log entries from the
//! lowest index that changed to the end of the log. The runtime writes each
//! batch, in order, then makes it durable (fsync) and reports that with
//! [`crate::Node::handle_persisted`]. One fsync may cover many batches (group
//! commit): the runtime polls again while an fsync runs, and reports the
//! newest batch the next fsync covered.
//!
//! What the node guarantees in return:
//! - no message to a peer that depends on durable state leaves before that
//!   state is durable: a vote, an `append_entries_ok`, and everything else
//!   a peer may act on wait in the outbox until the batches queued before
//!   them are reported durable ([`crate::Node::poll_transmit`] skips them);
//! - the one exception is a leader's `append_entries`, which may go while
//!   the leader's own fsync still runs (Raft thesis §10.2.1): the leader
//!   counts its own log toward a majority only up to what is durable, so no
//!   write is acknowledged before a majority holds it durably;
//! - a restart needs nothing but what the batches wrote
//!   ([`crate::Node::restart`] with the recovered [`Durable`]).
//!
//! The contract holds only with [`crate::Config::wait_for_disk`] set. A
//! runtime without a disk (the seed's samples, Maelstrom) leaves it unset:
//! then every change counts as durable the moment it is made, and
//! `poll_persist` never has anything.

use std::sync::Arc;

use crate::id::Id;
use crate::log::Log;
use crate::message::Entry;
use crate::snapshot::Snapshot;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Durable {
    pub current_term: u64,
    pub voted_for: Option<Id>,
    pub log: Log,
    /// How often this node has started on this disk (for logs: operation
    /// ids come from [`crate::Config::incarnation`], which no disk loss
    /// can reset).
    pub starts: u64,
    /// This node lost durable state (its disk was empty, cut or damaged)
    /// and has not yet caught up from its peers: until it has, it grants
    /// no vote and starts no election on what it has (see
    /// `raft/recovery.rs`). Kept durable so that a crash in the middle of
    /// recovering does not make the node trust a half-rebuilt log.
    pub recovering: bool,
    /// While recovering: this node knows it lost state it once held (a cut
    /// or damaged log), as opposed to finding an empty disk, which a
    /// brand-new node finds too. Only a node that may be brand new answers
    /// peers as one.
    pub lost: bool,
    /// The newest snapshot: the log holds what follows its index, or
    /// from a little before it (a margin kept for slow followers).
    pub snapshot: Option<Arc<Snapshot>>,
}

impl Durable {
    pub fn hard_state(&self) -> HardState {
        HardState {
            current_term: self.current_term,
            voted_for: self.voted_for.clone(),
            starts: self.starts,
            recovering: self.recovering,
            lost: self.lost,
        }
    }
}

/// Everything durable but the log.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HardState {
    pub current_term: u64,
    pub voted_for: Option<Id>,
    pub starts: u64,
    pub recovering: bool,
    pub lost: bool,
}

/// What changed in the durable state since the previous batch.
#[derive(Clone, Debug, PartialEq)]
pub struct PersistBatch {
    /// Batches are numbered 1, 2, 3, ... within one run of the node; report
    /// this number to `handle_persisted` once the batch is durable.
    pub number: u64,
    /// The new term, vote and start count, if any of them changed. Write it
    /// before the entries.
    pub hard_state: Option<HardState>,
    /// The log from this index to its end (`Node::log`) is new. An index at
    /// or below what the disk holds replaces that entry and every later one
    /// (a conflicting suffix truncated). `None`: the log did not change.
    pub entries_from: Option<u64>,
    /// A new snapshot was taken or installed (`Durable::snapshot`): write
    /// the snapshot, durably and atomically, and only then replace the log
    /// with one that starts at its base ([`Record::Base`]) and holds the
    /// hard state and every entry after it. `entries_from` is then covered.
    pub snapshot: bool,
    /// With `snapshot`: the index the node compacts its log to under the
    /// snapshot at its next input, if it has not yet (a snapshot taken in
    /// `handle_persisted` is polled before any input). The log written
    /// starts there, as the node's own will; without it, the whole log
    /// since the last compaction would be written.
    pub compact_to: Option<u64>,
}

/// One thing a log store writes, in the order it was decided.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// The first record of a log compacted under a snapshot: the log
    /// starts after `index`, whose entry had `term`.
    Base {
        index: u64,
        term: u64,
    },
    HardState(HardState),
    /// The entry at `index`; at or below the log's end it first truncates there.
    Entry {
        index: u64,
        entry: Entry,
    },
}

impl PersistBatch {
    /// The batch as records, reading the entries from `log`.
    pub fn records<'a>(&'a self, log: &'a Log) -> impl Iterator<Item = Record> + 'a {
        let hard = self.hard_state.clone().map(Record::HardState);
        // Entries a snapshot covered since the batch was made are gone
        // from the log, and on disk once the snapshot is written.
        let from = self
            .entries_from
            .unwrap_or(log.last_index() + 1)
            .max(log.first_index());
        let entries = (from..=log.last_index()).map(move |index| Record::Entry {
            index,
            entry: log.get(index).expect("within the log").clone(),
        });
        hard.into_iter().chain(entries)
    }
}

/// Rebuilds durable state from records, in the order they were written.
/// An entry record may only extend the log by one or replace an entry in it
/// (which truncates from there); anything else is an error naming the record.
pub fn replay(records: impl IntoIterator<Item = Record>) -> Result<Durable, String> {
    let mut durable = Durable::default();
    for (k, record) in records.into_iter().enumerate() {
        match record {
            Record::Base { index, term } => {
                if k != 0 {
                    return Err(format!(
                        "record {k}: a log base (index {index}) after the first record"
                    ));
                }
                durable.log.reset_to(index, term);
            }
            Record::HardState(hard) => {
                durable.current_term = hard.current_term;
                durable.voted_for = hard.voted_for;
                durable.starts = hard.starts;
                durable.recovering = hard.recovering;
                durable.lost = hard.lost;
            }
            Record::Entry { index, entry } => {
                let last = durable.log.last_index();
                if index < durable.log.first_index() || index > last + 1 {
                    return Err(format!(
                        "record {k}: entry at index {index}, but the log ends at {last}"
                    ));
                }
                if index <= last {
                    durable.log.truncate_from(index);
                }
                if entry.term < durable.log.last_term() {
                    return Err(format!(
                        "record {k}: entry {index} has term {}, older than the entry before it ({})",
                        entry.term,
                        durable.log.last_term()
                    ));
                }
                durable.log.append(entry);
            }
        }
    }
    // Hard state is written before the entries of its batch, so entries of
    // a newer term than it cannot outlive it. Should they anyway, the node
    // saw a leader of that term and may not go back to an older one; its
    // vote in that term was never sent (it was not durable), so it is free.
    if durable.log.last_term() > durable.current_term {
        durable.current_term = durable.log.last_term();
        durable.voted_for = None;
    }
    Ok(durable)
}
