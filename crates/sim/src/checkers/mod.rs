//! Checkers, one module per property, all behind one interface: the store's
//! harness holds them in a list and calls each on every node step, every
//! client reply and at the end. Adding a property is one new file here and
//! one line in [`standard`].
//!
//! Each reports violations with the simulated time, the session and the
//! operations involved; the run adds the seed and the replay command.

mod checker;
pub mod efficiency;
#[cfg(test)]
mod fixtures;
pub mod lin_ops;
pub mod linearizability;
pub mod liveness;
pub mod oracle;
pub mod protocol;
pub mod raft;
pub mod read_mapping;
pub mod ryw;
pub mod served_state;
pub mod votes;

pub use checker::{Checker, Finish, Reply, Step, Verdict};
pub use sim_engine::diagram::Highlight;

use crate::scenario::Scenario;
pub use crate::violation::{Property, Violation};

/// The store's checkers, in the order their findings are listed.
pub fn standard(scenario: &Scenario) -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(raft::LogSafety::new(scenario.nodes)),
        Box::new(ryw::SessionGuarantees::new(scenario.workload.monotonic)),
        Box::new(votes::OneVotePerTerm::default()),
        Box::new(served_state::ServedState::default()),
        Box::new(protocol::ReplyKinds::default()),
        Box::new(liveness::Liveness::for_scenario(scenario)),
        Box::new(linearizability::History::default()),
        Box::new(efficiency::Efficiency::new(scenario.expect.clone())),
    ]
}
