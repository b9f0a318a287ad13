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

    /// The first index holding `term`, searching back from `from` (fast back-off hint).
    pub fn first_index_of_term(&self, term: u64, from: u64) -> u64 {
        let mut index = from.min(self.last_index());
        while index > 1 && self.term_at(index - 1) == Some(term) {
            index -= 1;
        }
        index
    }
}
