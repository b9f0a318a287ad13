//! The Raft replica: term and vote, role and leader, the commit index,
//! elections (with pre-vote and check-quorum), replication with its window,
//! commit news, snapshots and compaction, the persistence contract, and
//! recovery after lost state.
//!
//! It knows nothing of clients. Its face, for the serving layer above it
//! ([`crate::serve`]) and the node's glue ([`crate::node`]):
//!
//! - propose a command and get its (index, term): [`Raft::propose`];
//! - the commit index, the log, whether this node leads and who does;
//! - a leadership round for ReadIndex: [`Raft::leadership`],
//!   [`Raft::start_round`], [`Raft::round_confirmed`];
//! - asking for commit news: [`Raft::want_commit`];
//! - committed entries out: [`Raft::commit_index`] with [`Raft::log`];
//! - leader changes out: [`Raft::take_leader_changed`], and the
//!   [`Application`] callbacks at the moments the serving layer must act
//!   within the same step.
//!
//! Every message the node sends goes out through the replica's outbox,
//! because only the replica knows which persist batch a message must wait
//! for.
//!
//! The files layer one way: `state.rs` (the struct and its small helpers)
//! and the leaves (`members.rs`, `progress.rs`, `batches.rs`,
//! `recovery_answers.rs`) at the bottom; then `persist.rs` and
//! `commit_news.rs`; `snapshots.rs`; `leader_sends.rs` (what a leader sends, the commit
//! rule); `roles.rs` (role changes); `election.rs` and `replication.rs`
//! (the messages of each); `recovery.rs`; and `step.rs`, which takes input.

mod batches;
mod commit_news;
mod election;
mod leader_sends;
mod members;
mod persist;
mod progress;
mod recovery;
mod recovery_answers;
mod replication;
mod roles;
mod snapshots;
mod state;
mod step;

pub(crate) use state::{Application, Leadership};
pub use state::{Raft, RoleKind};

#[cfg(test)]
mod cluster_tests;
#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod paper_tests;
#[cfg(test)]
mod persist_tests;
#[cfg(test)]
mod recovery_tests;
#[cfg(test)]
mod snapshot_tests;
