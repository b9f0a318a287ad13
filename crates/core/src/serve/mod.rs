//! The serving layer: client operations on top of the Raft replica
//! ([`crate::raft`]). It decides where a `ryw_read` is served (here at
//! once, here after a bounded wait for apply, or by the leader), forwards
//! operations to the leader, runs them there (proposals, ReadIndex reads),
//! applies committed entries to the key-value state machine and answers
//! whoever waited for them.
//!
//! Every call it makes goes one way, to the replica it is handed; the
//! replica calls back only through [`crate::raft::Application`], which
//! `leader_changes.rs` implements.
//!
//! The files layer one way: `state.rs` and the leaves (`ops.rs`,
//! `read_queue.rs`, `ryw_decision.rs`) at the bottom; then `reply.rs`;
//! `read_index.rs`; `apply.rs`; `leading.rs`; `forward.rs`; and at the top
//! `leader_changes.rs` and `requests.rs`, which take input.

mod apply;
mod forward;
mod leader_changes;
mod leading;
mod ops;
mod read_index;
mod read_queue;
mod reply;
mod requests;
mod ryw_decision;
mod state;

pub use state::ReadsWaiting;
pub(crate) use state::Serve;

#[cfg(test)]
mod tests;
