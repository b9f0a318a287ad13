//! The Raft log: entries indexed from 1; index 0 is the empty prefix with term 0.

use crate::message::Entry;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Log {
    entries: Vec<Entry>,
}

impl Log {
    pub fn last_index(&self) -> u64 {
        self.entries.len() as u64
    }

    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(0, |e| e.term)
    }

    /// Term of the entry at `index`; `Some(0)` for index 0, `None` past the end.
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == 0 {
            Some(0)
        } else {
            self.get(index).map(|e| e.term)
        }
    }

    pub fn get(&self, index: u64) -> Option<&Entry> {
        #[cfg(test)]
        crate::work::count();
        let slot = usize::try_from(index.checked_sub(1)?).ok()?;
        self.entries.get(slot)
    }

    /// Up to `count_max` entries starting at `from`, cloned for sending.
    pub fn slice(&self, from: u64, count_max: usize) -> Vec<Entry> {
        let start = (from.max(1) - 1) as usize;
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
        assert!(index >= 1, "index 0 is the empty prefix");
        self.entries.truncate((index - 1) as usize);
    }

    /// The first index holding `term` at or before `from`, where `from`
    /// holds it (fast back-off hint). Terms never decrease along the log,
    /// so a binary search finds it: a term of a million entries costs
    /// twenty lookups, not a million.
    pub fn first_index_of_term(&self, term: u64, from: u64) -> u64 {
        let end = from.min(self.last_index());
        let before = self.entries[..end as usize].partition_point(|e| e.term < term);
        (before as u64 + 1).min(end.max(1))
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
}
