//! Planted bugs: the store with one classic mistake, to prove the checkers
//! catch what people really write.
//!
//! Each bug is an adversarial shim around the real, unmodified core, behind
//! the same [`SimNode`] face: it intercepts some inputs and answers them
//! itself from the core's read-only state, or hides some of the core's
//! outputs. The shipped node cannot contain these bugs: no code path, flag
//! or feature in `ryw-core` or `ryw-node` leads here.
//!
//! [`catalogue`] names the bugs and what must catch them, [`shim`] plants
//! them, and [`search`] finds them in a sweep.

pub mod catalogue;
pub mod search;
pub mod shim;

pub use catalogue::Bug;
