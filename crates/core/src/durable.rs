//! State that survives a crash (Raft Figure 2, "persistent state on all servers").
//!
//! Kept as one value apart from everything volatile, so a restart is
//! `Node::restart(config, durable.clone(), now)` and nothing else. The core
//! updates it before it queues any message that depends on it, so whatever the
//! caller has sent is always covered by what it would persist.

use crate::id::Id;
use crate::log::Log;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Durable {
    pub current_term: u64,
    pub voted_for: Option<Id>,
    pub log: Log,
    /// How often this node has started; keeps its operation ids unique across restarts.
    pub starts: u64,
}
