//! What clients store: keys and values. Its own module so that messages
//! and the state machine both use it without using each other.

use std::fmt;

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
