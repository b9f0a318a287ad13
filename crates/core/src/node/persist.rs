//! The node's side of the persistence contract (see [`crate::durable`]):
//! what changed since the last batch, which batches are durable, which
//! messages wait for them, and how much of its own log a leader may count.

use std::collections::VecDeque;

use super::Node;
use crate::durable::PersistBatch;
use crate::events::Event;
use crate::id::Id;
use crate::message::{Entry, Payload, PeerMsg};
use crate::time::Millis;

pub(super) struct Persistence {
    /// No disk: every change is durable the moment it is made.
    immediate: bool,
    hard_state_dirty: bool,
    /// The lowest log index changed since the last batch.
    entries_from: Option<u64>,
    batches_made: u64,
    batches_durable: u64,
    /// Batches handed out and not yet durable: (number, how far into the
    /// log as it is now that batch makes it durable). A later truncation
    /// lowers the second: what the batch wrote there is no longer the log.
    in_flight: VecDeque<(u64, u64)>,
    /// The log as it is in memory is durable up to this index.
    synced_index: u64,
    /// Why the runtime could not write the last batches, until a batch is
    /// durable again (a full disk): clients whose requests time out are told.
    pub(super) failure: Option<String>,
}

impl Persistence {
    /// After a restart from a disk that holds the log up to
    /// `synced_index`; `immediate` when there is no disk.
    pub(super) fn recovered(synced_index: u64, immediate: bool) -> Persistence {
        Persistence {
            immediate,
            // The start count just went up.
            hard_state_dirty: !immediate,
            entries_from: None,
            batches_made: 0,
            batches_durable: 0,
            in_flight: VecDeque::new(),
            synced_index,
            failure: None,
        }
    }

    fn dirty(&self) -> bool {
        self.hard_state_dirty || self.entries_from.is_some()
    }

    /// The batch that a message queued now must wait for: the one holding
    /// every change made so far.
    fn batch_covering_now(&self) -> u64 {
        self.batches_made + u64::from(self.dirty())
    }

    pub(super) fn is_durable(&self, batch: u64) -> bool {
        batch <= self.batches_durable
    }

    /// The log changed from `index` on and now ends at `last_index`.
    fn log_changed(&mut self, index: u64, last_index: u64) {
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

    pub(super) fn synced_index(&self) -> u64 {
        self.synced_index
    }
}

/// Whether a message may leave only once the state it reflects is durable.
/// Everything a peer may act on does (a vote, an acknowledgement of
/// entries, the term it carries), except a leader's `append_entries`.
fn waits_for_disk(payload: &Payload) -> bool {
    matches!(payload, Payload::Peer(message) if !matches!(message, PeerMsg::AppendEntries(_)))
}

impl Node {
    /// What to make durable next, if anything changed: see
    /// [`crate::durable`] for the contract.
    pub fn poll_persist(&mut self) -> Option<PersistBatch> {
        let persist = &mut self.persist;
        if !persist.dirty() {
            return None;
        }
        persist.batches_made += 1;
        let batch = PersistBatch {
            number: persist.batches_made,
            hard_state: std::mem::take(&mut persist.hard_state_dirty)
                .then(|| self.durable.hard_state()),
            entries_from: persist.entries_from.take(),
        };
        persist
            .in_flight
            .push_back((batch.number, self.durable.log.last_index()));
        Some(batch)
    }

    /// The runtime made every batch up to `number` durable.
    pub fn handle_persisted(&mut self, now: Millis, number: u64) {
        let persist = &mut self.persist;
        assert!(
            number <= persist.batches_made,
            "batch {number} reported durable, but only {} were handed out",
            persist.batches_made
        );
        if number <= persist.batches_durable {
            return;
        }
        persist.batches_durable = number;
        persist.failure = None;
        while let Some(&(batch, valid)) = persist.in_flight.front() {
            if batch > number {
                break;
            }
            persist.synced_index = persist.synced_index.max(valid);
            persist.in_flight.pop_front();
        }
        debug_assert!(self.persist.synced_index <= self.durable.log.last_index());
        self.advance_commit(now);
        self.settle(now);
    }

    /// The runtime could not write what it was asked to (`why`: a full
    /// disk, say) and will try again. Nothing waiting for it is sent
    /// meanwhile; a client request that times out is told `why`.
    pub fn handle_persist_failed(&mut self, why: &str) {
        self.persist.failure = Some(why.to_owned());
    }

    /// How far the log is durable, as far as the runtime has reported.
    pub fn synced_index(&self) -> u64 {
        self.persist.synced_index()
    }

    // ------------------------------------------ every change to durable state

    pub(super) fn set_term_and_vote(&mut self, term: u64, vote: Option<Id>) {
        // Election Safety rests on these: terms never go back, and a vote
        // cast in a term is never given to another candidate in it.
        assert!(
            term >= self.durable.current_term,
            "term {term} after term {}",
            self.durable.current_term
        );
        if let (true, Some(cast), Some(new)) = (
            term == self.durable.current_term,
            &self.durable.voted_for,
            &vote,
        ) {
            assert_eq!(cast, new, "a second vote in term {term}");
        }
        self.durable.current_term = term;
        self.durable.voted_for = vote;
        self.persist.hard_state_dirty = !self.persist.immediate;
    }

    /// The recovering flag changed: it goes to disk with the hard state.
    pub(super) fn set_recovering(&mut self, recovering: bool) {
        self.durable.recovering = recovering;
        self.persist.hard_state_dirty = !self.persist.immediate;
    }

    pub(super) fn append_to_log(&mut self, entry: Entry) {
        self.durable.log.append(entry);
        let index = self.durable.log.last_index();
        self.persist.log_changed(index, index);
    }

    /// Replaces the entry at `index` and drops every later one (a conflicting
    /// suffix, §5.3).
    pub(super) fn replace_in_log(&mut self, index: u64, entry: Entry) {
        // Leader Append-Only (§5.3): only a follower's log is cut.
        assert!(
            !self.is_leader(),
            "a leader overwrote its own entry {index}"
        );
        self.note(Event::EntryOverwritten);
        self.durable.log.truncate_from(index);
        self.durable.log.append(entry);
        self.persist.log_changed(index, index);
    }

    /// The batch a message with this payload, queued now, waits for (0: none).
    pub(super) fn batch_to_wait_for(&self, payload: &Payload) -> u64 {
        if waits_for_disk(payload) {
            self.persist.batch_covering_now()
        } else {
            0
        }
    }
}
