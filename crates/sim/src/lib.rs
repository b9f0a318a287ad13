//! `ryw-sim`: the read-your-writes store under the `sim-engine`
//! deterministic simulator. One master seed decides every delay, loss,
//! fault target, client choice and election timeout, so any run replays
//! exactly.
//!
//! The engine knows no protocol; this crate is the store's side: its nodes
//! ([`node`]), its clients and checkers ([`harness`], [`checkers`]), its
//! scenario files ([`scenario`]), planted bugs ([`bugs`]), shrinking,
//! benchmarks and the command line.

pub mod abstract_state;
pub mod bench;
pub mod bugs;
pub mod checkers;
pub mod clients;
pub mod coverage;
pub mod diagram;
pub mod explore;
pub mod harness;
pub mod history;
pub mod maelstrom;
pub mod node;
pub mod report;
pub mod run;
pub mod scenario;
pub mod shrink;
pub mod speed;
pub mod sweep;
pub mod violation;
pub mod workload;

pub use node::{real_node, NodeFactory, SimNode};
pub use report::Summary;
pub use run::{run, RunOptions};
pub use scenario::Scenario;
/// The protocol-free engine the store runs on.
pub use sim_engine as engine;
