//! The replicated state machine: a map from keys to values, each value
//! remembering the log index of the write that produced it.

use std::collections::BTreeMap;
use std::fmt;

use crate::id::Id;
use crate::message::{Command, Entry};

/// Values are arbitrary JSON, as in Maelstrom's lin-kv workload.
pub type Value = serde_json::Value;

/// Keys are JSON strings or integers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Int(i64),
    Str(String),
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(k) => write!(f, "{k}"),
            Key::Str(k) => write!(f, "{k:?}"),
        }
    }
}

/// A stored value and the log index of the entry that wrote it.
#[derive(Clone, Debug, PartialEq)]
pub struct Versioned {
    pub value: Value,
    pub index: u64,
}

/// Forwarded request ids remembered per origin, to drop duplicates. A
/// duplicate arriving after this many newer requests from the same origin
/// would apply again; the simulator's delays stay far below that.
pub const REQUEST_IDS_PER_ORIGIN_MAX: usize = 4096;

/// What applying one committed entry did.
#[derive(Clone, Debug, PartialEq)]
pub enum Applied {
    Noop,
    /// A forwarded request applied before: this copy changes nothing.
    Duplicate,
    Written,
    /// A cas whose precondition failed; the entry still occupies its index.
    CasRefused {
        key_missing: bool,
    },
}

/// The key-value state machine with its applied index.
#[derive(Clone, Debug, Default)]
pub struct Kv {
    map: BTreeMap<Key, Versioned>,
    applied_index: u64,
    applied_requests: BTreeMap<Id, std::collections::BTreeSet<u64>>,
}

impl Kv {
    pub fn get(&self, key: &Key) -> Option<&Versioned> {
        self.map.get(key)
    }

    /// Index of the last entry applied: the state reflects exactly entries `1..=applied_index`.
    pub fn applied_index(&self) -> u64 {
        self.applied_index
    }

    /// Applies the entry at `index`. Entries must arrive strictly in order.
    pub fn apply(&mut self, index: u64, entry: &Entry) -> Applied {
        assert_eq!(
            index,
            self.applied_index + 1,
            "entries are applied strictly in log order"
        );
        self.applied_index = index;
        if let Some(request) = &entry.request {
            let seen = self
                .applied_requests
                .entry(request.origin.clone())
                .or_default();
            if !seen.insert(request.id) {
                return Applied::Duplicate;
            }
            if seen.len() > REQUEST_IDS_PER_ORIGIN_MAX {
                seen.pop_first();
            }
        }
        match &entry.command {
            Command::Noop => Applied::Noop,
            Command::Write { key, value } => {
                let value = value.clone();
                self.map.insert(key.clone(), Versioned { value, index });
                Applied::Written
            }
            Command::Cas {
                key,
                from,
                to,
                create_if_not_exists,
            } => match self.map.get_mut(key) {
                Some(current) if current.value == *from => {
                    *current = Versioned {
                        value: to.clone(),
                        index,
                    };
                    Applied::Written
                }
                Some(_) => Applied::CasRefused { key_missing: false },
                None if *create_if_not_exists => {
                    let value = to.clone();
                    self.map.insert(key.clone(), Versioned { value, index });
                    Applied::Written
                }
                None => Applied::CasRefused { key_missing: true },
            },
        }
    }

    /// Every key in order, for checkers and debugging.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Versioned)> {
        self.map.iter()
    }
}
