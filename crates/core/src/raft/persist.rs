//! The replica's side of the persistence contract (see [`crate::durable`]):
//! every change to durable state goes through here, so that each is
//! counted into the next persist batch; and the batches out.

use super::state::Raft;
use crate::durable::PersistBatch;
use crate::events::Event;
use crate::id::Id;
use crate::message::Entry;

impl Raft {
    /// What to make durable next, if anything changed: see
    /// [`crate::durable`] for the contract.
    pub(crate) fn poll_persist(&mut self) -> Option<PersistBatch> {
        let batches = &mut self.batches;
        if !batches.dirty() {
            return None;
        }
        batches.batches_made += 1;
        let snapshot = std::mem::take(&mut batches.snapshot_dirty);
        let batch = PersistBatch {
            number: batches.batches_made,
            hard_state: std::mem::take(&mut batches.hard_state_dirty)
                .then(|| self.durable.hard_state()),
            entries_from: batches.entries_from.take(),
            snapshot,
            compact_to: self.compact_pending.filter(|_| snapshot),
        };
        batches
            .in_flight
            .push_back((batch.number, self.durable.log.last_index()));
        Some(batch)
    }

    /// The runtime could not write what it was asked to (`why`: a full
    /// disk, say) and will try again. Nothing waiting for it is sent
    /// meanwhile; a client request that times out is told `why`.
    pub(crate) fn persist_failed(&mut self, why: &str) {
        self.batches.failure = Some(why.to_owned());
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
        self.batches.hard_state_changed();
    }

    /// The recovering flag changed: it goes to disk with the hard state.
    pub(super) fn set_recovering(&mut self, recovering: bool) {
        self.durable.recovering = recovering;
        self.batches.hard_state_changed();
    }

    pub(super) fn append_to_log(&mut self, entry: Entry) {
        self.durable.log.append(entry);
        let index = self.durable.log.last_index();
        self.batches.log_changed(index, index);
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
        self.batches.log_changed(index, index);
    }
}
