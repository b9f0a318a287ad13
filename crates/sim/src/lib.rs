//! `ryw-sim`: a seeded, deterministic simulator for the read-your-writes
//! store. One master seed decides every delay, loss, fault target, client
//! choice and election timeout, so any run replays exactly.

pub mod bench;
pub mod bugs;
pub mod checkers;
pub mod diagram;
pub mod network;
pub mod report;
pub mod scenario;
pub mod shrink;
pub mod speed;
pub mod sweep;
pub mod trace;
pub mod workload;
pub mod world;

pub use report::Summary;
pub use scenario::Scenario;
pub use world::{real_node, run, RunOptions, SimNode};
