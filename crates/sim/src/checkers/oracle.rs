//! The committed log as the run has seen it: every entry as first seen
//! committed on any node, and which committed write produced each value.
//! Checkers compare against it; it judges nothing itself.

use std::collections::{BTreeMap, BTreeSet};

use ryw_core::{Command, Entry, Key, Node, RequestId, Value};

#[derive(Default)]
pub struct CommittedLog {
    /// Entry `i` of the log at position `i - 1`.
    pub committed: Vec<Entry>,
    /// Value -> log index and key of the committed write that produced it
    /// (workloads write unique values).
    value_index: BTreeMap<ValueKey, (u64, Key)>,
    /// Forwarded requests already committed: a later copy takes no effect.
    requests: BTreeSet<RequestId>,
    /// Against a black box: values some client wrote whose index nobody
    /// acknowledged (yet).
    written_unindexed: BTreeSet<ValueKey>,
}

/// A value as checkers compare it: by its JSON text (workloads write unique
/// values), with integers, what the workloads write, kept as numbers so
/// that comparing them allocates nothing. Two values get equal keys exactly
/// when their JSON texts are equal.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ValueKey {
    Int(i64),
    Text(String),
}

pub fn value_key(value: &Value) -> ValueKey {
    match value.as_i64() {
        Some(n) => ValueKey::Int(n),
        None => ValueKey::Text(value.to_string()),
    }
}

/// What a read's value says about which write it saw.
pub enum ReadFrom<'a> {
    /// No value: before any write of the key.
    Nothing,
    /// The committed write at this index.
    Write(u64),
    /// A committed write at this index, but to another key.
    OtherKey(u64, &'a Key),
    /// A write a client sent produced the value, but no acknowledgement
    /// named its index (only against a black box, whose log nobody sees).
    Unindexed,
    /// No committed write produced the value.
    Unknown,
}

impl ReadFrom<'_> {
    /// The log index the read saw (0 for none).
    pub fn index(&self) -> u64 {
        match self {
            ReadFrom::Write(i) | ReadFrom::OtherKey(i, _) => *i,
            ReadFrom::Nothing | ReadFrom::Unindexed | ReadFrom::Unknown => 0,
        }
    }
}

impl CommittedLog {
    /// Learns the entries `node` has committed beyond what is known.
    pub fn observe(&mut self, node: &Node) {
        let commit = node.commit_index();
        while (self.committed.len() as u64) < commit {
            let i = self.committed.len() as u64 + 1;
            let Some(entry) = node.log().get(i) else {
                // Beyond the log: the log checker reports it. Before it: a
                // snapshot covers it here, and another node's log tells.
                return;
            };
            self.committed.push(entry.clone());
            let duplicate = entry
                .request
                .as_ref()
                .is_some_and(|r| !self.requests.insert(r.clone()));
            if duplicate {
                continue;
            }
            let written = match &entry.command {
                Command::Write { key, value } => Some((key, value)),
                Command::Cas { key, to, .. } => Some((key, to)),
                Command::Noop => None,
            };
            if let Some((key, value)) = written {
                self.value_index.insert(value_key(value), (i, key.clone()));
            }
        }
    }

    /// Against a black box: a client sent a write of `value` (its index is
    /// known only once acknowledged).
    pub fn learn_written(&mut self, value: &Value) {
        self.written_unindexed.insert(value_key(value));
    }

    /// Against a black box: a client's write of `value` to `key` was
    /// acknowledged at `index`.
    pub fn learn_acknowledged(&mut self, index: u64, key: &Key, value: &Value) {
        let value = value_key(value);
        self.written_unindexed.remove(&value);
        self.value_index.insert(value, (index, key.clone()));
    }

    /// Which committed write a read of `key` that returned `value` saw.
    pub fn read_from(&self, key: &Key, value: &Value) -> ReadFrom<'_> {
        if value.is_null() {
            return ReadFrom::Nothing;
        }
        match self.value_index.get(&value_key(value)) {
            Some((index, written)) if written == key => ReadFrom::Write(*index),
            Some((index, written)) => ReadFrom::OtherKey(*index, written),
            None if self.written_unindexed.is_empty() => ReadFrom::Unknown,
            None if self.written_unindexed.contains(&value_key(value)) => ReadFrom::Unindexed,
            None => ReadFrom::Unknown,
        }
    }

    /// The committed entry at `index`, if any.
    pub fn entry(&self, index: u64) -> Option<&Entry> {
        self.committed.get((index as usize).checked_sub(1)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_is_matched_to_the_write_of_its_value_on_its_key_or_on_another() {
        let mut log = CommittedLog::default();
        let (one, two) = (Key::Int(1), Key::Int(2));
        log.learn_acknowledged(3, &one, &Value::from(30));
        assert!(matches!(
            log.read_from(&one, &Value::NULL),
            ReadFrom::Nothing
        ));
        assert!(matches!(
            log.read_from(&one, &Value::from(30)),
            ReadFrom::Write(3)
        ));
        assert!(matches!(
            log.read_from(&two, &Value::from(30)),
            ReadFrom::OtherKey(3, key) if *key == one
        ));
        assert!(matches!(
            log.read_from(&one, &Value::from(31)),
            ReadFrom::Unknown
        ));
    }

    #[test]
    fn against_a_black_box_only_a_value_sent_and_not_yet_acknowledged_is_unindexed() {
        let mut log = CommittedLog::default();
        let key = Key::Int(1);
        log.learn_written(&Value::from(40));
        assert!(matches!(
            log.read_from(&key, &Value::from(40)),
            ReadFrom::Unindexed
        ));
        // A value nobody sent is still unknown, whatever else is in flight.
        assert!(matches!(
            log.read_from(&key, &Value::from(41)),
            ReadFrom::Unknown
        ));
        log.learn_acknowledged(5, &key, &Value::from(40));
        assert!(matches!(
            log.read_from(&key, &Value::from(40)),
            ReadFrom::Write(5)
        ));
        assert!(log.written_unindexed.is_empty());
    }
}
