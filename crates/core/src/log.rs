//! The Raft log: entries indexed from 1; index 0 is the empty prefix with
//! term 0. Once a snapshot covers a prefix, the log drops it and starts
//! after its *base* (the last index the snapshot covers, with its term).

use crate::message::Entry;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Log {
    /// The last index a snapshot covers and the log no longer holds (0:
    /// none), with its term: the log holds `base_index + 1` onward.
    base_index: u64,
    base_term: u64,
    entries: Vec<Entry>,
}

impl Log {
    pub fn last_index(&self) -> u64 {
        self.base_index + self.entries.len() as u64
    }

    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(self.base_term, |e| e.term)
    }

    /// The first index the log holds an entry for (once compacted, the
    /// one after what a snapshot covers).
    pub fn first_index(&self) -> u64 {
        self.base_index + 1
    }

    /// The index and term of the last entry dropped for a snapshot
    /// ((0, 0): none).
    pub fn base(&self) -> (u64, u64) {
        (self.base_index, self.base_term)
    }

    /// Term of the entry at `index`; the base's term at the base (`Some(0)`
    /// for index 0), `None` before it (compacted) and past the end.
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.base_index {
            Some(self.base_term)
        } else {
            self.get(index).map(|e| e.term)
        }
    }

    /// The entry at `index`; `None` at or before the base and past the end.
    pub fn get(&self, index: u64) -> Option<&Entry> {
        #[cfg(test)]
        crate::work::count();
        let slot = usize::try_from(index.checked_sub(self.base_index + 1)?).ok()?;
        self.entries.get(slot)
    }

    /// Up to `count_max` entries starting at `from` (after the base),
    /// cloned for sending.
    pub fn slice(&self, from: u64, count_max: usize) -> Vec<Entry> {
        debug_assert!(from > self.base_index, "entry {from} was compacted");
        let start = from.saturating_sub(self.base_index + 1) as usize;
        if start >= self.entries.len() {
            return Vec::new();
        }
        let end = self.entries.len().min(start + count_max);
        self.entries[start..end].to_vec()
    }

    pub fn append(&mut self, entry: Entry) {
        debug_assert!(
            entry.term >= self.last_term(),
            "terms never decrease along the log"
        );
        self.entries.push(entry);
    }

    /// Removes the entry at `index` and everything after it.
    pub fn truncate_from(&mut self, index: u64) {
        assert!(
            index > self.base_index,
            "entry {index} is covered by a snapshot (to {}): it is committed and never cut",
            self.base_index
        );
        self.entries
            .truncate((index - self.base_index - 1) as usize);
    }

    /// Drops every entry up to `index` (a snapshot covers them); the log
    /// then starts after it. Compacting to the base or before changes
    /// nothing.
    pub fn compact_to(&mut self, index: u64) {
        if index <= self.base_index {
            return;
        }
        let term = self
            .term_at(index)
            .expect("only entries the log holds are compacted");
        let dropped = (index - self.base_index) as usize;
        self.entries.drain(..dropped);
        self.base_index = index;
        self.base_term = term;
    }

    /// Empties the log and starts it after (`index`, `term`): a snapshot
    /// this log does not match replaced everything.
    pub fn reset_to(&mut self, index: u64, term: u64) {
        self.entries.clear();
        self.base_index = index;
        self.base_term = term;
    }

    /// The first index holding `term` at or before `from`, where `from`
    /// holds it (fast back-off hint), never before the log's first index.
    /// Terms never decrease along the log, so a binary search finds it: a
    /// term of a million entries costs twenty lookups, not a million.
    pub fn first_index_of_term(&self, term: u64, from: u64) -> u64 {
        let end = from.min(self.last_index()).saturating_sub(self.base_index);
        let before = self.entries[..end as usize].partition_point(|e| e.term < term);
        self.base_index + (before as u64 + 1).min(end.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Command;

    fn log_of_terms(terms: &[u64]) -> Log {
        let mut log = Log::default();
        for &term in terms {
            log.append(Entry {
                term,
                command: Command::Noop,
                request: None,
            });
        }
        log
    }

    #[test]
    fn the_first_index_of_a_term_is_found_from_any_index_holding_it() {
        let log = log_of_terms(&[1, 1, 2, 2, 2, 4, 5, 5]);
        for (from, term, first) in [
            (1, 1, 1),
            (2, 1, 1),
            (5, 2, 3),
            (3, 2, 3),
            (6, 4, 6),
            (8, 5, 7),
        ] {
            assert_eq!(
                log.first_index_of_term(term, from),
                first,
                "term {term} from {from}"
            );
        }
        assert_eq!(log.first_index_of_term(5, 100), 7, "from past the end");
        assert_eq!(Log::default().first_index_of_term(1, 3), 1);
    }

    #[test]
    fn a_compacted_log_keeps_its_indexes_and_answers_for_its_base() {
        let mut log = log_of_terms(&[1, 1, 2, 2, 3]);
        log.compact_to(3);
        assert_eq!((log.first_index(), log.last_index()), (4, 5));
        assert_eq!(log.base(), (3, 2));
        assert_eq!(log.term_at(3), Some(2), "the base answers with its term");
        assert_eq!(log.term_at(2), None, "before the base is gone");
        assert!(log.get(3).is_none() && log.get(4).is_some());
        assert_eq!(log.slice(4, 10).len(), 2);
        assert_eq!(log.first_index_of_term(2, 5), 4, "never before the log");
        assert_eq!(log.first_index_of_term(3, 5), 5);
        log.compact_to(2);
        assert_eq!(log.base(), (3, 2), "compacting backwards changes nothing");
        log.truncate_from(5);
        assert_eq!((log.last_index(), log.last_term()), (4, 2));
        log.compact_to(4);
        assert_eq!(
            (log.last_index(), log.last_term()),
            (4, 2),
            "empty, after its base"
        );
        log.reset_to(9, 4);
        assert_eq!(
            (log.first_index(), log.last_index(), log.last_term()),
            (10, 9, 4)
        );
    }

    #[test]
    #[should_panic(expected = "covered by a snapshot")]
    fn a_compacted_entry_is_never_cut() {
        let mut log = log_of_terms(&[1, 1, 2]);
        log.compact_to(2);
        log.truncate_from(2);
    }
}
