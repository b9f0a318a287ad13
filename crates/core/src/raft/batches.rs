//! Persist batches (see [`crate::durable`] for the contract): what changed
//! since the last batch, which batches are durable, which messages wait for
//! them, and how much of its own log a leader may count. A leaf: it knows
//! indexes and batch numbers, not the replica.

use std::collections::VecDeque;

use crate::message::{Payload, PeerMsg};

pub(super) struct Batches {
    /// No disk: every change is durable the moment it is made.
    pub(super) immediate: bool,
    pub(super) hard_state_dirty: bool,
    /// The lowest log index changed since the last batch.
    pub(super) entries_from: Option<u64>,
    /// A snapshot was taken or installed since the last batch.
    pub(super) snapshot_dirty: bool,
    pub(super) batches_made: u64,
    pub(super) batches_durable: u64,
    /// Batches handed out and not yet durable: (number, how far into the
    /// log as it is now that batch makes it durable). A later truncation
    /// lowers the second: what the batch wrote there is no longer the log.
    pub(super) in_flight: VecDeque<(u64, u64)>,
    /// The log as it is in memory is durable up to this index.
    pub(super) synced_index: u64,
    /// Why the runtime could not write the last batches, until a batch is
    /// durable again (a full disk): clients whose requests time out are told.
    pub(super) failure: Option<String>,
}

impl Batches {
    /// After a restart from a disk that holds the log up to
    /// `synced_index`; `immediate` when there is no disk.
    pub(super) fn recovered(synced_index: u64, immediate: bool) -> Batches {
        Batches {
            immediate,
            // The start count just went up.
            hard_state_dirty: !immediate,
            entries_from: None,
            snapshot_dirty: false,
            batches_made: 0,
            batches_durable: 0,
            in_flight: VecDeque::new(),
            synced_index,
            failure: None,
        }
    }

    pub(super) fn dirty(&self) -> bool {
        self.hard_state_dirty || self.entries_from.is_some() || self.snapshot_dirty
    }

    /// A snapshot was taken or installed, and the log compacted under it.
    /// The log is rewritten whole from its base, so the batch covers
    /// every entry: how far it is durable does not change until then.
    pub(super) fn snapshot_changed(&mut self) {
        if !self.immediate {
            self.snapshot_dirty = true;
        }
    }

    /// The batch that a message queued now must wait for: the one holding
    /// every change made so far.
    fn batch_covering_now(&self) -> u64 {
        self.batches_made + u64::from(self.dirty())
    }

    pub(super) fn is_durable(&self, batch: u64) -> bool {
        batch <= self.batches_durable
    }

    /// The term or vote changed.
    pub(super) fn hard_state_changed(&mut self) {
        self.hard_state_dirty = !self.immediate;
    }

    /// The log changed from `index` on and now ends at `last_index`.
    pub(super) fn log_changed(&mut self, index: u64, last_index: u64) {
        if self.immediate {
            self.synced_index = last_index;
            return;
        }
        self.entries_from = Some(self.entries_from.map_or(index, |from| from.min(index)));
        let kept = index - 1;
        self.synced_index = self.synced_index.min(kept);
        for (_, valid) in &mut self.in_flight {
            *valid = (*valid).min(kept);
        }
    }

    /// An installed snapshot replaced the log, which now ends at
    /// `last_index`: what was durable of the old log past it is not of this
    /// one.
    pub(super) fn log_replaced(&mut self, last_index: u64) {
        self.synced_index = self.synced_index.min(last_index);
        for (_, valid) in &mut self.in_flight {
            *valid = (*valid).min(last_index);
        }
    }

    /// Every batch up to `number` is durable; false if that was known.
    pub(super) fn durable_up_to(&mut self, number: u64) -> bool {
        assert!(
            number <= self.batches_made,
            "batch {number} reported durable, but only {} were handed out",
            self.batches_made
        );
        if number <= self.batches_durable {
            return false;
        }
        self.batches_durable = number;
        self.failure = None;
        while let Some(&(batch, valid)) = self.in_flight.front() {
            if batch > number {
                break;
            }
            self.synced_index = self.synced_index.max(valid);
            self.in_flight.pop_front();
        }
        true
    }

    pub(super) fn synced_index(&self) -> u64 {
        self.synced_index
    }

    /// The batch a message with this payload, queued now, waits for (0: none).
    pub(super) fn batch_to_wait_for(&self, payload: &Payload) -> u64 {
        if waits_for_disk(payload) {
            self.batch_covering_now()
        } else {
            0
        }
    }
}

/// Whether a message may leave only once the state it reflects is durable.
/// Everything a peer may act on does (a vote, an acknowledgement of
/// entries, the term it carries), except a leader's `append_entries`.
fn waits_for_disk(payload: &Payload) -> bool {
    matches!(payload, Payload::Peer(message) if !matches!(message, PeerMsg::AppendEntries(_)))
}
